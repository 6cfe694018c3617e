"""Magenta's TensorFlow v1 checkpoints (tensor bundles), read without TensorFlow: pure I/O to ``{name:
array}``.

``bundle`` (files, tars, the reader), ``sstable`` (the ``.index`` file), ``wire`` (varints, protobuf fields),
``snappy`` and ``crc`` (crc32c: the two codecs the format needs).
"""

from __future__ import annotations

from musicneurons.model.tf.bundle import CheckpointBundle, open_checkpoint, read_checkpoint
from musicneurons.model.tf.crc import crc32c, mask_crc, unmask_crc
from musicneurons.model.tf.snappy import snappy_decompress
from musicneurons.model.tf.sstable import TensorEntry, parse_index
from musicneurons.model.tf.wire import CheckpointFormatError

__all__ = [
    "CheckpointBundle",
    "CheckpointFormatError",
    "TensorEntry",
    "crc32c",
    "mask_crc",
    "open_checkpoint",
    "parse_index",
    "read_checkpoint",
    "snappy_decompress",
    "unmask_crc",
]

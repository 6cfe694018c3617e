"""A bundle's ``.index`` file: a LevelDB-style SSTable (footer, index block, data blocks, each optionally
Snappy-compressed and followed by a masked crc32c) whose entries map tensor names to ``BundleEntryProto``
records (dtype, shape, shard, offset, size, masked crc32c of the bytes). Sources read:
tensorflow/core/util/tensor_bundle/tensor_bundle.proto and core/lib/io/{format,block,table_builder}.cc (facts
only, see shared/docs/magenta_facts.md section 10).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from musicneurons.model.tf import snappy
from musicneurons.model.tf.crc import crc32c, unmask_crc
from musicneurons.model.tf.wire import CheckpointFormatError, proto_fields, signed64, varint

# TF DataType enum -> NumPy dtype (tensorflow/core/framework/types.proto); strings are not supported
_DTYPES: dict[int, np.dtype[Any]] = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    17: np.dtype("<u2"),
    19: np.dtype("<f2"),
    22: np.dtype("<u4"),
    23: np.dtype("<u8"),
}


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives (a ``BundleEntryProto``)."""

    name: str
    dtype: np.dtype | None  # None for types NumPy cannot hold (strings, bfloat16, ...)
    tf_dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    masked_crc32c: int | None
    sliced: bool = False


def _parse_entry(name: str, buf: bytes) -> TensorEntry:
    fields: dict[str, Any] = {"tf_dtype": 0, "shape": (), "shard_id": 0, "offset": 0, "size": 0, "crc": None}
    sliced = False
    for field, _, value in proto_fields(buf):
        if field == 1:
            fields["tf_dtype"] = value
        elif field == 2:
            dims = []
            for f2, _, v2 in proto_fields(value):
                if f2 == 2:  # Dim {size = 1}
                    dims.append(next((signed64(v3) for f3, _, v3 in proto_fields(v2) if f3 == 1), 0))
                elif f2 == 3 and v2:
                    msg = f"tensor {name!r} has unknown rank"
                    raise CheckpointFormatError(msg)
            fields["shape"] = tuple(dims)
        elif field == 3:
            fields["shard_id"] = value
        elif field == 4:
            fields["offset"] = signed64(value)
        elif field == 5:
            fields["size"] = signed64(value)
        elif field == 6:
            fields["crc"] = value
        elif field == 7:
            sliced = True
    return TensorEntry(
        name=name,
        dtype=_DTYPES.get(fields["tf_dtype"]),
        tf_dtype=fields["tf_dtype"],
        shape=fields["shape"],
        shard_id=fields["shard_id"],
        offset=fields["offset"],
        size=fields["size"],
        masked_crc32c=fields["crc"],
        sliced=sliced,
    )


_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER = 5  # compression type byte + masked crc32c


def _read_block(index: bytes, offset: int, size: int, where: str) -> bytes:
    """Block contents at a BlockHandle, crc-checked and decompressed."""
    end = offset + size + _BLOCK_TRAILER
    if offset < 0 or end > len(index):
        msg = f"{where}: block [{offset}, {end}) lies outside the {len(index)}-byte index file"
        raise CheckpointFormatError(msg)
    raw = index[offset : offset + size]
    kind = index[offset + size]
    (stored,) = struct.unpack_from("<I", index, offset + size + 1)
    actual = crc32c(index[offset : offset + size + 1])
    if unmask_crc(stored) != actual:
        msg = f"{where}: crc32c mismatch in the index block at offset {offset} (stored "
        msg += f"{unmask_crc(stored):#010x}, computed {actual:#010x}): the .index file is corrupt"
        raise CheckpointFormatError(msg)
    if kind == 0:
        return raw
    if kind == 1:
        return snappy.snappy_decompress(raw)
    msg = f"{where}: index block at offset {offset} uses unknown compression type {kind}"
    raise CheckpointFormatError(msg)


def _block_entries(block: bytes, where: str) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs of one block; keys are stored as a shared prefix length plus a suffix."""
    if len(block) < 4:
        msg = f"{where}: index block of {len(block)} bytes is too short"
        raise CheckpointFormatError(msg)
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        msg = f"{where}: index block claims {n_restarts} restart points in {len(block)} bytes"
        raise CheckpointFormatError(msg)
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        value_len, pos = varint(block, pos)
        if shared > len(key) or pos + unshared + value_len > limit:
            msg = f"{where}: malformed index entry at byte {pos}"
            raise CheckpointFormatError(msg)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_len]
        pos += value_len


def parse_index(index: bytes, where: str = "index") -> tuple[dict[str, int], dict[str, TensorEntry]]:
    """Parse a bundle ``.index`` file: (header {num_shards, endianness}, {tensor name: TensorEntry})."""
    if len(index) < _FOOTER_SIZE:
        msg = f"{where}: {len(index)} bytes is too short for an SSTable (footer is {_FOOTER_SIZE} bytes)"
        raise CheckpointFormatError(msg)
    footer = index[-_FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, 40)
    if magic != _TABLE_MAGIC:
        msg = f"{where}: bad SSTable magic {magic:#018x} (expected {_TABLE_MAGIC:#018x}): not a TF v1 "
        msg += "checkpoint index"
        raise CheckpointFormatError(msg)
    pos = 0
    _meta_offset, pos = varint(footer, pos)
    _meta_size, pos = varint(footer, pos)
    index_offset, pos = varint(footer, pos)
    index_size, pos = varint(footer, pos)
    header = {"num_shards": 1, "endianness": 0}
    entries: dict[str, TensorEntry] = {}
    top = _read_block(index, index_offset, index_size, where)
    for _, handle in _block_entries(top, where):
        offset, p = varint(handle, 0)
        size, _ = varint(handle, p)
        for key, value in _block_entries(_read_block(index, offset, size, where), where):
            if key == b"":  # BundleHeaderProto
                for field, _, v in proto_fields(value):
                    if field == 1:
                        header["num_shards"] = v
                    elif field == 2:
                        header["endianness"] = v
                continue
            name = key.decode("utf-8")
            entries[name] = _parse_entry(name, value)
    if header["endianness"] != 0:
        msg = f"{where}: big-endian bundles are not supported"
        raise CheckpointFormatError(msg)
    return header, entries

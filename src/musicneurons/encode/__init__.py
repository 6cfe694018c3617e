"""Corpus-scale encoding: window tables -> a folder of latents (``part-*.parquet`` + ``encode.json``).

``encode_corpus`` (local backend: one process, or one worker per GPU) is the reference; ``encode_corpus_ray``
runs the same job on a Ray cluster (optional extra ``musicneurons[ray]``, imported only when used).
``read_latents`` reads a latents folder back. Both backends stream, shard (``--shard K/N``) and resume.

Imports ``model``, ``data`` and the top-level leaves; nothing above. No torch here: the model does the math.
"""

from __future__ import annotations

from musicneurons.encode.latents import latents_schema, read_latents
from musicneurons.encode.local import EncodeSummary, encode_corpus, parse_devices
from musicneurons.encode.plan import parse_shard

__all__ = [
    "EncodeSummary",
    "encode_corpus",
    "encode_corpus_ray",
    "latents_schema",
    "parse_devices",
    "parse_shard",
    "read_latents",
]


def encode_corpus_ray(*args, **kwargs):
    """:func:`musicneurons.encode.ray_backend.encode_corpus_ray`, imported on first use (needs Ray)."""
    from musicneurons.encode.ray_backend import encode_corpus_ray as run

    return run(*args, **kwargs)

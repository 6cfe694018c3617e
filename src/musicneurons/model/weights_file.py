"""``weights.safetensors`` read defensively: the header is checked before anything is allocated, the tensors
are memory-mapped (no copy, pages read on first touch), and each tensor carries a SHA-256 checked at load.

The safetensors layout: 8 bytes little-endian header length N, N bytes of JSON ``{name: {"dtype", "shape",
"data_offsets": [begin, end]}, "__metadata__": {str: str}}``, then the data; offsets count from the end of the
header. Files are written with ``safetensors.torch.save_file``; reading is done here so that every problem
becomes a :class:`WeightsFileError` naming the file and the tensor.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from musicneurons.errors import UserError

MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit
CHECKSUM_KEY = "sha256"  # metadata key: JSON {tensor name: hex SHA-256 of its bytes}
DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}


class WeightsFileError(UserError):
    """``weights.safetensors`` is unreadable, truncated, inconsistent or fails its checksum."""


@dataclass(frozen=True)
class TensorSpec:
    """Where one tensor lies in the file (offsets from the start of the file)."""

    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class WeightsHeader:
    """The checked header: tensors by name and the string metadata."""

    path: Path
    tensors: dict[str, TensorSpec]
    metadata: dict[str, str]


def _fail(path: Path, what: str) -> WeightsFileError:
    return WeightsFileError(f"{path}: {what}")


def _spec(path: Path, name: str, entry: Any, data_start: int, file_size: int) -> TensorSpec:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise _fail(path, f"tensor {name!r}: header entry needs dtype, shape and data_offsets, got {entry!r}")
    dtype = DTYPES.get(entry["dtype"])
    if dtype is None:
        raise _fail(path, f"tensor {name!r}: dtype {entry['dtype']!r} is not one of {', '.join(DTYPES)}")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _fail(path, f"tensor {name!r}: shape {shape!r} is not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise _fail(path, f"tensor {name!r}: data_offsets {offsets!r} is not [begin, end]")
    begin, end = data_start + offsets[0], data_start + offsets[1]
    if not data_start <= begin <= end <= file_size:
        raise _fail(
            path,
            f"tensor {name!r}: bytes [{begin}, {end}) lie outside the file ({file_size} bytes): truncated?",
        )
    itemsize = torch.empty((), dtype=dtype).element_size()
    if math.prod(shape) * itemsize != end - begin:
        msg = f"tensor {name!r}: shape {tuple(shape)} x {entry['dtype']} needs {math.prod(shape) * itemsize} "
        raise _fail(path, msg + f"bytes, the header gives {end - begin}")
    return TensorSpec(name, dtype, tuple(shape), begin, end)


def read_header(path: str | Path) -> WeightsHeader:
    """Parse and check the header of a safetensors file; reads only the header bytes."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            file_size = f.seek(0, 2)
            f.seek(0)
            head = f.read(8)
            if len(head) < 8:
                raise _fail(path, f"{file_size} bytes is too short for a safetensors file")
            (n,) = struct.unpack("<Q", head)
            if n > min(MAX_HEADER_BYTES, file_size - 8):
                raise _fail(
                    path, f"header length {n} exceeds the file ({file_size} bytes): not a safetensors file"
                )
            raw = f.read(n)
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"the header is not valid JSON ({exc}): not a safetensors file or corrupt") from exc
    if not isinstance(doc, dict):
        raise _fail(path, "the header is not a JSON object")
    metadata = doc.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _fail(path, "__metadata__ must map strings to strings")
    tensors = {name: _spec(path, name, entry, 8 + n, file_size) for name, entry in doc.items()}
    return WeightsHeader(path, tensors, metadata)


def map_tensors(header: WeightsHeader) -> dict[str, torch.Tensor]:
    """Every tensor as a CPU tensor over a private memory map of the file (copy-on-write: writing to a tensor,
    e.g. training it, never changes the file). Nothing is read until used."""
    with open(header.path, "rb") as f:
        size = f.seek(0, 2)
        if size == 0 or not header.tensors:
            return {}
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    out = {}
    for name, spec in header.tensors.items():
        itemsize = torch.empty((), dtype=spec.dtype).element_size()
        count = (spec.end - spec.begin) // itemsize
        if count == 0:
            out[name] = torch.empty(spec.shape, dtype=spec.dtype)
            continue
        flat = torch.frombuffer(mapped, dtype=spec.dtype, count=count, offset=spec.begin)
        out[name] = flat.view(spec.shape)
    return out


def tensor_digest(tensor: torch.Tensor) -> str:
    """Hex SHA-256 of a CPU tensor's bytes (C order)."""
    t = tensor.detach().contiguous()
    if t.numel() == 0:
        return hashlib.sha256(b"").hexdigest()
    return hashlib.sha256(t.view(-1).view(torch.uint8).numpy().data).hexdigest()


def checksum_metadata(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """The metadata entry recording every tensor's SHA-256 (written beside the tensors at save time)."""
    return {CHECKSUM_KEY: json.dumps({name: tensor_digest(t) for name, t in sorted(tensors.items())})}


def stored_digests(header: WeightsHeader) -> dict[str, str] | None:
    """The SHA-256 per tensor recorded at save time, or None for files written without them."""
    text = header.metadata.get(CHECKSUM_KEY)
    if text is None:
        return None
    try:
        digests = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(header.path, f"the {CHECKSUM_KEY} metadata is not valid JSON ({exc})") from exc
    if not isinstance(digests, dict) or set(digests) != set(header.tensors):
        raise _fail(header.path, f"the {CHECKSUM_KEY} metadata does not list exactly the file's tensors")
    return {str(k): str(v) for k, v in digests.items()}


def verify(header: WeightsHeader, tensors: dict[str, torch.Tensor], digests: dict[str, str]) -> None:
    """Raise :class:`WeightsFileError` naming the first tensor whose bytes differ from the stored SHA-256."""
    for name in sorted(tensors):
        actual = tensor_digest(tensors[name])
        if actual != digests[name]:
            msg = f"tensor {name!r} fails its SHA-256 check (stored {digests[name][:16]}..., computed "
            raise _fail(header.path, msg + f"{actual[:16]}...): the file is corrupt")

"""The two wire formats a TF bundle index is made of: base-128 varints and protobuf fields (no schema needed),
and the error every part of the reader raises."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from musicneurons.errors import UserError


class CheckpointFormatError(UserError):
    """The checkpoint is corrupt, truncated or not a TF v1 tensor bundle (the message names file and
    tensor)."""


def varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns (value, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            msg = "varint runs past the end of its buffer"
            raise CheckpointFormatError(msg)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            msg = "varint longer than 10 bytes"
            raise CheckpointFormatError(msg)


def proto_fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """Yield (field number, wire type, value) of a serialized protobuf message (no schema needed)."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = varint(buf, pos)
        field, wire = key >> 3, key & 7
        value: int | bytes | memoryview
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value = buf[pos : pos + length]
            pos += length
        elif wire == 5:
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            msg = f"unsupported protobuf wire type {wire} (field {field})"
            raise CheckpointFormatError(msg)
        if pos > n:
            msg = f"protobuf field {field} runs past the end of its message"
            raise CheckpointFormatError(msg)
        yield field, wire, value


def signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v

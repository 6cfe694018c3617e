"""Raw Snappy (no framing), the compression TF may use for the blocks of a bundle's ``.index`` file.

A pure-Python decoder: the index blocks are small (kilobytes), the tensor data is never compressed.
"""

from __future__ import annotations

from musicneurons.model.tf.wire import CheckpointFormatError, varint


def snappy_decompress(data: bytes | memoryview) -> bytes:
    """Decode one raw Snappy block (no framing): a varint length, then literal and copy elements."""
    data = bytes(data)
    expected, pos = varint(data, 0)
    out = bytearray()
    n = len(data)
    while pos < n:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal; lengths above 60 follow the tag in 1-4 little-endian bytes
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                length = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            length += 1
            if pos + length > n:
                msg = f"snappy literal of {length} bytes runs past the end of the block"
                raise CheckpointFormatError(msg)
            out += data[pos : pos + length]
            pos += length
            continue
        if kind == 1:  # copy, 1-byte offset: 3 bits of length (4..11), 11 bits of offset
            length = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:  # copy, 2-byte offset
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 2], "little")
            pos += 2
        else:  # copy, 4-byte offset
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            msg = f"snappy copy offset {offset} outside the {len(out)} bytes decoded so far"
            raise CheckpointFormatError(msg)
        start = len(out) - offset
        if offset >= length:
            out += out[start : start + length]
        else:  # overlapping copy repeats the last `offset` bytes
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]
    if len(out) != expected:
        msg = f"snappy block decodes to {len(out)} bytes, header says {expected}"
        raise CheckpointFormatError(msg)
    return bytes(out)

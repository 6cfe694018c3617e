"""Read TensorFlow v1 checkpoints (tensor bundles) without TensorFlow: ``{name: numpy array}``.

A checkpoint prefix P is ``P.index`` plus ``P.data-SSSSS-of-NNNNN`` shards. The index is a LevelDB-style
SSTable (footer, index block, data blocks, each block optionally Snappy-compressed and followed by a masked
crc32c) whose entries map tensor names to ``BundleEntryProto`` records (dtype, shape, shard, offset, size,
masked crc32c of the bytes); the shards are the raw little-endian tensor bytes. Sources read:
tensorflow/core/util/tensor_bundle/tensor_bundle.{proto,cc} and core/lib/io/{format,block,table_builder}.cc
(facts only, see shared/docs/magenta_facts.md section 10).

Accepted inputs: a ``.tar`` as Magenta releases them (read in place through a memory map, nothing extracted),
a directory holding one checkpoint (or a ``checkpoint`` state file naming it), or a prefix. Every block and
every tensor read is checked against its crc32c; errors name the file and the tensor.

This module is pure I/O plus the two small codecs the format needs (crc32c, raw Snappy), in NumPy/Python.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import mmap
import re
import struct
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class CheckpointFormatError(ValueError):
    """The checkpoint is corrupt, truncated or not a TF v1 tensor bundle (the message names file and tensor)."""


# --------------------------------------------------------------------------- crc32c (Castagnoli)

_POLY = 0x82F63B78  # reflected Castagnoli polynomial
_MASK_DELTA = 0xA282EAD8


def _make_tables() -> np.ndarray:
    """Slicing-by-4 tables: row k advances a byte's contribution through k further zero bytes."""
    tables = np.zeros((4, 256), dtype=np.uint32)
    for b in range(256):
        crc = b
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLY if crc & 1 else 0)
        tables[0, b] = crc
    for k in range(1, 4):
        prev = tables[k - 1]
        tables[k] = (prev >> 8) ^ tables[0][prev & 0xFF]
    return tables


_TABLES = _make_tables()
_PAIR = np.arange(65536, dtype=np.uint32)
_T_LO = _TABLES[3][_PAIR & 0xFF] ^ _TABLES[2][_PAIR >> 8]  # low half-word of a 4-byte step, by 16-bit value
_T_HI = _TABLES[1][_PAIR & 0xFF] ^ _TABLES[0][_PAIR >> 8]  # high half-word
_T0 = [int(v) for v in _TABLES[0]]  # plain ints: the byte-at-a-time loop is faster on them


_BYTE_BITS = (
    (np.arange(256, dtype=np.uint32)[None, :] >> np.arange(8, dtype=np.uint32)[:, None]) & 1
).astype(bool)


def _tables_from_columns(cols: np.ndarray) -> np.ndarray:
    """Lookup tables (4, 256) of the GF(2)-linear map whose images of the 32 basis bits are ``cols``."""
    # entry [k, v] = XOR of cols[8k + j] over the bits j set in byte value v
    terms = np.where(_BYTE_BITS[None], cols.reshape(4, 8, 1), np.uint32(0))  # (4, 8, 256)
    return np.bitwise_xor.reduce(terms, axis=1)


def _apply_tables(tables: np.ndarray, reg: np.ndarray) -> np.ndarray:
    return (
        tables[0][reg & 0xFF]
        ^ tables[1][(reg >> 8) & 0xFF]
        ^ tables[2][(reg >> 16) & 0xFF]
        ^ tables[3][reg >> 24]
    )


@functools.lru_cache(maxsize=256)
def _zeros_operator(n_bytes: int) -> np.ndarray:
    """The linear map 'feed n_bytes zero bytes' on a raw CRC register, as lookup tables (4, 256).

    Built by repeated squaring of the one-zero-byte map, each map held as the images of the 32 basis bits.
    """
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
    power = (basis >> 8) ^ _TABLES[0][basis & 0xFF]  # one zero byte
    result = basis.copy()  # identity
    n = n_bytes
    while n:
        power_tables = _tables_from_columns(power)
        if n & 1:
            result = _apply_tables(power_tables, result)
        n >>= 1
        if n:
            power = _apply_tables(power_tables, power)
    return _tables_from_columns(result)


def _raw_crc_small(data: np.ndarray, reg: int = 0) -> int:
    """Byte-at-a-time raw CRC register update (no init/final inversion); for short inputs."""
    for b in data.tobytes():
        reg = (reg >> 8) ^ _T0[(reg ^ b) & 0xFF]
    return reg


_LANES = 1 << 16  # parallel lanes of the vectorised CRC
_SMALL = 1 << 14  # below this the byte loop beats the vectorised set-up


def _raw_crc(data: np.ndarray) -> int:
    """Raw (linear, init 0) CRC register of uint8 ``data``, vectorised.

    The bytes are cut into ``lanes`` equal chunks whose CRCs advance together, 4 bytes per NumPy step; chunk
    CRCs are then merged pairwise with crc(A + B) = zeros_op(len B)(crc(A)) ^ crc(B); the tail that does not
    fill the lanes is handled the same way recursively.
    """
    n = len(data)
    if n < _SMALL:
        return _raw_crc_small(data)
    lanes = _LANES
    while lanes > 1 and n < lanes * 64:
        lanes //= 2
    words_per_lane = n // (4 * lanes)
    main = lanes * words_per_lane * 4
    words = np.frombuffer(data[:main].tobytes() if not data.flags.c_contiguous else data[:main], dtype="<u4")
    words = words.reshape(lanes, words_per_lane)
    reg = np.zeros(lanes, dtype=np.uint32)
    low = np.empty(lanes, dtype=np.uint32)
    block = 256
    for start in range(0, words_per_lane, block):
        cols = np.ascontiguousarray(words[:, start : start + block].T)  # (block, lanes): contiguous per step
        for col in cols:
            reg ^= col
            np.bitwise_and(reg, 0xFFFF, out=low)
            reg >>= 16
            reg = _T_LO[low] ^ _T_HI[reg]
    chunk = words_per_lane * 4
    while len(reg) > 1:  # merge neighbours: left is followed by `chunk` bytes of right
        reg = _apply_tables(_zeros_operator(chunk), reg[0::2]) ^ reg[1::2]
        chunk *= 2
    crc = int(reg[0])
    tail = data[main:]
    if len(tail):
        crc = int(_apply_tables(_zeros_operator(len(tail)), np.array([crc], dtype=np.uint32))[0]) ^ _raw_crc(
            tail
        )
    return crc


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TensorFlow and iSCSI compute it (crc32c(b"123456789") == 0xE3069283)."""
    buf = (
        np.frombuffer(data, dtype=np.uint8)
        if not isinstance(data, np.ndarray)
        else data.reshape(-1).view(np.uint8)
    )
    n = len(buf)
    # standard CRC = raw(data) ^ zeros_op(n)(0xFFFFFFFF) ^ 0xFFFFFFFF (init and final inversion)
    if n < _SMALL:
        return _raw_crc_small(buf, 0xFFFFFFFF) ^ 0xFFFFFFFF
    init = int(_apply_tables(_zeros_operator(n), np.array([0xFFFFFFFF], dtype=np.uint32))[0])
    return _raw_crc(buf) ^ init ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """TensorFlow's (LevelDB's) masked crc: rotate right by 15 bits and add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of :func:`mask_crc`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# --------------------------------------------------------------------------- raw Snappy


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
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


def snappy_decompress(data: bytes | memoryview) -> bytes:
    """Decode one raw Snappy block (no framing): a varint length, then literal and copy elements."""
    data = bytes(data)
    expected, pos = _varint(data, 0)
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


# --------------------------------------------------------------------------- protobuf wire format


def _proto_fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """Yield (field number, wire type, value) of a serialized protobuf message (no schema needed)."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
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


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


# TF DataType enum -> NumPy dtype (tensorflow/core/framework/types.proto); strings are not supported
_DTYPES = {
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
    for field, _, value in _proto_fields(buf):
        if field == 1:
            fields["tf_dtype"] = value
        elif field == 2:
            dims = []
            for f2, _, v2 in _proto_fields(value):
                if f2 == 2:  # Dim {size = 1}
                    dims.append(next((_signed64(v3) for f3, _, v3 in _proto_fields(v2) if f3 == 1), 0))
                elif f2 == 3 and v2:
                    msg = f"tensor {name!r} has unknown rank"
                    raise CheckpointFormatError(msg)
            fields["shape"] = tuple(dims)
        elif field == 3:
            fields["shard_id"] = value
        elif field == 4:
            fields["offset"] = _signed64(value)
        elif field == 5:
            fields["size"] = _signed64(value)
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


# --------------------------------------------------------------------------- SSTable (.index)

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
        msg = f"{where}: crc32c mismatch in the index block at offset {offset} (stored {unmask_crc(stored):#010x}, "
        msg += f"computed {actual:#010x}): the .index file is corrupt"
        raise CheckpointFormatError(msg)
    if kind == 0:
        return raw
    if kind == 1:
        return snappy_decompress(raw)
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
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
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
        msg = f"{where}: bad SSTable magic {magic:#018x} (expected {_TABLE_MAGIC:#018x}): not a TF v1 checkpoint index"
        raise CheckpointFormatError(msg)
    pos = 0
    _meta_offset, pos = _varint(footer, pos)
    _meta_size, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    header = {"num_shards": 1, "endianness": 0}
    entries: dict[str, TensorEntry] = {}
    top = _read_block(index, index_offset, index_size, where)
    for _, handle in _block_entries(top, where):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block_entries(_read_block(index, offset, size, where), where):
            if key == b"":  # BundleHeaderProto
                for field, _, v in _proto_fields(value):
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


# --------------------------------------------------------------------------- locating the files


def _shard_name(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def _ckpt_step(name: str) -> int:
    m = re.search(r"-(\d+)$", name)
    return int(m.group(1)) if m else -1


def _choose_prefix(index_names: list[str], where: str) -> str:
    if not index_names:
        msg = f"{where}: no .index file found: not a TF v1 checkpoint"
        raise CheckpointFormatError(msg)
    prefixes = sorted((n[: -len(".index")] for n in index_names), key=lambda p: (_ckpt_step(p), p))
    if len(prefixes) > 1:
        log.info("%s holds %d checkpoints; using the latest, %s", where, len(prefixes), prefixes[-1])
    return prefixes[-1]


_COMPRESSED_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ")  # gzip, bzip2, xz


class _Source:
    """Byte access to the checkpoint's files, on disk or inside an uncompressed tar (memory-mapped, no copy)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._maps: list[mmap.mmap] = []
        self._files: list[Any] = []
        self.members: dict[str, tuple[int, int]] = {}  # tar member name -> (offset, size)
        self._blobs: dict[str, bytes] = {}  # members of a compressed tar, read into memory
        if path.is_file() and tarfile.is_tarfile(path):
            with open(path, "rb") as f:
                compressed = f.read(6).startswith(_COMPRESSED_MAGICS)
            try:
                with tarfile.open(path) as tar:
                    infos = [m for m in tar.getmembers() if m.isfile()]
                    if compressed:  # offsets refer to the decompressed stream: no memory map possible
                        self._blobs = {m.name: tar.extractfile(m).read() for m in infos}  # type: ignore[union-attr]
            except (tarfile.TarError, EOFError, OSError) as exc:
                msg = f"{path}: unreadable tar ({exc}); is the download complete?"
                raise CheckpointFormatError(msg) from exc
            self.tar = True
            self.members = {m.name: (m.offset_data, m.size) for m in infos}
            self.prefix = _choose_prefix([n for n in self.members if n.endswith(".index")], str(path))
            self._tar_map = b"" if compressed else self._map(path)
        else:
            self.tar = False
            if path.is_dir():
                self.prefix = str(self._dir_prefix(path))
            elif Path(f"{path}.index").exists():
                self.prefix = str(path)
            else:
                msg = f"{path}: not a TF checkpoint (expected a .tar, a directory with a .index file, or a prefix "
                msg += "P with P.index beside it)"
                raise FileNotFoundError(msg)

    @staticmethod
    def _dir_prefix(path: Path) -> Path:
        state = path / "checkpoint"
        if state.exists():  # TF's state file: model_checkpoint_path: "model.ckpt-1500"
            m = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(), re.MULTILINE)
            if m:
                p = Path(m.group(1))
                p = p if p.is_absolute() else path / p
                if Path(f"{p}.index").exists():
                    return p
        return path / _choose_prefix([p.name for p in path.glob("*.index")], str(path))

    def _map(self, path: Path) -> mmap.mmap | bytes:
        f = open(path, "rb")  # noqa: SIM115 (kept open for the memory map, closed in close())
        self._files.append(f)
        if path.stat().st_size == 0:
            return b""
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps.append(m)
        return m

    def describe(self, name: str) -> str:
        return f"{self.path}:{name}" if self.tar else name

    def read(self, name: str) -> tuple[memoryview | bytes, str]:
        """(whole file bytes, its description) for a file named relative to the prefix's folder."""
        if self.tar:
            if name not in self.members:
                msg = f"{self.path}: tar member {name} is missing"
                raise CheckpointFormatError(msg)
            if name in self._blobs:
                return self._blobs[name], self.describe(name)
            offset, size = self.members[name]
            total = len(self._tar_map)
            if offset + size > total:
                msg = f"{self.describe(name)}: tar member needs bytes [{offset}, {offset + size}) but the tar file "
                msg += f"has {total}: the tar is truncated"
                raise CheckpointFormatError(msg)
            return memoryview(self._tar_map)[offset : offset + size], self.describe(name)
        p = Path(name)
        if not p.exists():
            msg = f"{p}: checkpoint file is missing"
            raise CheckpointFormatError(msg)
        return memoryview(self._map(p)) if p.stat().st_size else b"", str(p)

    def close(self) -> None:
        for m in self._maps:
            with contextlib.suppress(BufferError):  # a view is still alive; the map goes with it
                m.close()
        for f in self._files:
            f.close()


class CheckpointBundle:
    """An open TF v1 checkpoint: ``entries`` (name -> TensorEntry) and :meth:`read` of single tensors.

    Open it with ``with open_checkpoint(path) as bundle:``; arrays returned by :meth:`read` are copies and stay
    valid after closing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._source = _Source(self.path)
        try:
            index, where = self._source.read(self._index_name())
            self.index_file = where
            self.header, self.entries = parse_index(bytes(index), where)
        except BaseException:
            self._source.close()
            raise

    def _index_name(self) -> str:
        return f"{self._source.prefix}.index"

    @property
    def prefix(self) -> str:
        return self._source.prefix

    def close(self) -> None:
        self._source.close()

    def data_file(self, entry: TensorEntry) -> str:
        return _shard_name(self._source.prefix, entry.shard_id, self.header["num_shards"])

    def read(self, name: str, *, verify: bool = True) -> np.ndarray:
        """The tensor ``name`` as a NumPy array (a copy), its bytes checked against the stored crc32c."""
        if name not in self.entries:
            msg = f"{self.index_file}: no tensor named {name!r}"
            raise KeyError(msg)
        entry = self.entries[name]
        if entry.dtype is None or entry.sliced:
            what = "a partitioned (sliced) variable" if entry.sliced else f"TF dtype {entry.tf_dtype}"
            msg = f"tensor {name!r}: {what} is not supported"
            raise CheckpointFormatError(msg)
        data, where = self._source.read(self.data_file(entry))
        end = entry.offset + entry.size
        if end > len(data):
            msg = f"tensor {name!r}: needs bytes [{entry.offset}, {end}) of {where}, which has only {len(data)} "
            msg += "bytes: the data file is truncated"
            raise CheckpointFormatError(msg)
        expected = int(np.prod(entry.shape, dtype=np.int64)) * entry.dtype.itemsize
        if expected != entry.size:
            msg = f"tensor {name!r}: shape {entry.shape} x {entry.dtype} needs {expected} bytes, entry says "
            msg += f"{entry.size}"
            raise CheckpointFormatError(msg)
        raw = np.frombuffer(data, dtype=np.uint8, count=entry.size, offset=entry.offset)
        if verify and entry.masked_crc32c is not None:
            actual = crc32c(raw)
            if actual != unmask_crc(entry.masked_crc32c):
                msg = f"tensor {name!r}: crc32c mismatch in {where} bytes [{entry.offset}, {end}) (stored "
                msg += f"{unmask_crc(entry.masked_crc32c):#010x}, computed {actual:#010x}): the data file is corrupt"
                raise CheckpointFormatError(msg)
        return raw.view(entry.dtype).reshape(entry.shape).copy()


@contextlib.contextmanager
def open_checkpoint(path: str | Path) -> Iterator[CheckpointBundle]:
    """Open a TF v1 checkpoint given as a ``.tar``, a directory or a prefix (see :class:`CheckpointBundle`)."""
    bundle = CheckpointBundle(path)
    try:
        yield bundle
    finally:
        bundle.close()


def read_checkpoint(
    path: str | Path, *, keep: Callable[[str], bool] | None = None, verify: bool = True
) -> dict[str, np.ndarray]:
    """Read every tensor (or those whose name passes ``keep``) of a TF v1 checkpoint into ``{name: array}``."""
    with open_checkpoint(path) as bundle:
        return {
            name: bundle.read(name, verify=verify) for name in bundle.entries if keep is None or keep(name)
        }

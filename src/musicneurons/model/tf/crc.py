"""CRC-32C (Castagnoli), as TensorFlow checks every index block and tensor of a bundle, and its LevelDB mask.

:func:`crc32c` uses the ``google-crc32c`` package (hardware CRC instructions, several GB/s) when it is
installed (a dependency of the package), else :func:`crc32c_numpy`, a vectorised pure-NumPy version
(lanes of 4-byte steps through two 65,536-entry tables, merged with GF(2) "append n zero bytes" operators).
Both give the same values; the tests check each against published vectors.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

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


def crc32c_numpy(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """:func:`crc32c` in NumPy alone (about 150 MB/s on 2 cores): the fallback without ``google-crc32c``."""
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


def _native() -> Any:
    try:
        import google_crc32c
    except ImportError:
        return None
    return google_crc32c if google_crc32c.implementation == "c" else None


_NATIVE = _native()


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TensorFlow and iSCSI compute it (crc32c(b"123456789") ==
    0xE3069283)."""
    if _NATIVE is None:
        return crc32c_numpy(data)
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    view = buf.view(np.uint8)
    view.flags.writeable = False  # the C extension takes read-only buffers only; a view leaves data as it is
    return int(_NATIVE.value(view))


def mask_crc(crc: int) -> int:
    """TensorFlow's (LevelDB's) masked crc: rotate right by 15 bits and add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of :func:`mask_crc`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF

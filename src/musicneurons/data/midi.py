"""MIDI files <-> note tables, reading exactly what ``note_seq.midi_file_to_note_sequence`` reads.

:func:`read_midi` reads a file (regular files only, at most :data:`MAX_FILE_BYTES`), parses it with the
byte parser of :mod:`musicneurons.data.midi_bytes` (which copies mido's and pretty_midi's choices, see
there) and converts ticks to seconds with pretty_midi's tick-to-time table (float64, per tempo segment
``base + tick_scale * (tick - segment_start)``), so quantisation lands on identical steps.
:func:`write_midi` writes one-instrument note lists the way pretty_midi writes Magenta's decoded
melodies. Notes come back in NoteSequence order: instrument by instrument, each in closing order.
"""

from __future__ import annotations

import bisect
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicneurons.atomic_files import atomic_write
from musicneurons.constants import DEFAULT_QPM
from musicneurons.data.midi_bytes import MAX_TICK, MidiEvents, MidiReadError, parse_midi_bytes

__all__ = ["MAX_FILE_BYTES", "MAX_TICK", "MidiReadError", "MidiScore", "read_midi", "write_midi"]

# the largest file read_midi accepts: thousands of times a real MIDI file (the shared corpora's largest is
# 24 KB), far below what a mislabelled disk image would make us read
MAX_FILE_BYTES = 64 * 2**20
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class MidiScore:
    """A parsed MIDI file: the fields of a NoteSequence that melody extraction uses.

    Note arrays all have shape ``(n_notes,)`` and are in NoteSequence order.

    Attributes
    ----------
    ticks_per_quarter : int
        The file's time division.
    total_time : float
        End of the last note, in seconds (0.0 without notes).
    pitch, velocity, program : np.ndarray of int16
        MIDI pitch 0..127, velocity 1..127, General MIDI program 0..127.
    instrument : np.ndarray of int32
        pretty_midi instrument index (a (track, channel, program) group).
    is_drum : np.ndarray of bool
        True for notes on MIDI channel 10 (index 9).
    start, end : np.ndarray of float64
        Note on and off times, in seconds.
    tempos : tuple of (time in seconds, quarter notes per minute)
        Always starts with one at 0.0 (:data:`~musicneurons.constants.DEFAULT_QPM` when the file sets
        none).
    time_signatures : tuple of (time in seconds, numerator, denominator)
    key_signatures : tuple of (time in seconds, key 0..11, mode 0 major / 1 minor)
    """

    ticks_per_quarter: int
    total_time: float
    pitch: np.ndarray
    velocity: np.ndarray
    instrument: np.ndarray
    program: np.ndarray
    is_drum: np.ndarray
    start: np.ndarray
    end: np.ndarray
    tempos: tuple[tuple[float, float], ...]
    time_signatures: tuple[tuple[float, int, int], ...]
    key_signatures: tuple[tuple[float, int, int], ...] = ()

    @property
    def n_notes(self) -> int:
        return int(self.pitch.shape[0])


def read_midi(source: str | Path | bytes, *, max_bytes: int = MAX_FILE_BYTES) -> MidiScore:
    """Read a Standard MIDI File (path or bytes) the way ``note_seq.midi_file_to_note_sequence`` does.

    Parameters
    ----------
    source : path or bytes
        The file, or its content.
    max_bytes : int
        Size cap: a larger file is refused without being read.

    Raises
    ------
    MidiReadError
        If the data is not a MIDI file Magenta could read, the path is not a regular file (a folder, a
        FIFO, a device, a symlink to one) or it holds more than ``max_bytes``; the message says why.
    OSError
        If ``source`` is a path that cannot be opened.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise MidiReadError(_too_large(len(data), max_bytes))
    else:
        data = read_regular_file(source, max_bytes)
    return _read(data)


def read_regular_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; never blocks or reads a
    device.

    The path is checked with ``stat`` before it is opened (FIFOs, sockets and devices are refused, also
    behind a symlink), opened without blocking and checked again on the open file.

    Raises
    ------
    MidiReadError
        If ``path`` is not a regular file or is larger than ``max_bytes``.
    OSError
        If it cannot be found or opened.
    """
    _check_regular(Path(path).stat(), max_bytes)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        _check_regular(os.fstat(fd), max_bytes)  # the path may have changed since the stat above
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise MidiReadError(_too_large(len(data), max_bytes))
    return data


def _check_regular(info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise MidiReadError(f"not a regular file ({file_kind(info.st_mode)})")
    if info.st_size > max_bytes:
        raise MidiReadError(_too_large(info.st_size, max_bytes))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words: "a folder", "a FIFO", "a character device", ..."""
    kinds = (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def _too_large(size: int, max_bytes: int) -> str:
    return f"file of {size:,} bytes exceeds the size cap of {max_bytes:,} bytes"


def _read(data: bytes, compiled: bool = True) -> MidiScore:
    """Parse ``data``; ``compiled`` tries the C byte loop first (same result, or the Python loop decides)."""
    return _assemble(parse_midi_bytes(data, compiled))


# --------------------------------------------------------------------------- ticks -> seconds
# The major key of each sharps count (-7..7): pretty_midi key number (0..11 major, 12..23 minor).
_MAJOR_KEY = {
    -7: 11,
    -6: 6,
    -5: 1,
    -4: 8,
    -3: 3,
    -2: 10,
    -1: 5,
    0: 0,
    1: 7,
    2: 2,
    3: 9,
    4: 4,
    5: 11,
    6: 6,
    7: 1,
}


def _tick_scales(resolution: int, tempo_events: list[tuple[int, int]]) -> list[tuple[int, float]]:
    """pretty_midi's ``(tick, seconds per tick)`` list, with its exact float expressions."""
    scales = [(0, 60.0 / (DEFAULT_QPM * resolution))]
    for tick, tempo in tempo_events:
        if tempo == 0:
            raise MidiReadError("set_tempo event with a tempo of 0 microseconds per quarter")
        if tick == 0:
            bpm = 6e7 / tempo
            scales = [(0, 60.0 / (bpm * resolution))]
        else:
            scale = 60.0 / ((6e7 / tempo) * resolution)
            if scale != scales[-1][1]:
                scales.append((tick, scale))
    return scales


def _segments(scales: list[tuple[int, float]]) -> tuple[list[int], list[float], list[float]]:
    """Start tick, seconds per tick and start time of each tempo segment, accumulated as pretty_midi does."""
    starts = [tick for tick, _ in scales]
    rates = [scale for _, scale in scales]
    bases = [0.0]
    for i in range(1, len(scales)):
        bases.append(bases[i - 1] + rates[i - 1] * (starts[i] - starts[i - 1]))
    return starts, rates, bases


def _ticks_to_seconds(ticks: np.ndarray, scales: list[tuple[int, float]]) -> np.ndarray:
    """Seconds of each tick, bit-identical to pretty_midi's ``__tick_to_time`` table.

    pretty_midi fills its table segment by segment with ``start_time + seconds_per_tick * k``; a tick
    on a segment boundary takes the later segment's value, which is the same number.
    """
    if len(scales) == 1:
        return ticks * scales[0][1]
    starts, rates, bases = (np.asarray(column) for column in _segments(scales))
    segment = np.searchsorted(starts, ticks, side="right") - 1
    return bases[segment] + rates[segment] * (ticks - starts[segment])


def _tick_time(tick: int, segments: tuple[list[int], list[float], list[float]]) -> float:
    starts, rates, bases = segments
    i = bisect.bisect_right(starts, tick) - 1
    return bases[i] + rates[i] * (tick - starts[i])


def _assemble(events: MidiEvents) -> MidiScore:
    """The MidiScore of the byte parser's events: ticks become seconds, key signatures pretty_midi keys."""
    resolution, instrument_info = events.resolution, events.instrument_info
    table, instrument = events.notes, events.instrument
    scales = _tick_scales(resolution, events.tempo_events)
    segments = _segments(scales)
    n = table.shape[0]
    times = _ticks_to_seconds(table[:, :2], scales)
    small = table[:, 2:].astype(np.int16)
    if len(instrument_info) == 1:
        program = np.full(n, instrument_info[0][0], dtype=np.int16)
        is_drum = np.full(n, instrument_info[0][1], dtype=bool)
    else:
        info = np.array(instrument_info, dtype=np.int16).reshape(-1, 2)
        program = info[instrument, 0]
        is_drum = info[instrument, 1].astype(bool)

    tempos = tuple((_tick_time(tick, segments), 60.0 / (scale * resolution)) for tick, scale in scales)
    time_signatures = []
    for tick, numerator, exponent in events.ts_events:
        if numerator == 0:
            raise MidiReadError("time signature with numerator 0")
        if 2**exponent > _INT32_MAX:
            raise MidiReadError(f"time signature denominator 2**{exponent} does not fit in int32")
        time_signatures.append((_tick_time(tick, segments), numerator, 2**exponent))
    key_signatures = []
    for tick, sharps, mode in events.ks_events:
        key = _MAJOR_KEY[sharps] if mode == 0 else (_MAJOR_KEY[sharps] + 9) % 12
        key_signatures.append((_tick_time(tick, segments), key, mode))

    start, end = times[:, 0].copy(), times[:, 1].copy()
    return MidiScore(
        ticks_per_quarter=resolution,
        total_time=float(end.max()) if n else 0.0,
        pitch=small[:, 0].copy(),
        velocity=small[:, 1].copy(),
        instrument=instrument,
        program=program,
        is_drum=is_drum,
        start=start,
        end=end,
        tempos=tempos,
        time_signatures=tuple(time_signatures),
        key_signatures=tuple(key_signatures),
    )


# --------------------------------------------------------------------------- writing
def _varint(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def write_midi(
    path: str | Path,
    notes: list[tuple[int, float, float, int]],
    *,
    qpm: float = DEFAULT_QPM,
    program: int = 0,
    ticks_per_quarter: int = 220,
) -> None:
    """Write one-instrument notes ``(pitch, start s, end s, velocity)`` as a type-0 MIDI file.

    The file holds one tempo (``qpm``), a 4/4 time signature and a program change on channel 1, as
    pretty_midi writes Magenta's decoded melodies. Times are rounded to the nearest tick. The file is
    written to a temporary name and renamed, so a reader never sees half a file.
    """
    tempo = round(60_000_000 / qpm)
    seconds_per_tick = tempo / 1e6 / ticks_per_quarter
    events: list[tuple[int, int, bytes]] = []  # (tick, order, bytes); note-offs sort before note-ons
    for pitch, start, end, velocity in notes:
        on, off = round(start / seconds_per_tick), round(end / seconds_per_tick)
        events.append((on, 1, bytes((0x90, pitch, velocity))))
        events.append((max(off, on + 1), 0, bytes((0x80, pitch, 0))))
    events.sort(key=lambda event: (event[0], event[1]))
    body = bytearray()
    body += b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big")
    body += b"\x00\xff\x58\x04\x04\x02\x18\x08"
    body += bytes((0x00, 0xC0, program))
    last = 0
    for tick, _, message in events:
        body += _varint(tick - last) + message
        last = tick
    body += b"\x00\xff\x2f\x00"
    blob = b"MThd" + struct.pack(">LHHH", 6, 0, 1, ticks_per_quarter) + b"MTrk" + struct.pack(">L", len(body))
    atomic_write(path, lambda tmp: tmp.write_bytes(blob + bytes(body)))

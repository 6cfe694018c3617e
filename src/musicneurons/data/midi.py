"""MIDI files <-> note tables, reading exactly what ``note_seq.midi_file_to_note_sequence`` reads.

Magenta parses MIDI through pretty_midi (on top of mido), so a faithful reimplementation must copy
pretty_midi's choices, not "correct" MIDI semantics:

* tempo, time-signature and key-signature events are read from **track 0 only**;
* every (track, channel, program) group is one instrument, numbered in the order its first note
  *ends*; the program is the channel's program at the note-off;
* a note-off ends **every** open note of that channel and pitch (overlapping same-pitch notes all end
  at the first note-off), except notes that started on the same tick, which stay open when others
  were closed; a note that starts and ends on the same tick is dropped;
* seconds come from pretty_midi's tick-to-time table (float64, per tempo segment
  ``base + tick_scale * (tick - segment_start)``), so quantisation lands on identical steps;
* whatever mido or pretty_midi refuses (truncated data, data bytes > 127, bad meta events, a
  largest tick above 10^7, an empty track, ...) raises :class:`MidiReadError` here.

The byte loop exists twice: in C (``_midi_events.c``, compiled by ``pip install``; about 15x faster
than pretty_midi end to end) and here in Python, its exact twin. The C loop handles well-formed files
and hands anything unusual back (returns None), so errors and odd files always take the Python path;
tests check both against note_seq / pretty_midi and against each other on thousands of broken files.
Notes come back in NoteSequence order: instrument by instrument, each in closing order.
"""

from __future__ import annotations

import bisect
import itertools
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicneurons.atomic_files import atomic_write

try:  # the compiled byte loop (built by pip install); without it the Python loop below does all the work
    from musicneurons.data import _midi_events
except ImportError:  # pragma: no cover - only where the C extension could not be built
    _midi_events = None

__all__ = ["MidiReadError", "MidiScore", "read_midi", "write_midi"]

MAX_TICK = 10_000_000  # pretty_midi refuses files whose largest tick exceeds this ("likely corrupt")
MAX_MESSAGE_LENGTH = 1_000_000  # mido refuses meta / sysex payloads longer than this
# bytes after the status byte for channel messages 0x8n..0xEn (mido's message lengths)
_CHANNEL_DATA_LENGTH = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
# data bytes of the system messages mido accepts inside a track (0xF4, 0xF5, 0xF9, 0xFD are undefined)
_SYSTEM_DATA_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}
_INT32_MAX = 2**31 - 1
# meta types mido decodes; it builds any other meta event without its delta time (the tick stands still)
_MIDO_META_TYPES = frozenset(
    (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x20, 0x21, 0x2F, 0x51, 0x54, 0x58, 0x59, 0x7F)
)


class MidiReadError(ValueError):
    """A file that Magenta's MIDI reader (note_seq via pretty_midi and mido) would also refuse."""


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
        Always starts with one at 0.0 (120 qpm when the file sets none).
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


def read_midi(source: str | Path | bytes) -> MidiScore:
    """Read a Standard MIDI File (path or bytes) the way ``note_seq.midi_file_to_note_sequence`` does.

    Raises
    ------
    MidiReadError
        If the data is not a MIDI file Magenta could read; the message says why.
    OSError
        If ``source`` is a path that cannot be opened.
    """
    data = source if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    return _read(bytes(data))


# --------------------------------------------------------------------------- parsing
def _read(data: bytes, compiled: bool = True) -> MidiScore:
    """Parse ``data``; ``compiled`` tries the C byte loop first (same result, or None and this loop decides)."""
    try:
        return _parse(data, compiled)
    except MidiReadError:
        raise
    except IndexError as exc:  # reading past the end of the data
        raise MidiReadError("truncated MIDI data (unexpected end of file)") from exc


def _parse(data: bytes, compiled: bool) -> MidiScore:
    if len(data) < 8:
        raise MidiReadError(f"not a MIDI file: only {len(data)} bytes")
    if data[:4] != b"MThd":
        raise MidiReadError("not a MIDI file: no MThd header")
    header_size = int.from_bytes(data[4:8], "big")
    header = data[8 : 8 + header_size]
    if len(header) < 6:
        raise MidiReadError("truncated MIDI header")
    _format, n_tracks, resolution = struct.unpack(">hhh", header[:6])
    if resolution <= 0:
        raise MidiReadError(f"unsupported time division {resolution} (SMPTE or zero ticks per quarter)")
    if n_tracks <= 0:
        raise MidiReadError(f"MIDI header declares {n_tracks} tracks")

    first_track = 8 + header_size
    if compiled and _midi_events is not None:
        bodies = _track_bodies(data, first_track, n_tracks)
        score = None if bodies is None else _parse_compiled(data, bodies, resolution)
        if score is not None:
            return score

    pos = first_track
    size = len(data)
    tempo_events: list[tuple[int, int]] = []  # (tick, microseconds per quarter), track 0
    ts_events: list[tuple[int, int, int]] = []  # (tick, numerator, denominator exponent), track 0
    ks_events: list[tuple[int, int, int]] = []  # (tick, sharps, mode), track 0
    # instrument bookkeeping shared by all tracks (pretty_midi's instrument_map)
    instrument_index: dict[tuple[int, int, int], int] = {}
    instrument_info: list[tuple[int, bool]] = []  # (program, is_drum)
    instrument_notes: list[list[int]] = []  # flat runs of (start tick, end tick, pitch, velocity)
    max_tick = -1

    for track in range(n_tracks):
        if pos + 8 > size:
            raise MidiReadError(f"truncated MIDI data: track {track} of {n_tracks} is missing")
        if data[pos : pos + 4] != b"MTrk":
            raise MidiReadError(f"no MTrk chunk at the start of track {track}")
        track_end = pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
        pos += 8
        if track_end > size:
            raise MidiReadError(f"truncated MIDI data: track {track} ends past the end of the file")
        if pos == track_end:
            # pretty_midi takes max() over each track's events and fails on an empty one
            raise MidiReadError(f"track {track} has no events")
        pos, last_tick = _read_track(
            data,
            pos,
            track_end,
            track,
            instrument_index,
            instrument_info,
            instrument_notes,
            tempo_events if track == 0 else None,
            ts_events if track == 0 else None,
            ks_events if track == 0 else None,
        )
        max_tick = max(max_tick, last_tick)

    _check_max_tick(max_tick)
    notes, instrument = _note_table(instrument_notes)
    return _assemble(resolution, tempo_events, ts_events, ks_events, instrument_info, notes, instrument)


def _track_bodies(data: bytes, pos: int, n_tracks: int) -> list[tuple[int, int]] | None:
    """(start, end) of each MTrk body, or None if a chunk header is wrong (the byte loop says which)."""
    bodies = []
    for _ in range(n_tracks):
        if pos + 8 > len(data) or data[pos : pos + 4] != b"MTrk":
            return None
        end = pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
        if end > len(data) or end == pos + 8:
            return None
        bodies.append((pos + 8, end))
        pos = end
    return bodies


def _parse_compiled(data: bytes, bodies: list[tuple[int, int]], resolution: int) -> MidiScore | None:
    """The score from the C byte loop, its meta and sysex events checked here in file order; None if it declines."""
    parsed = _midi_events.parse_tracks(data, bodies)
    if parsed is None:
        return None  # an unusual file: the Python byte loop gives the exact result or error
    rows, instruments, info, specials, max_tick = parsed
    tempo_events: list[tuple[int, int]] = []
    ts_events: list[tuple[int, int, int]] = []
    ks_events: list[tuple[int, int, int]] = []
    for is_meta, pos, track, tick in specials:
        if not is_meta:
            _read_sysex(data, pos, track)
            continue
        meta_type, payload, _ = _read_meta(data, pos, track)
        own = track == 0  # pretty_midi reads tempo, time and key signatures from track 0 only
        _check_meta(
            meta_type,
            payload,
            track,
            tick,
            tempo_events if own else None,
            ts_events if own else None,
            ks_events if own else None,
        )
    notes = np.frombuffer(rows, dtype=np.int64).reshape(-1, 4)
    instrument = np.frombuffer(instruments, dtype=np.int32)
    order = np.argsort(instrument, kind="stable")  # NoteSequence order: by instrument, then closing order
    _check_max_tick(max_tick)
    return _assemble(resolution, tempo_events, ts_events, ks_events, info, notes[order], instrument[order])


def _check_max_tick(max_tick: int) -> None:
    if max_tick + 1 > MAX_TICK:
        raise MidiReadError(f"largest tick {max_tick + 1} exceeds {MAX_TICK}: the file is likely corrupt")


def _note_table(instrument_notes: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The byte loop's per-instrument flat note lists as one int64 (n, 4) table plus instrument indices."""
    counts = [len(notes) // 4 for notes in instrument_notes]
    n = sum(counts)
    # fromiter over the chained lists: no flattened copy, and faster than np.array on a list of ints
    flat = (
        instrument_notes[0] if len(instrument_notes) == 1 else itertools.chain.from_iterable(instrument_notes)
    )
    table = np.fromiter(flat, dtype=np.int64, count=4 * n).reshape(n, 4)
    instrument = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    return table, instrument


def _read_track(
    data,
    pos,
    end,
    track,
    instrument_index,
    instrument_info,
    instrument_notes,
    tempo_events,
    ts_events,
    ks_events,
):
    """Parse one MTrk chunk body in ``data[pos:end]``; return (end position, last absolute tick).

    Notes are appended to ``instrument_notes[i]`` as flat runs ``start tick, end tick, pitch, velocity``.
    """
    tick = 0
    last_status = -1
    programs = [0] * 16
    channel_notes: list[list[int] | None] = [None] * 16  # the open instrument's note list per channel
    # open notes per (channel << 7 | pitch): the first as one int (start tick << 7 | velocity), any
    # further ones (same pitch sounding again before its note-off) in ``stacked`` as a list of such ints
    opened: list[int | None] = [None] * 2048
    stacked: dict[int, list[int]] = {}
    while pos < end:
        delta = data[pos]
        pos += 1
        if delta >= 0x80:  # a delta time of several bytes
            byte = delta
            delta &= 0x7F
            while byte & 0x80:
                byte = data[pos]
                pos += 1
                delta = (delta << 7) | (byte & 0x7F)
        tick += delta
        status = data[pos]
        if status < 0x80:  # running status: this byte is already the first data byte
            status = last_status
            if status >= 0xF0 or status < 0:
                if status < 0:
                    raise MidiReadError(f"running status without a previous status byte in track {track}")
                if status in (0xF0, 0xF7):  # mido drops the byte and reads a sysex length next
                    pos += 1
                elif _SYSTEM_DATA_LENGTH.get(status, 1) == 0:  # mido: a data byte for a data-less message
                    raise MidiReadError(f"running status on a system message without data in track {track}")
        else:
            pos += 1
            if status != 0xFF:
                last_status = status
        if status & 0xE0 == 0x80:  # note-off 0x8n or note-on 0x9n
            pitch = data[pos]
            velocity = data[pos + 1]
            pos += 2
            if (pitch | velocity) > 127:
                raise MidiReadError(f"data byte above 127 in track {track} at tick {tick}")
            key = ((status & 0x0F) << 7) | pitch
            first = opened[key]
            if velocity and status >= 0x90:
                if first is None:
                    opened[key] = (tick << 7) | velocity
                elif key in stacked:
                    stacked[key].append((tick << 7) | velocity)
                else:
                    stacked[key] = [(tick << 7) | velocity]
                continue
            if first is None:
                continue  # spurious note-off
            if not stacked or key not in stacked:  # the usual case: one open note
                opened[key] = None
                if first >> 7 != tick:  # a note that starts and ends on one tick is dropped
                    channel = status & 0x0F
                    notes = channel_notes[channel]
                    if notes is None:
                        notes = channel_notes[channel] = _instrument_list(
                            programs[channel],
                            channel,
                            track,
                            instrument_index,
                            instrument_info,
                            instrument_notes,
                        )
                    notes += (first >> 7, tick, pitch, first & 0x7F)
                continue
            # several open notes of this pitch: all end here, except those that started on this tick,
            # which stay open if some others were closed (pretty_midi)
            keep = []
            closed = False
            channel = status & 0x0F
            for note in [first, *stacked.pop(key)]:
                if note >> 7 == tick:
                    keep.append(note)
                    continue
                notes = channel_notes[channel]
                if notes is None:
                    notes = channel_notes[channel] = _instrument_list(
                        programs[channel], channel, track, instrument_index, instrument_info, instrument_notes
                    )
                notes += (note >> 7, tick, pitch, note & 0x7F)
                closed = True
            if closed and keep:
                opened[key] = keep[0]
                if len(keep) > 1:
                    stacked[key] = keep[1:]
            else:
                opened[key] = None
            continue
        kind = status >> 4
        if kind < 0xF:
            n_data = _CHANNEL_DATA_LENGTH[kind]
            first = data[pos]
            if n_data == 2:
                second = data[pos + 1]
                if first > 127 or second > 127:
                    raise MidiReadError(f"data byte above 127 in track {track} at tick {tick}")
            elif first > 127:
                raise MidiReadError(f"data byte above 127 in track {track} at tick {tick}")
            elif kind == 0xC:
                programs[status & 0x0F] = first
                channel_notes[status & 0x0F] = None
            pos += n_data
        elif status == 0xFF:
            meta_type, payload, pos = _read_meta(data, pos, track)
            if meta_type not in _MIDO_META_TYPES:
                tick -= delta  # mido builds unknown meta events without their delta time
            _check_meta(meta_type, payload, track, tick, tempo_events, ts_events, ks_events)
        elif status in (0xF0, 0xF7):
            pos = _read_sysex(data, pos, track)
        else:
            n_data = _SYSTEM_DATA_LENGTH.get(status)
            if n_data is None:
                raise MidiReadError(f"undefined status byte 0x{status:02x} in track {track}")
            for byte in data[pos : pos + n_data]:
                if byte > 127:
                    raise MidiReadError(f"data byte above 127 in track {track} at tick {tick}")
            if pos + n_data > len(data):
                raise MidiReadError("truncated MIDI data inside a system message")
            pos += n_data
    if pos != end:
        # mido only stops exactly at the chunk end; an event running past it ends in an EOF error
        raise MidiReadError(f"an event in track {track} runs past the end of its chunk")
    return pos, tick


def _instrument_list(program, channel, track, instrument_index, instrument_info, instrument_notes):
    """The note list of pretty_midi's instrument (program, channel, track), created on first use."""
    group = (program, channel, track)
    index = instrument_index.get(group)
    if index is None:
        index = instrument_index[group] = len(instrument_info)
        instrument_info.append((program, channel == 9))
        instrument_notes.append([])
    return instrument_notes[index]


def _read_meta(data: bytes, pos: int, track: int) -> tuple[int, bytes, int]:
    """The meta event whose type byte is at ``pos``: (type, payload, position after it), as mido reads it."""
    meta_type = data[pos]
    length, pos = _read_varint(data, pos + 1)
    if length > MAX_MESSAGE_LENGTH:
        raise MidiReadError(f"meta event of {length} bytes exceeds {MAX_MESSAGE_LENGTH}")
    if pos + length > len(data):
        raise MidiReadError("truncated MIDI data inside a meta event")
    return meta_type, data[pos : pos + length], pos + length


def _read_sysex(data: bytes, pos: int, track: int) -> int:
    """Check the sysex event whose length starts at ``pos`` as mido does; the position after it."""
    length, pos = _read_varint(data, pos)
    if length > MAX_MESSAGE_LENGTH:
        raise MidiReadError(f"sysex event of {length} bytes exceeds {MAX_MESSAGE_LENGTH}")
    if pos + length > len(data):
        raise MidiReadError("truncated MIDI data inside a sysex event")
    payload = data[pos + (length > 0 and data[pos] == 0xF0) : pos + length]
    if payload.endswith(b"\xf7"):
        payload = payload[:-1]
    if payload and max(payload) > 127:  # mido validates the bytes between F0 and F7
        raise MidiReadError(f"sysex data byte above 127 in track {track}")
    return pos + length


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def _check_meta(meta_type, payload, track, tick, tempo_events, ts_events, ks_events) -> None:
    """Decode the meta events pretty_midi uses and refuse the ones mido cannot decode."""
    n = len(payload)
    if meta_type == 0x51:
        if n < 3:
            raise MidiReadError(f"set_tempo event with {n} data bytes in track {track}")
        if tempo_events is not None:
            tempo_events.append((tick, (payload[0] << 16) | (payload[1] << 8) | payload[2]))
    elif meta_type == 0x58:
        if n < 4:
            raise MidiReadError(f"time_signature event with {n} data bytes in track {track}")
        if ts_events is not None:
            ts_events.append((tick, payload[0], payload[1]))
    elif meta_type == 0x59:
        if n < 2:
            raise MidiReadError(f"key_signature event with {n} data bytes in track {track}")
        sharps = payload[0] - 256 if payload[0] > 127 else payload[0]
        if not (-7 <= sharps <= 7 and payload[1] in (0, 1)):
            raise MidiReadError(
                f"invalid key signature ({sharps} sharps, mode {payload[1]}) in track {track}"
            )
        if ks_events is not None:
            ks_events.append((tick, sharps, payload[1]))
    elif meta_type == 0x00 and n == 1:
        raise MidiReadError(f"sequence_number event with 1 data byte in track {track}")
    elif meta_type == 0x20 and n == 0:
        raise MidiReadError(f"channel_prefix event without data in track {track}")
    elif meta_type == 0x54 and (n < 5 or payload[0] >> 5 > 3):
        raise MidiReadError(f"invalid smpte_offset event in track {track}")


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
    scales = [(0, 60.0 / (120.0 * resolution))]
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


def _assemble(
    resolution, tempo_events, ts_events, ks_events, instrument_info, table, instrument
) -> MidiScore:
    """The MidiScore of int64 note rows (start tick, end tick, pitch, velocity) and their instruments."""
    scales = _tick_scales(resolution, tempo_events)
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
    for tick, numerator, exponent in ts_events:
        if numerator == 0:
            raise MidiReadError("time signature with numerator 0")
        if 2**exponent > _INT32_MAX:
            raise MidiReadError(f"time signature denominator 2**{exponent} does not fit in int32")
        time_signatures.append((_tick_time(tick, segments), numerator, 2**exponent))
    key_signatures = []
    for tick, sharps, mode in ks_events:
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
    qpm: float = 120.0,
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

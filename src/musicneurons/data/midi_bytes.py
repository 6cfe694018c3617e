"""The MIDI byte parser: Standard MIDI File bytes -> tick-based events, as mido and pretty_midi read them.

:func:`parse_midi_bytes` walks the chunks and returns a :class:`MidiEvents` record in ticks (notes,
instruments, and the tempo / time / key signature events of track 0); :mod:`musicneurons.data.midi`
turns it into seconds. The byte loop exists twice: in C (``_midi_events.c``, compiled by
``pip install``) and here in Python, its exact twin. The C loop handles well-formed files and hands
anything unusual back (returns None), so errors and odd files always take the Python path and every
refusal message comes from this module.

Rules copied from pretty_midi (on top of mido), because that is what Magenta's
``note_seq.midi_file_to_note_sequence`` sees:

* tempo, time-signature and key-signature events are read from **track 0 only**;
* every (track, channel, program) group is one instrument, numbered in the order its first note
  *ends*; the program is the channel's program at the note-off;
* a note-off ends **every** open note of that channel and pitch (overlapping same-pitch notes all end
  at the first note-off), except notes that started on the same tick, which stay open when others
  were closed; a note that starts and ends on the same tick is dropped;
* mido builds meta events of types it does not know without their delta time (the tick stands still);
* whatever mido or pretty_midi refuses (truncated data, data bytes > 127, bad meta events, a largest
  tick above 10^7, an empty track, ...) raises :class:`MidiReadError`.

One deliberate difference: a variable-length number (delta time, meta or sysex length) longer than
4 bytes is refused, as the MIDI specification allows at most 4; mido reads any length, which lets a
2 KB file hold one 14,000-bit number. Every real file we have seen stays within 4 bytes.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field

import numpy as np

try:  # the compiled byte loop (built by pip install); without it the Python loop below does all the work
    from musicneurons.data import _midi_events
except ImportError:  # pragma: no cover - only where the C extension could not be built
    _midi_events = None  # type: ignore[assignment]

__all__ = ["MAX_TICK", "MAX_VARINT_BYTES", "MidiEvents", "MidiReadError", "parse_midi_bytes"]

MAX_TICK = 10_000_000  # pretty_midi refuses files whose largest tick exceeds this ("likely corrupt")
MAX_MESSAGE_LENGTH = 1_000_000  # mido refuses meta / sysex payloads longer than this
MAX_VARINT_BYTES = 4  # the MIDI specification's limit for a variable-length number (0x0FFFFFFF)
# bytes after the status byte for channel messages 0x8n..0xEn (mido's message lengths)
_CHANNEL_DATA_LENGTH = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
# data bytes of the system messages mido accepts inside a track (0xF4, 0xF5, 0xF9, 0xFD are undefined)
_SYSTEM_DATA_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}
# meta types mido decodes; it builds any other meta event without its delta time (the tick stands still)
_MIDO_META_TYPES = frozenset(
    (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x20, 0x21, 0x2F, 0x51, 0x54, 0x58, 0x59, 0x7F)
)


class MidiReadError(ValueError):
    """A file that cannot be read as MIDI: Magenta's reader (note_seq via pretty_midi and mido) would refuse
    it too, or it breaks a safety limit (not a regular file, larger than the size cap, a variable-length
    number over 4 bytes). The message says why."""


@dataclass
class MidiEvents:
    """What the byte loop found, in ticks.

    Attributes
    ----------
    resolution : int
        Ticks per quarter note.
    tempo_events : list of (tick, microseconds per quarter)
        Track 0's set_tempo events, in file order.
    ts_events : list of (tick, numerator, denominator exponent)
        Track 0's time signatures (denominator = 2 ** exponent).
    ks_events : list of (tick, sharps -7..7, mode 0 major / 1 minor)
        Track 0's key signatures.
    instrument_info : list of (program, is_drum)
        One entry per pretty_midi instrument, in instrument order.
    notes : np.ndarray of int64, shape (n_notes, 4)
        Rows (start tick, end tick, pitch, velocity) in NoteSequence order: by instrument, then in
        closing order.
    instrument : np.ndarray of int32, shape (n_notes,)
        Instrument index of each row.
    """

    resolution: int
    tempo_events: list[tuple[int, int]] = field(default_factory=list)
    ts_events: list[tuple[int, int, int]] = field(default_factory=list)
    ks_events: list[tuple[int, int, int]] = field(default_factory=list)
    instrument_info: list[tuple[int, bool]] = field(default_factory=list)
    notes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    instrument: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


def parse_midi_bytes(data: bytes, compiled: bool = True) -> MidiEvents:
    """Parse a Standard MIDI File; ``compiled`` tries the C byte loop first (same result, or None and the
    Python loop decides).

    Raises
    ------
    MidiReadError
        If mido / pretty_midi would refuse the data, or a variable-length number is over 4 bytes.
    """
    try:
        return _parse(data, compiled)
    except MidiReadError:
        raise
    except IndexError as exc:  # reading past the end of the data
        raise MidiReadError("truncated MIDI data (unexpected end of file)") from exc


def _parse(data: bytes, compiled: bool) -> MidiEvents:
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
        events = None if bodies is None else _parse_compiled(data, bodies, resolution)
        if events is not None:
            return events

    pos = first_track
    size = len(data)
    events = MidiEvents(resolution)
    instruments = _Instruments()
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
        # pretty_midi reads tempo, time and key signatures from track 0 only
        pos, last_tick = _read_track(data, pos, track_end, track, instruments, events if track == 0 else None)
        max_tick = max(max_tick, last_tick)

    _check_max_tick(max_tick)
    events.instrument_info = instruments.info
    events.notes, events.instrument = _note_table(instruments.notes)
    return events


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


def _parse_compiled(data: bytes, bodies: list[tuple[int, int]], resolution: int) -> MidiEvents | None:
    """The events from the C byte loop, its meta and sysex events checked here in file order; None if it
    declines."""
    parsed = _midi_events.parse_tracks(data, bodies)
    if parsed is None:
        return None  # an unusual file: the Python byte loop gives the exact result or error
    rows, instruments, info, specials, max_tick = parsed
    events = MidiEvents(resolution, instrument_info=info)
    for is_meta, pos, track, tick in specials:
        if not is_meta:
            _read_sysex(data, pos, track)
            continue
        meta_type, payload, _ = _read_meta(data, pos, track)
        _check_meta(meta_type, payload, track, tick, events if track == 0 else None)
    notes = np.frombuffer(rows, dtype=np.int64).reshape(-1, 4)
    instrument = np.frombuffer(instruments, dtype=np.int32)
    order = np.argsort(instrument, kind="stable")  # NoteSequence order: by instrument, then closing order
    _check_max_tick(max_tick)
    events.notes, events.instrument = notes[order], instrument[order]
    return events


def _check_max_tick(max_tick: int) -> None:
    if max_tick + 1 > MAX_TICK:
        raise MidiReadError(f"largest tick {max_tick + 1} exceeds {MAX_TICK}: the file is likely corrupt")


def _note_table(instrument_notes: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The byte loop's per-instrument flat note lists as one int64 (n, 4) table plus instrument indices."""
    counts = [len(notes) // 4 for notes in instrument_notes]
    n = sum(counts)
    if n == 0:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.int32)
    # fromiter over the chained lists: no flattened copy, and faster than np.array on a list of ints
    flat = (
        instrument_notes[0] if len(instrument_notes) == 1 else itertools.chain.from_iterable(instrument_notes)
    )
    table = np.fromiter(flat, dtype=np.int64, count=4 * n).reshape(n, 4)
    instrument = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    return table, instrument


class _Instruments:
    """pretty_midi's instrument map, shared by all tracks: one flat note list per (program, channel, track)
    group, in the order the group's first note ends."""

    def __init__(self) -> None:
        self.index: dict[tuple[int, int, int], int] = {}
        self.info: list[tuple[int, bool]] = []  # (program, is_drum)
        self.notes: list[list[int]] = []  # flat runs of (start tick, end tick, pitch, velocity)

    def notes_of(self, program: int, channel: int, track: int) -> list[int]:
        """The note list of instrument (program, channel, track), created on first use."""
        group = (program, channel, track)
        index = self.index.get(group)
        if index is None:
            index = self.index[group] = len(self.info)
            self.info.append((program, channel == 9))
            self.notes.append([])
        return self.notes[index]


def _read_track(
    data: bytes, pos: int, end: int, track: int, instruments: _Instruments, own: MidiEvents | None
) -> tuple[int, int]:
    """Parse one MTrk chunk body in ``data[pos:end]``; return (end position, last absolute tick).

    Notes go to ``instruments`` as flat runs ``start tick, end tick, pitch, velocity``; tempo, time and
    key signatures to ``own`` (track 0) or nowhere (other tracks, which are still checked).
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
            for _ in range(MAX_VARINT_BYTES - 1):
                byte = data[pos]
                pos += 1
                delta = (delta << 7) | (byte & 0x7F)
                if byte < 0x80:
                    break
            else:
                raise MidiReadError(_varint_too_long(track))
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
        if status & 0xE0 != 0x80:  # not a note-off 0x8n or note-on 0x9n
            pos, tick = _other_event(data, pos, status, delta, tick, track, own, programs, channel_notes)
            continue
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
        channel = status & 0x0F
        if stacked and key in stacked:
            _close_stacked(key, tick, opened, stacked, programs, channel_notes, instruments, track)
            continue
        opened[key] = None  # the usual case: one open note
        if first >> 7 != tick:  # a note that starts and ends on one tick is dropped
            notes = channel_notes[channel]
            if notes is None:
                notes = channel_notes[channel] = instruments.notes_of(programs[channel], channel, track)
            notes += (first >> 7, tick, pitch, first & 0x7F)
    if pos != end:
        # mido only stops exactly at the chunk end; an event running past it ends in an EOF error
        raise MidiReadError(f"an event in track {track} runs past the end of its chunk")
    return pos, tick


def _close_stacked(key, tick, opened, stacked, programs, channel_notes, instruments, track) -> None:
    """A note-off for a pitch with several open notes: all end here, except those that started on this
    tick, which stay open if some others were closed (pretty_midi)."""
    channel, pitch = key >> 7, key & 0x7F
    keep = []
    closed = False
    for note in [opened[key], *stacked.pop(key)]:
        if note >> 7 == tick:
            keep.append(note)
            continue
        notes = channel_notes[channel]
        if notes is None:
            notes = channel_notes[channel] = instruments.notes_of(programs[channel], channel, track)
        notes += (note >> 7, tick, pitch, note & 0x7F)
        closed = True
    if closed and keep:
        opened[key] = keep[0]
        if len(keep) > 1:
            stacked[key] = keep[1:]
    else:
        opened[key] = None


def _other_event(data, pos, status, delta, tick, track, own, programs, channel_notes) -> tuple[int, int]:
    """Check and skip one event that is not a note: (position after it, tick after it)."""
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
        return pos + n_data, tick
    if status == 0xFF:
        meta_type, payload, pos = _read_meta(data, pos, track)
        if meta_type not in _MIDO_META_TYPES:
            tick -= delta  # mido builds unknown meta events without their delta time
        _check_meta(meta_type, payload, track, tick, own)
        return pos, tick
    if status in (0xF0, 0xF7):
        return _read_sysex(data, pos, track), tick
    n_system = _SYSTEM_DATA_LENGTH.get(status)
    if n_system is None:
        raise MidiReadError(f"undefined status byte 0x{status:02x} in track {track}")
    for byte in data[pos : pos + n_system]:
        if byte > 127:
            raise MidiReadError(f"data byte above 127 in track {track} at tick {tick}")
    if pos + n_system > len(data):
        raise MidiReadError("truncated MIDI data inside a system message")
    return pos + n_system, tick


def _read_meta(data: bytes, pos: int, track: int) -> tuple[int, bytes, int]:
    """The meta event whose type byte is at ``pos``: (type, payload, position after it), as mido reads it."""
    meta_type = data[pos]
    length, pos = _read_varint(data, pos + 1, track)
    if length > MAX_MESSAGE_LENGTH:
        raise MidiReadError(f"meta event of {length} bytes exceeds {MAX_MESSAGE_LENGTH}")
    if pos + length > len(data):
        raise MidiReadError("truncated MIDI data inside a meta event")
    return meta_type, data[pos : pos + length], pos + length


def _read_sysex(data: bytes, pos: int, track: int) -> int:
    """Check the sysex event whose length starts at ``pos`` as mido does; the position after it."""
    length, pos = _read_varint(data, pos, track)
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


def _read_varint(data: bytes, pos: int, track: int) -> tuple[int, int]:
    """A variable-length number of at most 4 bytes at ``pos``: (value, position after it)."""
    value = 0
    for _ in range(MAX_VARINT_BYTES):
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise MidiReadError(_varint_too_long(track))


def _varint_too_long(track: int) -> str:
    return (
        f"a variable-length number in track {track} is longer than {MAX_VARINT_BYTES} bytes (the MIDI limit)"
    )


def _check_meta(meta_type: int, payload: bytes, track: int, tick: int, own: MidiEvents | None) -> None:
    """Decode the meta events pretty_midi uses (into ``own``, track 0) and refuse the ones mido cannot
    decode (in every track)."""
    n = len(payload)
    if meta_type == 0x51:
        if n < 3:
            raise MidiReadError(f"set_tempo event with {n} data bytes in track {track}")
        if own is not None:
            own.tempo_events.append((tick, (payload[0] << 16) | (payload[1] << 8) | payload[2]))
    elif meta_type == 0x58:
        if n < 4:
            raise MidiReadError(f"time_signature event with {n} data bytes in track {track}")
        if own is not None:
            own.ts_events.append((tick, payload[0], payload[1]))
    elif meta_type == 0x59:
        if n < 2:
            raise MidiReadError(f"key_signature event with {n} data bytes in track {track}")
        sharps = payload[0] - 256 if payload[0] > 127 else payload[0]
        if not (-7 <= sharps <= 7 and payload[1] in (0, 1)):
            raise MidiReadError(
                f"invalid key signature ({sharps} sharps, mode {payload[1]}) in track {track}"
            )
        if own is not None:
            own.ks_events.append((tick, sharps, payload[1]))
    elif meta_type == 0x00 and n == 1:
        raise MidiReadError(f"sequence_number event with 1 data byte in track {track}")
    elif meta_type == 0x20 and n == 0:
        raise MidiReadError(f"channel_prefix event without data in track {track}")
    elif meta_type == 0x54 and (n < 5 or payload[0] >> 5 > 3):
        raise MidiReadError(f"invalid smpte_offset event in track {track}")

"""MIDI reading: identical to note_seq / pretty_midi on real and hand-built files; bad files refused."""

from __future__ import annotations

import io
import json
import struct
import warnings

import mido
import numpy as np
import pretty_midi
import pytest

from musicneurons.data import midi
from musicneurons.data import midi_bytes as byte_parser
from musicneurons.data.midi import MidiReadError, read_midi, write_midi

# read_midi runs the compiled byte loop and falls back to the Python one; both must equal the references
PATHS = ["compiled", "python"]


@pytest.fixture(params=PATHS)
def read(request):
    """A reader through one path: the C byte loop (_midi_events) or the Python byte loop."""
    compiled = request.param == "compiled"
    return lambda source: midi._read(source if isinstance(source, bytes) else source.read_bytes(), compiled)


def test_compiled_reader_is_built():
    assert byte_parser._midi_events is not None, (
        "the C extension is missing: run scripts/setup.sh (needs gcc)"
    )


def test_equals_note_seq_on_fixture_files(magenta_fixtures, read):
    fixture = json.loads((magenta_fixtures / "notesequences_sample.json").read_text())
    root = magenta_fixtures.parents[2]
    assert len(fixture["files"]) >= 20
    for rel, want in fixture["files"].items():
        score = read(root / rel)
        notes = want["notes"]  # instrument, program, is_drum, pitch, velocity, start, end
        assert score.n_notes == len(notes), rel
        assert score.instrument.tolist() == [n[0] for n in notes], rel
        assert score.program.tolist() == [n[1] for n in notes], rel
        assert score.is_drum.tolist() == [n[2] for n in notes], rel
        assert score.pitch.tolist() == [n[3] for n in notes], rel
        assert score.velocity.tolist() == [n[4] for n in notes], rel
        # exact float64 equality: quantisation must land on the same steps
        assert score.start.tolist() == [n[5] for n in notes], rel
        assert score.end.tolist() == [n[6] for n in notes], rel
        assert score.total_time == want["total_time"]
        assert score.ticks_per_quarter == want["ticks_per_quarter"]
        assert [list(t) for t in score.tempos] == want["tempos"], rel
        assert [list(t) for t in score.time_signatures] == want["time_signatures"], rel
        assert [list(k) for k in score.key_signatures] == want["key_signatures"], rel


# --------------------------------------------------------------------------- hand-built files
def midi_bytes(tracks: list[list[tuple[int, mido.Message | mido.MetaMessage]]], tpq: int = 480) -> bytes:
    """A type-1 file from tracks of ``(absolute tick, message)`` (mido writes running status)."""
    midi = mido.MidiFile(ticks_per_beat=tpq)
    for events in tracks:
        track = mido.MidiTrack()
        last = 0
        for tick, message in events:
            track.append(message.copy(time=tick - last))
            last = tick
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def on(tick, pitch, velocity=90, channel=0):
    return (tick, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel))


def off(tick, pitch, channel=0, *, as_note_on=False):
    kind = "note_on" if as_note_on else "note_off"
    return (tick, mido.Message(kind, note=pitch, velocity=0, channel=channel))


def meta(tick, kind, **fields):
    return (tick, mido.MetaMessage(kind, **fields))


def reference(data: bytes) -> list[tuple]:
    """note_seq's notes via pretty_midi: (instrument index, program, is_drum, pitch, velocity, start, end)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    return [
        (i, int(inst.program), inst.is_drum, n.pitch, n.velocity, float(n.start), float(n.end))
        for i, inst in enumerate(midi.instruments)
        for n in inst.notes
    ]


def ours(data: bytes, read=read_midi) -> list[tuple]:
    s = read(data)
    return list(
        zip(
            s.instrument.tolist(), s.program.tolist(), s.is_drum.tolist(), s.pitch.tolist(),
            s.velocity.tolist(), s.start.tolist(), s.end.tolist(), strict=True,
        )
    )  # fmt: skip


CASES = {
    "overlapping same pitch ends at the first note-off": [
        [on(0, 60), on(240, 60, 80), off(480, 60), off(960, 60)]
    ],
    "zero-length note is dropped": [[on(0, 60), off(0, 60), on(480, 62), off(960, 62)]],
    "note-off then note-on on one tick": [[on(0, 60), on(480, 60, 80), off(480, 60), off(960, 60)]],
    "two notes kept open by a note-off on their start tick": [
        [on(0, 60), on(480, 60, 80), on(480, 60, 90), off(480, 60), off(960, 60), on(990, 60), off(999, 60)]
    ],
    "velocity-0 note-on ends a note": [[on(0, 60), off(480, 60, as_note_on=True), on(480, 64), off(600, 64)]],
    "program at the note-off, drums on channel 10": [
        [
            on(0, 60),
            (100, mido.Message("program_change", program=5)),
            off(480, 60),
            on(500, 38, channel=9),
            off(600, 38, channel=9),
            on(700, 62),
            off(800, 62),
        ]
    ],
    "instruments numbered by their first note end": [
        [meta(0, "set_tempo", tempo=600000), meta(0, "time_signature", numerator=3, denominator=4)],
        [on(0, 50), on(10, 70, channel=3), off(20, 70, channel=3), off(900, 50)],
        [on(0, 80), off(5, 80)],
    ],
    "tempo and time signature only from track 0": [
        [meta(0, "set_tempo", tempo=400000), on(0, 60), off(480, 60)],
        [meta(240, "set_tempo", tempo=300000), on(480, 62), off(960, 62)],
    ],
    "tempo changes": [
        [
            meta(0, "set_tempo", tempo=500000),
            meta(0, "set_tempo", tempo=450000),
            on(0, 60),
            meta(333, "set_tempo", tempo=450000),
            meta(500, "set_tempo", tempo=612345),
            off(700, 60),
            on(700, 61),
            meta(1000, "set_tempo", tempo=123456),
            off(2000, 61),
        ]
    ],
    "unclosed notes and stray note-offs": [[off(0, 40), on(0, 60), on(10, 61), off(20, 61), off(30, 99)]],
    "sysex, text and pitch bends are skipped": [
        [
            (0, mido.Message("sysex", data=[1, 2, 3])),
            meta(0, "text", text="hello"),
            on(0, 60),
            (5, mido.Message("pitchwheel", pitch=300)),
            (6, mido.Message("control_change", control=64, value=127)),
            (7, mido.Message("aftertouch", value=3)),
            off(480, 60),
        ]
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_equals_pretty_midi_on_hand_built_files(name, read):
    data = midi_bytes(CASES[name], tpq=480 if "tempo" not in name else 384)
    expected = reference(data)
    assert expected, "a case must produce notes"
    assert ours(data, read) == expected


def test_tempos_and_time_signatures_match_pretty_midi():
    data = midi_bytes(CASES["tempo changes"] + [[meta(700, "time_signature", numerator=6, denominator=8)]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi warns about the signature outside track 0
        midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    score = read_midi(data)
    times, qpms = midi.get_tempo_changes()
    assert [t for t, _ in score.tempos] == times.tolist()
    assert [q for _, q in score.tempos] == qpms.tolist()
    assert score.time_signatures == ()  # the signature is in track 1: pretty_midi ignores it


def test_drums_only_file_reads_as_drums():
    data = midi_bytes([[on(0, 36, channel=9), off(240, 36, channel=9)]])
    score = read_midi(data)
    assert score.is_drum.tolist() == [True]


# --------------------------------------------------------------------------- bad files
def _real_file(corpora_dir) -> bytes:
    return (corpora_dir / "nottingham" / "melody" / "ashover10.mid").read_bytes()


def _pretty_midi_refuses(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception:  # noqa: BLE001 (note_seq catches everything pretty_midi raises)
        return True
    return False


def raw_file(*tracks: bytes, n_tracks: int | None = None) -> bytes:
    """A MIDI file from raw track bodies (delta-time + event bytes), with correct chunk lengths."""
    count = len(tracks) if n_tracks is None else n_tracks
    head = b"MThd" + (6).to_bytes(4, "big") + b"\x00\x01" + count.to_bytes(2, "big") + b"\x01\xe0"
    return head + b"".join(b"MTrk" + len(body).to_bytes(4, "big") + body for body in tracks)


NOTE = b"\x00\x90\x3c\x5a" + b"\x83\x60\x80\x3c\x00"  # C4 on at 0, off at tick 480
END = b"\x00\xff\x2f\x00"


def bad_files(corpora_dir) -> dict[str, bytes]:
    real = _real_file(corpora_dir)
    return {
        "empty": b"",
        "header only": real[:14],
        "truncated": real[: len(real) // 2],
        "not midi": b"This is a text file, not a MIDI file.\n" * 3,
        "zero tracks": raw_file(),
        "empty track": raw_file(b""),
        "missing track": raw_file(NOTE + END, n_tracks=2),
        # note-off 10,485,760 ticks after the note-on (a 4-byte delta time): over pretty_midi's 10**7
        "huge tick": raw_file(b"\x00\x90\x3c\x5a" + b"\x85\x80\x80\x00\x80\x3c\x00" + END),
        "data byte above 127": raw_file(b"\x00\x90\xbc\x5a" + END),
        "undefined status byte": raw_file(b"\x00\xf4\x3c\x5a" + END),
        "running status first": raw_file(b"\x00\x3c\x5a" + END),
        "short tempo event": raw_file(b"\x00\xff\x51\x01\x07" + NOTE + END),
        "bad key signature": raw_file(b"\x00\xff\x59\x02\x09\x00" + NOTE + END),
        "event past the chunk end": raw_file(NOTE + b"\x00\x90\x3c"),
    }


def test_bad_files_raise_midi_read_error_like_pretty_midi(corpora_dir, read):
    for name, data in bad_files(corpora_dir).items():
        assert _pretty_midi_refuses(data), f"{name}: the reference reads it; fix the test file"
        with pytest.raises(MidiReadError):
            read(data)


def test_huge_tick_message(corpora_dir):
    with pytest.raises(MidiReadError, match="largest tick"):
        read_midi(bad_files(corpora_dir)["huge tick"])


# --------------------------------------------------------------------------- writing
def test_write_midi_round_trip(tmp_path):
    notes = [(60, 0.0, 0.5, 80), (64, 0.5, 0.75, 80), (67, 1.0, 2.0, 100)]
    path = tmp_path / "out.mid"
    write_midi(path, notes, qpm=120.0)
    midi = pretty_midi.PrettyMIDI(str(path))
    assert [(n.pitch, n.start, n.end, n.velocity) for n in midi.instruments[0].notes] == notes
    assert midi.instruments[0].program == 0
    score = read_midi(path)
    np.testing.assert_array_equal(score.start, [0.0, 0.5, 1.0])
    assert score.tempos == ((0.0, 120.0),)
    assert score.time_signatures == ((0.0, 4, 4),)


def test_raw_file_helper_builds_a_valid_file():
    data = raw_file(NOTE + END)  # the positive control for the broken files above
    assert ours(data) == reference(data) == [(0, 0, False, 60, 90, 0.0, 0.5)]


def test_unknown_meta_event_loses_its_delta_time_as_in_mido(read):
    # C4 on at 0; 480 ticks later an unknown meta (type 0x08, "program name"); C4 off 480 ticks after:
    # mido drops the delta of meta types it does not know, so the note ends at tick 480, not 960
    body = b"\x00\x90\x3c\x5a" + b"\x83\x60\xff\x08\x02hi" + b"\x83\x60\x80\x3c\x00" + END
    data = raw_file(body)
    assert ours(data, read) == reference(data) == [(0, 0, False, 60, 90, 0.0, 0.5)]
    known = raw_file(b"\x00\x90\x3c\x5a" + b"\x83\x60\xff\x01\x02hi" + b"\x83\x60\x80\x3c\x00" + END)
    assert ours(known, read) == reference(known) == [(0, 0, False, 60, 90, 0.0, 1.0)]


def test_sysex_bytes_above_127_are_refused_as_in_mido(read):
    good = raw_file(b"\x00\xf0\x03\x7e\x01\xf7" + NOTE + END)
    bad = raw_file(b"\x00\xf0\x03\x7e\x81\xf7" + NOTE + END)
    assert ours(good, read) == reference(good)
    assert _pretty_midi_refuses(bad)
    with pytest.raises(MidiReadError, match="sysex"):
        read(bad)


# --------------------------------------------------------------------------- compiled == Python byte loop
def _outcome(data: bytes, compiled: bool) -> tuple:
    """Everything a read gives (every field, dtypes included), or the error message."""
    try:
        s = midi._read(data, compiled)
    except MidiReadError as exc:
        return ("error", str(exc))
    arrays = [
        getattr(s, f) for f in ("pitch", "velocity", "instrument", "program", "is_drum", "start", "end")
    ]
    return (
        s.ticks_per_quarter, s.total_time, s.tempos, s.time_signatures, s.key_signatures,
        *[(a.dtype.str, a.tobytes()) for a in arrays],
    )  # fmt: skip


def _random_track(rng: np.random.Generator) -> bytes:
    """Events of every kind on few pitches and channels: running status, stacked same-pitch notes,
    program changes, drums, metas (known, unknown, malformed), sysex and the odd system byte."""
    body = bytearray()
    last = None
    for _ in range(int(rng.integers(1, 80))):
        body += midi._varint(int(rng.choice([0, 0, 1, 5, 120, 480, 3000, 20000])))
        r = rng.random()
        channel = int(rng.integers(0, 3)) if rng.random() < 0.9 else 9
        if r < 0.7:
            status = (0x90 if rng.random() < 0.6 else 0x80) | channel
            data = bytes([int(rng.integers(58, 64)), int(rng.choice([0, 1, 64, 100]))])
            body += data if status == last and rng.random() < 0.7 else bytes([status]) + data
            last = status
        elif r < 0.78:
            last = 0xC0 | channel
            body += bytes([last, int(rng.integers(0, 4))])
        elif r < 0.85:
            last = int(rng.choice([0xA0, 0xB0, 0xD0, 0xE0])) | channel
            body += bytes([last, 1, 2][: 2 if last >> 4 == 0xD else 3])
        elif r < 0.9:
            kind = int(rng.choice([0x51, 0x58, 0x59, 0x01, 0x03, 0x7F, 0x60, 0x2F, 0x21, 0x00, 0x20, 0x54]))
            payload = {0x51: b"\x07\xa1\x20", 0x58: b"\x06\x03\x18\x08"}.get(kind)
            if payload is None:
                payload = bytes(rng.integers(0, 8, int(rng.integers(0, 6))).astype(np.uint8))
            body += bytes([0xFF, kind]) + midi._varint(len(payload)) + payload
        elif r < 0.995:
            payload = bytes(rng.integers(0, 128, int(rng.integers(0, 5))).astype(np.uint8)) + b"\xf7"
            body += b"\xf0" + midi._varint(len(payload)) + payload
        else:
            body += bytes([int(rng.choice([0xF8, 0xFA, 0xF6, 0xF2]))])
    return bytes(body + b"\x00\xff\x2f\x00")


def _random_file(rng: np.random.Generator) -> bytes:
    tracks = [_random_track(rng) for _ in range(int(rng.integers(1, 4)))]
    head = b"MThd" + struct.pack(">LHHH", 6, 1, len(tracks), int(rng.choice([96, 220, 480])))
    return head + b"".join(b"MTrk" + struct.pack(">L", len(body)) + body for body in tracks)


def _mutated(rng: np.random.Generator, data: bytes) -> bytes:
    """Flipped, truncated, repeated or status-like bytes: files that break in every way."""
    data = bytearray(data)
    if len(data) < 16:
        return bytes(data)
    i = int(rng.integers(14, len(data)))
    how = int(rng.integers(0, 4))
    if how == 0:
        data[i] = int(rng.integers(0, 256))
    elif how == 1:
        data = data[:i]
    elif how == 2:
        data = data[:i] + data[i : i + int(rng.integers(1, 20))] + data[i:]
    else:
        data[i] = int(rng.choice([0x80, 0x90, 0xFF, 0xF0, 0xF7, 0x00, 0x7F, 0xC0]))
    return bytes(data)


def test_compiled_equals_python_byte_loop_on_corpora(corpora_dir):
    files = sorted(corpora_dir.rglob("*.mid"))
    assert len(files) > 1000
    for path in files:
        data = path.read_bytes()
        assert _outcome(data, True) == _outcome(data, False), path


def test_compiled_equals_python_byte_loop_on_random_and_broken_files(corpora_dir, monkeypatch):
    accepted = []
    parse = byte_parser._midi_events.parse_tracks

    def counting(*args):
        result = parse(*args)
        accepted.append(result is not None)
        return result

    monkeypatch.setattr(byte_parser._midi_events, "parse_tracks", counting)
    rng = np.random.default_rng(7)
    real = [p.read_bytes() for p in sorted(corpora_dir.rglob("*.mid"))[::10]]
    outcomes = []
    for case in range(3000):
        data = _random_file(rng) if case % 2 else _mutated(rng, real[int(rng.integers(len(real)))])
        if rng.random() < 0.3:
            data = _mutated(rng, data)
        compiled, python = _outcome(data, True), _outcome(data, False)
        assert compiled == python, f"case {case}: {str(compiled)[:300]} != {str(python)[:300]}"
        outcomes.append(compiled[0] == "error")
    # the cases must exercise both sides: files the C loop reads, files it hands back, and errors
    assert sum(accepted) > 600
    assert len(accepted) - sum(accepted) > 300
    assert 300 < sum(outcomes) < 2700


@pytest.mark.parametrize("n_bytes", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("where", ["delta time", "meta length", "sysex length"])
def test_compiled_equals_python_on_varints_of_every_length(n_bytes, where):
    """Up to 4 bytes read alike, more refused alike (the MIDI limit), wherever the number stands."""
    varint = b"\x80" * (n_bytes - 1) + b"\x02"  # the value 2, zero-padded to n_bytes
    body = {
        "delta time": b"\x00\x90\x3c\x5a" + varint + b"\x80\x3c\x00",
        "meta length": b"\x00\xff\x01" + varint + b"hi" + NOTE,
        "sysex length": b"\x00\xf0" + varint + b"\x01\xf7" + NOTE,
    }[where]
    data = raw_file(body + END)
    compiled, python = _outcome(data, True), _outcome(data, False)
    assert compiled == python
    if n_bytes <= 4:
        assert compiled[0] == 480  # read: ticks per quarter of raw_file
    else:
        assert compiled == (
            "error",
            "a variable-length number in track 0 is longer than 4 bytes (the MIDI limit)",
        )

"""Melody extraction: parity with Magenta's own converter output, and note-seq-style edge cases."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from musicneurons.data.melody import (
    CONFIGS,
    MelodyConfig,
    config_for_bars,
    extract_melodies,
    extract_windows,
    split_pieces,
    with_time_signature,
)
from musicneurons.data.midi import MidiScore, read_midi

NE, OFF = -2, -1  # Magenta melody events

FIXTURES = [
    ("nottingham", "cat-mel_2bar_big"),
    ("nottingham", "hierdec-mel_16bar"),
    ("pop909", "cat-mel_2bar_big"),
    ("pop909", "hierdec-mel_16bar"),
]


def _load(magenta_fixtures: Path, corpus: str, config: str) -> dict:
    path = magenta_fixtures / f"extraction_{corpus}_{config}.json"
    assert path.exists(), f"missing Magenta fixture {path}"
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- Magenta parity
@pytest.mark.parametrize(("corpus", "config_name"), FIXTURES)
def test_windows_equal_magenta_for_every_file(magenta_fixtures, corpus, config_name):
    fixture = _load(magenta_fixtures, corpus, config_name)
    config = CONFIGS[config_name]
    root = magenta_fixtures.parents[2]  # the folder that holds shared/
    mismatches = []
    n_checked = 0
    for rel, entry in fixture["files"].items():
        assert entry["parse_exception"] is None
        score = read_midi(root / rel)
        assert score.n_notes == entry["note_sequence"]["n_notes"], rel
        for variant, expected in entry["extraction"].items():
            source = with_time_signature(score) if variant == "ts4_4" else score
            everything = extract_windows(source, config, mode="all")
            default = extract_windows(source, config, mode="magenta")
            want_default = [expected["windows"][i] for i in expected["default_window_ids"]]
            n_checked += 1
            if sorted(everything.windows.tolist()) != expected["windows"]:
                mismatches.append((rel, variant, "all"))
            if default.windows.tolist() != want_default:
                mismatches.append((rel, variant, "magenta"))
    assert n_checked == sum(len(e["extraction"]) for e in fixture["files"].values())
    assert n_checked >= fixture["n_files"]
    assert not mismatches, f"{len(mismatches)} of {n_checked} differ, e.g. {mismatches[:5]}"


@pytest.mark.parametrize(("corpus", "config_name"), FIXTURES)
def test_every_piece_lists_its_windows_in_magentas_set_order(magenta_fixtures, corpus, config_name):
    """Without the 5-window cap, magenta mode gives each piece's whole list(set(...)) in order."""
    fixture = _load(magenta_fixtures, corpus, config_name)
    uncapped = dataclasses.replace(CONFIGS[config_name], max_windows=10**9)
    root = magenta_fixtures.parents[2]
    n_windows = 0
    for rel, entry in fixture["files"].items():
        score = read_midi(root / rel)
        for variant, expected in entry["extraction"].items():
            source = with_time_signature(score) if variant == "ts4_4" else score
            table = extract_windows(source, uncapped, mode="magenta")
            want = [expected["windows"][i] for piece in expected["pieces"] for i in piece["window_ids"]]
            assert len(want) == expected["n_windows_concat"]
            assert table.windows.tolist() == want, (rel, variant)
            n_windows += len(want)
    assert n_windows > 1000


@pytest.mark.parametrize("corpus", ["nottingham", "pop909"])
def test_melodies_equal_magenta_extractor(magenta_fixtures, corpus):
    """The per-piece melodies (2-bar fixtures list them): events, start and end steps, in order."""
    fixture = _load(magenta_fixtures, corpus, "cat-mel_2bar_big")
    root = magenta_fixtures.parents[2]
    config = CONFIGS["cat-mel_2bar_big"]
    n_melodies = 0
    for rel, entry in fixture["files"].items():
        score = read_midi(root / rel)
        for variant, expected in entry["extraction"].items():
            source = with_time_signature(score) if variant == "ts4_4" else score
            pieces = split_pieces(source)
            assert len(pieces) == len(expected["pieces"]), (rel, variant)
            for piece, want in zip(pieces, expected["pieces"], strict=True):
                assert piece.qpm == want["tempos"][0][1], (rel, variant)
            ours = [
                (m.piece, m.start_step, m.end_step, m.events.tolist())
                for m in extract_melodies(source, config)
            ]
            theirs = [
                (i, m["start_step"], m["end_step"], m["events"])
                for i, piece in enumerate(expected["pieces"])
                for m in piece["melodies"]
            ]
            assert ours == theirs, (rel, variant)
            n_melodies += len(theirs)
    assert n_melodies > 100


# --------------------------------------------------------------------------- hand-written cases
def make_score(
    tracks: list[list[tuple[int, int, float, float]]],
    *,
    qpm: float = 60.0,
    time_signatures: tuple = ((0.0, 4, 4),),
    programs: list[int] | None = None,
    drums: list[bool] | None = None,
) -> MidiScore:
    """A score from note-seq-style tracks of ``(pitch, velocity, start s, end s)``."""
    rows = [(i, *note) for i, notes in enumerate(tracks) for note in notes]
    programs = programs or [0] * len(tracks)
    drums = drums or [False] * len(tracks)
    inst = np.array([r[0] for r in rows], dtype=np.int32)
    return MidiScore(
        ticks_per_quarter=220,
        total_time=max(r[4] for r in rows),
        pitch=np.array([r[1] for r in rows], dtype=np.int16),
        velocity=np.array([r[2] for r in rows], dtype=np.int16),
        instrument=inst,
        program=np.array(programs, dtype=np.int16)[inst],
        is_drum=np.array(drums)[inst],
        start=np.array([r[3] for r in rows], dtype=np.float64),
        end=np.array([r[4] for r in rows], dtype=np.float64),
        tempos=((0.0, qpm),),
        time_signatures=tuple(time_signatures),
    )


# note_seq's own test grid: 1 step per quarter at 60 qpm, so 1 step = 1 s and a bar is 4 steps
SMALL = MelodyConfig("test", slice_bars=2, valid_programs=None, steps_per_quarter=1)


def melodies(score, config=SMALL):
    return [m.events.tolist() for m in extract_melodies(score, config)]


def test_consecutive_notes_strip_the_final_note_off():
    score = make_score([[(60, 100, 0, 2), (62, 100, 2, 4), (64, 100, 4, 8)]])
    assert melodies(score) == [[60, NE, 62, NE, 64, NE, NE, NE]]


def test_overlapping_note_is_truncated_by_the_next_start():
    score = make_score([[(60, 100, 0, 2), (67, 100, 1, 9), (65, 100, 3, 4)]])
    assert melodies(score) == [[60, 67, NE, 65]]


def test_highest_pitch_wins_and_note_off_is_readded_by_padding():
    score = make_score([[(60, 100, 1, 3), (72, 100, 1, 2), (64, 100, 1, 5)]])
    assert melodies(score) == [[NE, 72, OFF, NE]]


def test_magenta_data_test_sequence():
    """MusicVAE's data_test: two tracks, a one-bar gap, overlaps, highest pitch, deduped windows."""
    score = make_score(
        [
            [(32, 100, 2, 4), (33, 1, 6, 11), (34, 1, 11, 13), (35, 1, 17, 19)],
            [
                (35, 127, 2, 4),
                (36, 50, 6, 8),
                (71, 100, 33, 37),
                (73, 100, 34, 37),
                (33, 1, 50, 55),
                (34, 1, 55, 56),
            ],
        ]
    )
    unsliced = [
        [NE, NE, 32, NE, OFF, NE, 33, NE, NE, NE, NE, 34, NE, OFF, NE, NE],
        [NE, 35, NE, OFF],  # after a gap of a whole bar
        [NE, NE, 35, NE, OFF, NE, 36, NE],
        [NE, 71, 73, NE, NE, OFF, NE, NE],
        [NE, NE, 33, NE, NE, NE, NE, 34],
    ]
    assert melodies(score) == unsliced
    sliced = [
        [NE, NE, 32, NE, OFF, NE, 33, NE],
        [NE, NE, 33, NE, NE, NE, NE, 34],  # starts at an OFF, which becomes NO_EVENT
        [NE, NE, NE, 34, NE, OFF, NE, NE],
        [NE, NE, 35, NE, OFF, NE, 36, NE],
        [NE, 71, 73, NE, NE, OFF, NE, NE],
    ]
    expected = sorted([[0 if e == NE else 1 if e == OFF else e - 19 for e in w] for w in sliced])
    table = extract_windows(score, SMALL)
    assert sorted(table.windows.tolist()) == expected
    assert len(table) == 5  # the sixth window repeats the second one
    assert table.instrument.tolist() == [0, 0, 0, 1, 1]
    assert table.window_start.tolist() == [0, 4, 8, 0, 32]


def test_gap_of_a_bar_starts_a_new_melody():
    bar = 16 * 0.125  # 120 qpm, 4 steps per quarter
    score = make_score([[(60, 100, 0, bar / 2), (62, 100, 1.5 * bar, 2 * bar)]], qpm=120.0)
    found = extract_melodies(score, config_for_bars(2))
    assert [(m.start_step, m.end_step) for m in found] == [(0, 16), (16, 32)]


def test_two_two_passes_and_three_four_gives_nothing():
    notes = [[(60 + i, 100, 0.5 * i, 0.5 * i + 0.5) for i in range(16)]]  # 8 s at 120 qpm = 4 bars
    in_2_2 = make_score(notes, qpm=120.0, time_signatures=((0.0, 2, 2),))
    in_3_4 = make_score(notes, qpm=120.0, time_signatures=((0.0, 3, 4),))
    assert len(extract_windows(in_2_2, bars=2)) == 3
    assert len(extract_windows(in_3_4, bars=2)) == 0


def test_pitches_outside_piano_range_are_dropped_not_transposed():
    score = make_score([[(20, 100, 0, 1), (109, 100, 1, 2), (60, 100, 2, 4)]], qpm=60.0)
    assert melodies(score) == [[NE, NE, 60, NE]]


def test_programs_and_drums():
    # three 2-bar notes: piano, program 40 (violin) and a drum track, all starting together
    tracks = [[(60, 100, 0, 4)], [(72, 100, 0, 4)], [(84, 100, 0, 4)]]
    score = make_score(tracks, qpm=120.0, programs=[0, 40, 0], drums=[False, False, True])
    two_bar = extract_windows(score, bars=2)
    assert two_bar.windows.tolist() == [[60 - 19] + [0] * 31]  # violin is not a 2-bar melody program
    assert two_bar.instrument.tolist() == [0]
    sixteen = extract_windows(score, config=CONFIGS["hierdec-mel_16bar"])
    assert len(sixteen) == 0  # too short for 16 bars
    long_violin = make_score([[(60 + i % 12, 100, i, i + 1) for i in range(32)]], qpm=120.0, programs=[40])
    assert len(extract_windows(long_violin, bars=16)) == 1  # the 16-bar config keeps every program
    assert len(extract_windows(long_violin, bars=2)) == 0


def test_tempo_change_splits_pieces():
    score = make_score([[(60, 100, 0, 4), (62, 100, 4, 8)]], qpm=120.0)
    score = MidiScore(**{**score.__dict__, "tempos": ((0.0, 120.0), (4.0, 90.0))})
    pieces = split_pieces(score)
    assert [(p.start_time, p.qpm) for p in pieces] == [(0.0, 120.0), (4.0, 90.0)]
    table = extract_windows(score, bars=2)
    assert table.qpm.tolist() == [120.0, 90.0]
    assert table.piece.tolist() == [0, 1]


def test_melodies_are_cut_at_100_bars():
    # 101 bars of quarter notes at 120 qpm (0.5 s each, 4 per bar); no gap, so one long melody
    notes = [(60 + i % 5, 100, 0.5 * i, 0.5 * i + 0.5) for i in range(4 * 101)]
    found = extract_melodies(make_score([notes], qpm=120.0), config_for_bars(2))
    assert [(m.start_step, m.end_step) for m in found] == [(0, 1600)]
    assert len(extract_windows(make_score([notes], qpm=120.0), bars=2, mode="all")) == 5  # 5 distinct
    pitches = np.random.default_rng(0).integers(40, 90, size=404)  # no two windows alike
    varied = [(int(p), 100, 0.5 * i, 0.5 * i + 0.5) for i, p in enumerate(pitches)]
    table = extract_windows(make_score([varied], qpm=120.0), bars=2)
    assert len(table) == (1600 - 32) // 16 + 1
    assert table.window_start.max() == 1600 - 32  # the last window ends at the cut


# --------------------------------------------------------------------------- randomized, vs a literal port
def _set_length(events: list[int], steps: int) -> None:
    """note_seq's Melody.set_length on a plain list (pad with NO_EVENT, end a sustained note)."""
    old = len(events)
    if steps <= old:
        del events[steps:]
        return
    events.extend([NE] * (steps - old))
    for i in reversed(range(old)):
        if events[i] == OFF:
            break
        if events[i] != NE:
            events[old] = OFF
            break


def _reference_melodies(notes, bar=16, gap=16, max_steps=1600):
    """Melody.from_quantized_sequence + extract_melodies, step by step as note_seq writes them.

    ``notes`` are (start step, end step, pitch, playable) of one instrument in piece order.
    """
    melodies, search = [], 0
    while True:
        found = sorted((n for n in notes if n[0] >= search), key=lambda n: (n[0], -n[2]))
        if not found:
            return melodies
        start = found[0][0] - (found[0][0] - search) % bar
        events: list[int] = []
        for on, off_step, pitch, playable in found:
            if not playable:
                continue
            s, e = on - start, off_step - start
            if events:
                last_on = max(i for i, ev in enumerate(events) if ev >= 0)
                last_off = next((i for i in range(last_on, len(events)) if events[i] == OFF), len(events))
                if s == last_on:
                    continue
                if s - last_off >= gap:
                    break
            _set_length(events, e + 1)
            events[s] = pitch
            events[s + 1 : e] = [NE] * (e - s - 1)
            events[e] = OFF
        if not events:
            return melodies
        if events[-1] == OFF:
            del events[-1]
        _set_length(events, len(events) + (-len(events) % bar))
        end = start + len(events)
        search = end + (-end % bar)
        if len(events) > max_steps:
            _set_length(events, max_steps)
        melodies.append((start, events))


def test_random_scores_match_a_literal_port_of_note_seq():
    rng = np.random.default_rng(11)
    config = config_for_bars(2)
    step = 0.125  # 120 qpm, 4 steps per quarter
    for _ in range(300):
        tracks, expected = [], []
        for _inst in range(int(rng.integers(1, 4))):
            n = int(rng.integers(1, 40))
            starts = np.sort(rng.integers(0, 200, size=n)) + rng.choice([0, 40], size=n).cumsum() // 8
            lengths = rng.choice([1, 1, 2, 3, 4, 8, 20], size=n)
            pitches = rng.integers(21, 109, size=n)
            velocity = np.where(rng.random(n) < 0.05, 0, 90)
            tracks.append(
                [(int(p), int(v), float(s * step), float((s + d) * step))
                 for p, v, s, d in zip(pitches, velocity, starts, lengths, strict=True)]
            )  # fmt: skip
        score = make_score(tracks, qpm=120.0)
        order = np.argsort(score.start, kind="stable")  # piece order: by start time
        on_steps = np.rint(score.start / step).astype(int).tolist()  # times are exact multiples of a step
        off_steps = np.rint(score.end / step).astype(int).tolist()
        for inst in sorted(set(score.instrument.tolist())):
            notes = [
                (on_steps[i], off_steps[i], int(score.pitch[i]), bool(score.velocity[i] > 0))
                for i in order
                if score.instrument[i] == inst
            ]
            expected += [(inst, start, events) for start, events in _reference_melodies(notes)]
        ours = [(m.instrument, m.start_step, m.events.tolist()) for m in extract_melodies(score, config)]
        assert ours == expected

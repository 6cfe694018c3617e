"""The feature engine against music21 itself, against hand-computed values, and on edge cases.

music21 is the reference for the default convention: the stored fixture values and fresh music21 runs on a
few hundred real and random windows. The jSymbolic2 convention and the extra descriptors are checked against
values worked out by hand from their definitions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musicneurons import compute_features
from musicneurons.cli import main
from musicneurons.features.registry import (
    EXTRA_NAMES,
    FEATURE_GROUPS,
    FEATURE_NAMES,
    FEATURES,
    NAN_REASONS,
    count_nan_reasons,
    crosswalk,
)

TOL = 1e-9
JSYMBOLIC_IDS = list(FEATURES)  # P1 ... M19


# ----------------------------------------------------------------------------- reference helpers
def window_from_notes(notes: list[tuple[int, int, int]], n_steps: int) -> np.ndarray:
    """Class indices for non-overlapping (pitch, start, end) notes: onset class, NOTE_OFF at each gap."""
    window = np.zeros(n_steps, dtype=np.int8)
    for pitch, start, _ in notes:
        window[start] = pitch - 19
    for _, _, end in notes:
        if end < n_steps and window[end] == 0:
            window[end] = 1
    return window


def notes_from_window(window: np.ndarray) -> list[tuple[int, int, int]]:
    """The window contract spelled out as a plain loop (independent of the vectorised code under test)."""
    notes: list[tuple[int, int, int]] = []
    pitch, start = None, 0
    for step, cls in enumerate(int(c) for c in window):
        if cls >= 1 and pitch is not None:
            notes.append((pitch, start, step))
            pitch = None
        if cls >= 2:
            pitch, start = cls + 19, step
    if pitch is not None:
        notes.append((pitch, start, len(window)))
    return notes


def music21_features(notes: list[tuple[int, int, int]], qpm: float) -> dict[str, float]:
    """music21's values for the 50 features, built as the fixture generator describes (NaN = raised)."""
    from music21 import features, meter, note, stream, tempo
    from music21.features import jSymbolic

    part = stream.Part()
    part.insert(0, tempo.MetronomeMark(number=qpm))
    part.insert(0, meter.TimeSignature("4/4"))
    for pitch, start, end in notes:
        n = note.Note(pitch)
        n.quarterLength = (end - start) / 4
        part.insert(start / 4, n)
    data = features.DataInstance(part)
    values = {}
    for fid, spec in FEATURES.items():
        extractor = getattr(jSymbolic, spec.music21_class)()
        extractor.setData(data)
        try:
            values[fid] = float(extractor.extract().vector[0])
        except Exception:  # noqa: BLE001 - every music21 error is a NaN in our table
            values[fid] = math.nan
    return values


def assert_frame_matches(ours: pd.DataFrame, expected: list[dict[str, float]], labels: list[str]) -> None:
    """Every feature within TOL, NaN exactly where expected is NaN; reports every mismatch at once."""
    problems = []
    for row, (label, ref) in enumerate(zip(labels, expected, strict=True)):
        for fid, want in ref.items():
            got = ours[fid].iloc[row]
            if math.isnan(want) != math.isnan(got) or (not math.isnan(want) and abs(got - want) > TOL):
                problems.append(f"{label} {fid}: music21 {want!r}, ours {got!r}")
    assert not problems, "\n".join(problems[:40])


def random_paper_windows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random 2-bar sequences like the paper's section 5.1, with tempo varied too (1..8 s per window).

    2..32 onsets on the 16th grid, the first at step 0, each note held until the next, pitches uniform in
    30..100, total length 1..8 whole seconds (qpm = 8 quarters * 60 / seconds).
    """
    windows = np.zeros((n, 32), dtype=np.int8)
    for i in range(n):
        k = int(rng.integers(2, 33))
        onsets = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 32), size=k - 1, replace=False))])
        windows[i, onsets] = rng.integers(30, 101, size=k) - 19
    return windows, 480.0 / rng.integers(1, 9, size=n)


def load_magenta_windows(path: Path) -> np.ndarray:
    data = json.loads(path.read_text())
    rows = [w for f in data["files"].values() for ex in f["extraction"].values() for w in ex["windows"]]
    return np.array(rows, dtype=np.int8)


# ----------------------------------------------------------------------------- music21 parity
@pytest.fixture(scope="module")
def reference(music21_fixtures: Path) -> dict:
    return json.loads((music21_fixtures / "features_reference.json").read_text())


def test_fixture_lists_our_50_features(reference: dict) -> None:
    assert reference["feature_ids"] == JSYMBOLIC_IDS
    for fid, info in reference["feature_info"].items():
        assert FEATURES[fid].music21_class == info["music21_class"]
        assert FEATURES[fid].name == info["name"]


def test_equals_music21_reference_values(reference: dict) -> None:
    melodies = reference["melodies"]
    expected, labels, frames = [], [], []
    for m in melodies:
        window = window_from_notes(m["notes"], 16 * m["n_bars"])
        assert notes_from_window(window) == [tuple(x) for x in m["notes"]], m["id"]
        frames.append(compute_features(window[None], qpm=m["qpm"]))
        expected.append({k: math.nan if v is None else v for k, v in m["features"].items()})
        labels.append(m["id"])
        assert {k for k, v in m["features"].items() if v is None} == set(m["errors"])
    assert_frame_matches(pd.concat(frames, ignore_index=True), expected, labels)


def test_equals_music21_on_real_and_random_windows(magenta_fixtures: Path) -> None:
    """~400 windows built into music21 streams: real Nottingham 2- and 16-bar windows at tempi 60-200,
    random class noise, windows with many ties, the paper's random sequences at its tempi (60-480 qpm), and
    edge cases; every feature must agree."""
    rng = np.random.default_rng(20240506)
    real2 = load_magenta_windows(magenta_fixtures / "extraction_nottingham_cat-mel_2bar_big.json")
    real16 = load_magenta_windows(magenta_fixtures / "extraction_nottingham_hierdec-mel_16bar.json")
    rand2, rand_qpm = random_paper_windows(100, rng)
    edge = np.zeros((6, 32), dtype=np.int8)
    edge[1, 5] = 60 - 19  # one note held to the end
    edge[2, [0, 8, 16, 24]] = 67 - 19  # four repeated notes
    edge[3, [0, 2]] = [60 - 19, 1]  # one short note then silence
    edge[4, [0, 1, 2, 3]] = [72 - 19, 1, 84 - 19, 1]  # an octave between two staccato-length notes
    edge[5, [0, 16]] = [108 - 19, 21 - 19]  # the extremes of the piano
    # Noise: holds, NOTE_OFFs and any pitch (huge leaps, rests); few pitches: many ties for the top pitch.
    noise = np.where(rng.random((40, 32)) < 0.5, 0, rng.integers(1, 90, size=(40, 32))).astype(np.int8)
    noise16 = np.where(rng.random((8, 256)) < 0.6, 0, rng.integers(1, 90, size=(8, 256))).astype(np.int8)
    few = np.where(rng.random((40, 32)) < 0.6, 0, rng.choice([1, 41, 43, 48], size=(40, 32))).astype(np.int8)
    groups = [
        ("real2", real2[rng.choice(len(real2), 150, replace=False)], rng.uniform(60, 200, 150)),
        ("noise2", noise, rng.uniform(60, 200, 40)),
        ("noise16", noise16, rng.uniform(60, 200, 8)),
        ("few_pitches", few, rng.choice([60.0, 150.0, 175.0], size=40)),
        ("real16", real16[rng.choice(len(real16), 25, replace=False)], rng.uniform(60, 200, 25)),
        ("random2", rand2, rand_qpm),
        ("edge", edge, np.array([120.0, 60.0, 150.0, 151.0, 200.0, 75.5])),
    ]
    for name, windows, qpm in groups:
        ours = compute_features(windows, qpm=qpm)
        expected = [
            music21_features(notes_from_window(w), float(q)) for w, q in zip(windows, qpm, strict=True)
        ]
        assert_frame_matches(ours, expected, [f"{name}[{i}] qpm={q:.3f}" for i, q in enumerate(qpm)])


def test_empty_window_raises_where_music21_does() -> None:
    ours = compute_features(np.zeros((1, 32), dtype=np.int8), qpm=100.0)
    expected = music21_features([], 100.0)
    assert_frame_matches(ours, [expected], ["empty"])
    assert sum(math.isnan(v) for v in expected.values()) == 29  # as MEASURED.md reports


# ----------------------------------------------------------------------------- hand-computed values
def test_hand_computed_music21_values() -> None:
    # C4 quarter, E4 quarter, 8th rest, G4 dotted 8th, 16th rest, C4 whole note; 120 qpm = 0.125 s a step.
    notes = [(60, 0, 4), (64, 4, 8), (67, 10, 13), (60, 16, 32)]
    f = compute_features(window_from_notes(notes, 32)[None], qpm=120.0).iloc[0]
    assert f["P1"] == pytest.approx(2 / 4)  # C4 twice
    assert f["P8"] == 3
    assert f["P10"] == 7
    assert f["P11"] == 60
    assert f["P12"] == pytest.approx((60 + 64 + 67 + 60) / 4)
    assert f["R17"] == pytest.approx((0.5 + 0.5 + 0.375 + 2.0) / 4)
    assert f["R19"] == pytest.approx(2.0)
    assert f["R20"] == pytest.approx(0.375)
    assert f["R22"] == pytest.approx((0.5 + 0.75 + 0.75) / 3)
    assert f["R36"] == pytest.approx(4.0)
    assert f["R15"] == pytest.approx(4 / 4.0)
    assert f["M2"] == pytest.approx((4 + 3 + 7) / 3)  # intervals +4, +3, -7
    assert f["M17"] == pytest.approx(2 / 3)
    assert f["M18"] == pytest.approx(3 / 1)
    assert f["M19"] == pytest.approx(7 / 1)
    assert f["M8"] == pytest.approx(1.0)  # 3rds and a 5th only


def test_most_common_pitch_tie_goes_to_first_heard_in_music21_lowest_in_jsymbolic() -> None:
    window = window_from_notes([(67, 0, 8), (60, 8, 16), (67, 16, 24), (60, 24, 32)], 32)[None]
    assert compute_features(window)["P11"].iloc[0] == 67
    assert compute_features(window, convention="jsymbolic")["P11"].iloc[0] == 60


def test_jsymbolic_convention_follows_jsymbolic2_definitions() -> None:
    # A whole-tone line (no arpeggio interval), one repeated note, and a 24-semitone leap.
    step_line = window_from_notes([(60, 0, 4), (62, 4, 8), (64, 8, 12), (66, 12, 16)], 32)
    one_note = window_from_notes([(64, 0, 2)], 32)
    leap = window_from_notes([(48, 0, 4), (72, 4, 8), (84, 8, 12)], 32)
    empty = np.zeros(32, dtype=np.int8)
    windows = np.stack([step_line, one_note, leap, empty])
    m21 = compute_features(windows, qpm=100.4)
    js = compute_features(windows, qpm=100.4, convention="jsymbolic")
    assert math.isnan(m21["M8"].iloc[0])
    assert js["M8"].iloc[0] == 0.0
    assert not js[JSYMBOLIC_IDS].isna().any().any()
    assert m21["M15"].iloc[2] == pytest.approx(2 / 2)  # 24 and 12 semitones are both "octaves" in music21
    assert js["M15"].iloc[2] == pytest.approx(1 / 2)  # jSymbolic2 counts only 12
    assert js["P5"].iloc[1] == 64  # single pitch: jSymbolic2's 2nd bin is MIDI pitch 0
    assert m21["P5"].iloc[1] == 0
    assert js["R30"].iloc[0] == 100
    assert m21["R30"].iloc[0] == pytest.approx(100.4)
    # 4 quarter notes at 100.4 qpm: durations all equal, gaps all equal.
    quarter = 60 / 100.4
    assert js["R18"].iloc[0] == pytest.approx(0.0)
    assert js["R23"].iloc[0] == pytest.approx(0.0)
    assert js["R22"].iloc[1] == 0.0
    assert math.isnan(m21["R22"].iloc[1])
    assert js["R15"].iloc[1] == 0.0  # the piece lasts 2 * quarter / 4 < 1 s: jSymbolic2's integer test
    assert m21["R15"].iloc[1] == pytest.approx(1 / (quarter / 2))
    assert (js.iloc[3][JSYMBOLIC_IDS].drop("R30") == 0).all()


def test_jsymbolic_sample_standard_deviation() -> None:
    notes = [(60, 0, 2), (62, 2, 6), (64, 6, 14)]  # 2, 4, 8 steps at 60 qpm: 0.5, 1, 2 s
    window = window_from_notes(notes, 32)[None]
    durations = np.array([0.5, 1.0, 2.0])
    assert compute_features(window, qpm=60.0)["R18"].iloc[0] == pytest.approx(durations.std(ddof=0))
    js = compute_features(window, qpm=60.0, convention="jsymbolic")
    assert js["R18"].iloc[0] == pytest.approx(durations.std(ddof=1))


def test_extra_descriptors_hand_computed() -> None:
    # D4 at step 1 (odd 16th), F#4 at 6 (off-beat 8th), A4 at 8-12, rest, C#5 on step 29 to the end.
    notes = [(62, 1, 4), (66, 6, 8), (69, 8, 12), (73, 29, 32)]
    f = compute_features(window_from_notes(notes, 32)[None]).iloc[0]
    assert f["n_notes"] == 4
    assert f["pitch_range"] == 11
    assert f["n_pitch_classes"] == 4
    assert f["syncopation_16th"] == pytest.approx(2 / 4)  # steps 1 and 29
    assert f["syncopation_8th"] == pytest.approx(1 / 4)  # step 6
    assert f["c_diatonic"] == pytest.approx(2 / 4)  # D and A
    assert f["scale_consistency"] == pytest.approx(1.0)  # D, F#, A, C# all in D major
    assert f["pitch_class_entropy"] == pytest.approx(2.0)
    assert f["note_density_per_bar"] == pytest.approx(2.0)
    # Beats (4 steps): 0-3 D, 4-7 F#, 8-11 A; 12-27 silent (4 beats); 28-31 C#.
    assert f["empty_beat_rate"] == pytest.approx(4 / 8)


# ----------------------------------------------------------------------------- edge cases and API
def test_edge_cases_give_defined_output() -> None:
    rng = np.random.default_rng(3)
    windows = np.zeros((5, 256), dtype=np.int8)
    windows[1, 0] = 60 - 19  # one note for 16 bars
    windows[2, ::16] = 65 - 19  # all unison
    windows[3] = rng.integers(0, 90, size=256)
    windows[4, 255] = 70 - 19  # a single 16th at the very end
    for convention in ("music21", "jsymbolic"):
        for qpm in (60.0, 120.0, 200.0):
            f = compute_features(windows, qpm=qpm, convention=convention)
            assert f.shape == (5, len(FEATURE_GROUPS))
            assert np.isfinite(f.to_numpy()[~f.isna().to_numpy()]).all()
    f = compute_features(windows, qpm=np.array([60.0, 90.0, 120.0, 150.0, 200.0]))
    assert f["R36"].iloc[1] == pytest.approx(64 * 60 / 90)
    assert f["M17"].isna().iloc[2]
    assert f["M9"].iloc[2] == 1.0
    assert f["M3"].iloc[2] == 0.0
    assert f["empty_beat_rate"].iloc[0] == 1.0
    assert f["empty_beat_rate"].iloc[1] == 0.0
    assert f["R36"].iloc[4] == pytest.approx(256 / 4 * 60 / 200)
    assert compute_features(np.zeros((0, 32), dtype=np.int8)).shape == (0, len(FEATURE_GROUPS))


def test_nan_reasons_cover_exactly_where_music21_raises() -> None:
    """Each window gives NaN exactly for the features music21 raises on, and each NaN has a reason row."""
    windows = np.zeros((4, 32), dtype=np.int8)
    windows[1, 0] = 50  # one note: no interval
    windows[2, [0, 8]] = [40, 42]  # a major second: no arpeggio interval (M8)
    windows[3, [0, 8]] = [40, 40]  # a repeated pitch: no rising or falling interval (M17)
    counts = count_nan_reasons(compute_features(windows)).set_index("feature")
    raised = [
        {fid for fid, v in music21_features(notes_from_window(w), 120.0).items() if math.isnan(v)}
        for w in windows
    ]
    for fid in JSYMBOLIC_IDS:
        n_raised = sum(fid in r for r in raised)
        n_nan = int(counts.loc[fid, "n_nan"]) if fid in counts.index else 0
        assert n_nan == n_raised, f"{fid}: music21 raised on {n_raised} windows, we have {n_nan} NaN"
        if n_raised:
            assert counts.loc[fid, "reason"] == NAN_REASONS[fid]
    assert {"M8", "M17", "R22", "P1"} <= set(counts.index)  # hand-picked from the windows above
    assert "unison" in counts.loc["M8", "reason"]
    assert "rising or falling" in counts.loc["M17", "reason"]


def test_columns_groups_and_crosswalk() -> None:
    from music21.features import jSymbolic

    f = compute_features(np.zeros((2, 32), dtype=np.int8))
    assert list(f.columns) == list(FEATURE_GROUPS) == [*JSYMBOLIC_IDS, *EXTRA_NAMES]
    groups = pd.Series(FEATURE_GROUPS).value_counts()
    assert groups["P"] == 17
    assert groups["R"] == 16
    assert groups["M"] == 17
    assert set(FEATURE_NAMES) == set(FEATURE_GROUPS)
    table = crosswalk()
    for row in table.itertuples():
        assert getattr(jSymbolic, row.music21_class).id == row.music21_id
    # music21 spells two ids in lower case (checked against its classes just above)
    differs = {row.column: row.music21_id for row in table.itertuples() if row.music21_id != row.column}
    assert differs == {"M10": "m10", "M17": "m17"}


def test_docs_crosswalk_matches_the_table() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "features.md").read_text()
    for row in crosswalk().itertuples():
        line = f"| {row.column} | `{row.function}` | `{row.music21_id}` | `{row.music21_class}` | "
        assert line in doc, f"docs/features.md lacks the crosswalk row for {row.column}"


@pytest.mark.parametrize(
    ("windows", "qpm", "convention", "match"),
    [
        (np.zeros(32, dtype=np.int8), 120.0, "music21", "2-D"),
        (np.full((2, 32), 90), 120.0, "music21", "class index 90 at window 0, step 0"),
        (np.zeros((2, 32), dtype=np.int8), [120.0], "music21", r"shape \(2,\)"),
        (np.zeros((2, 32), dtype=np.int8), [120.0, 0.0], "music21", "qpm: 0.0 at window 1"),
        (np.zeros((2, 32), dtype=np.int8), 120.0, "jsymbolic2", "convention"),
    ],
)
def test_bad_input_is_refused(windows: np.ndarray, qpm: object, convention: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_features(windows, qpm=qpm, convention=convention)


# ----------------------------------------------------------------------------- command line
def test_cli_writes_features_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(7)
    windows, qpm = random_paper_windows(20, rng)
    table = pd.DataFrame({"source": "x.mid", "window": list(windows), "qpm": qpm})
    src = tmp_path / "windows.parquet"
    table.to_parquet(src)
    out = tmp_path / "features.parquet"
    assert main(["features", str(src), "--out", str(out)]) == 0
    written = pd.read_parquet(out)
    expected = compute_features(windows, qpm=qpm)
    assert list(written["window_id"]) == list(range(20))
    pd.testing.assert_frame_equal(written.drop(columns="window_id"), expected)
    assert main(["features", str(src), "--out", str(out), "--convention", "jsymbolic"]) != 0
    assert "exists" in capsys.readouterr().err
    assert main(["features", str(src), "--out", str(out), "--convention", "jsymbolic", "--overwrite"]) == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(out).drop(columns="window_id"), compute_features(windows, qpm, "jsymbolic")
    )
    assert not [p for p in tmp_path.iterdir() if p.name not in {"windows.parquet", "features.parquet"}]

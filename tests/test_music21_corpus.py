"""music21 corpus export: meters, pickup alignment, ties, chord symbols, MIDI writing, split stability."""

from __future__ import annotations

import hashlib

import mido
import numpy as np
import pandas as pd
import pytest

from musicneurons.data.music21_corpus import (
    TICKS_PER_QUARTER,
    meter_is_kept,
    parse_file,
    split_of,
    write_tune_midi,
)

pytest.importorskip("music21")  # the `corpus` extra; installed in the test environment

ABC = """X:1
T:Pickup Test
M:2/4
L:1/8
Q:1/4=100
K:C
G|"C"c2 d2-|d2 e2|]

X:2
T:A Jig
M:6/8
L:1/8
K:G
GAB cde|fga gfe|GAB cde|]
"""


def _notes_from_midi(path):
    """(pitch, start, end) in quarter notes, read back with mido."""
    mid = mido.MidiFile(path)
    now, open_, out = 0, {}, []
    for msg in mid.tracks[0]:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            open_[msg.note] = now
        elif msg.type in ("note_off", "note_on"):
            out.append((msg.note, open_.pop(msg.note) / TICKS_PER_QUARTER, now / TICKS_PER_QUARTER))
    return sorted(out, key=lambda n: n[1])


def test_meters_kept_are_those_with_four_quarter_bars():
    assert meter_is_kept(4, 4)
    assert meter_is_kept(2, 2)
    assert meter_is_kept(2, 4)
    assert meter_is_kept(4, 2)
    assert not meter_is_kept(3, 4)
    assert not meter_is_kept(6, 8)
    assert not meter_is_kept(3, 2)


def test_split_follows_the_sha1_recipe_and_is_proportional():
    # u = first 12 hex digits of sha1(key) / 16**12; train below 0.80, valid below 0.85, study above.
    # The embedded models were trained on these splits: the answers must never change.
    known = {
        "ryansMammoth/x.abc#0": "train",  # u = 0.5492
        "c/f2.abc#2": "study",  # u = 0.8989
        "c/f82.abc#5": "valid",  # u = 0.8305
        "c/f107.abc#2": "valid",  # u = 0.8132
        "c/f7.abc#0": "train",
    }
    for key, expected in known.items():
        u = int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / 16**12
        by_recipe = "train" if u < 0.80 else "valid" if u < 0.85 else "study"
        assert split_of(key) == by_recipe == expected, key
    names = [split_of(f"c/f{i}.abc#{i % 7}") for i in range(4000)]
    assert 0.75 < names.count("train") / 4000 < 0.85
    assert 0.03 < names.count("valid") / 4000 < 0.07
    assert 0.12 < names.count("study") / 4000 < 0.18


def test_abc_tune_pickup_ties_and_chord_symbols(tmp_path):
    (tmp_path / "t.abc").write_text(ABC)
    tunes = parse_file(str(tmp_path), "t.abc", "test")
    assert [t.status for t in tunes] == ["ok", "skipped"]
    assert "6/8" in tunes[1].reason
    tune = tunes[0]
    assert tune.title == "Pickup Test"
    assert tune.time_signature == "2/4"
    assert tune.qpm == pytest.approx(100.0)
    # pickup G (1/8 = 0.5 quarter) shifted so that the first full bar starts at 4.0; the tied d2-|d2 is one
    # note of 2 quarters; the chord symbol "C" adds nothing
    assert tune.notes == ((67, 3.5, 4.0), (72, 4.0, 5.0), (74, 5.0, 7.0), (76, 7.0, 8.0))
    write_tune_midi(tune, tmp_path / "t.mid")
    assert _notes_from_midi(tmp_path / "t.mid") == [
        (67, 3.5, 4.0),
        (72, 4.0, 5.0),
        (74, 5.0, 7.0),
        (76, 7.0, 8.0),
    ]
    msgs = mido.MidiFile(tmp_path / "t.mid").tracks[0]
    ts = next(m for m in msgs if m.type == "time_signature")
    assert (ts.numerator, ts.denominator) == (4, 4)  # 2/4 re-barred as 4/4
    tempo = next(m for m in msgs if m.type == "set_tempo")
    assert tempo.tempo == 600_000  # 100 qpm


def test_a_real_music21_tune():
    from musicneurons.data.music21_corpus import music21_corpus_dir

    rel = "ryansMammoth/42dHighlandRegimentStrathspey.abc"
    (tune,) = parse_file(str(music21_corpus_dir()), rel, "ryansMammoth")
    assert tune.status == "ok"
    assert tune.time_signature == "4/4"
    assert tune.title.startswith("42d Highland Regiment")
    # the ABC starts with an eighth-note pickup on e (E5 = 76): it lands half a quarter before bar 2
    assert tune.notes[0] == (76, 3.5, 4.0)


def test_a_one_tune_build_writes_every_split_even_empty_ones(tmp_path):
    from musicneurons.data.corpus import read_windows
    from musicneurons.data.music21_corpus import build_training_corpus, write_study_corpus

    rel = "ryansMammoth/42dHighlandRegimentStrathspey.abc"  # one 4/4 tune, in the train split
    assert split_of(f"{rel}#0") == "train"
    summary = build_training_corpus(tmp_path, collections=["ryansMammoth"], jobs=1, files=[rel])
    assert summary["tunes_per_split"] == {"train": 1}
    train, meta = read_windows(tmp_path / "windows_2bar" / "train")
    assert summary["windows"]["2bar_train"] == len(train) > 5
    assert summary["windows"]["2bar_valid"] == summary["windows"]["2bar_study"] == 0
    with np.load(tmp_path / "study_2bar.npz") as empty:
        assert empty["windows"].shape == (0, 32)  # an empty split gives an empty corpus, not a crash
    provenance = pd.read_parquet(tmp_path / "provenance.parquet")
    n = write_study_corpus(
        tmp_path / "windows_2bar" / "train" / "windows.parquet",
        provenance,
        tmp_path / "five.npz",
        max_windows=5,
        rng=np.random.default_rng(0),
        source_prefix="midi/train/",
    )
    assert n == 5
    with np.load(tmp_path / "five.npz") as five:
        rows = five["window_id"]
        assert rows.tolist() == [0, 1, 2, 3, 4]
        chosen = [train.tolist().index(w) for w in five["windows"].tolist()]
        assert chosen == sorted(chosen)  # drawn, then put back in corpus order
        assert five["title"][0].startswith("42d Highland Regiment")
        np.testing.assert_array_equal(five["qpm"], meta["qpm"].to_numpy(np.float32)[chosen])

"""Negative windows for the detector: what each generator keeps and what it changes, checked per row."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.data.negatives import (
    MAJOR_SCALE,
    NEGATIVES,
    random_walk,
    shuffle_pitches,
    shuffle_rhythm,
    uniform_notes,
)
from musicneurons.data.random_melodies import random_melodies

# C4 D4 E4 (held), rest, G4 C5: 60 -> class 41 (MIDI pitch - 19)
ROW = np.array([0, 0, 41, 0, 43, 0, 45, 0, 0, 0, 1, 0, 48, 0, 53, 0], dtype=np.int8)


def _real(n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = [ROW.copy()] + [
        np.where(ROW >= 2, rng.integers(40, 60, size=ROW.size), ROW).astype(np.int8) for _ in range(n - 1)
    ]
    return np.stack(rows)


def _segments(row):
    starts = np.flatnonzero(row != 0)
    return row[starts], np.diff(np.r_[starts, row.size]), starts[0]


def test_shuffle_pitches_keeps_rhythm_and_pitch_multiset():
    real = _real()
    out = shuffle_pitches(real, np.random.default_rng(1))
    assert out.dtype == np.int8
    assert out.shape == real.shape
    np.testing.assert_array_equal(out >= 2, real >= 2)
    np.testing.assert_array_equal(out == 1, real == 1)
    for a, b in zip(real, out, strict=True):
        assert sorted(a[a >= 2]) == sorted(b[b >= 2])
    assert (out != real).any(axis=1).mean() > 0.8


def test_shuffle_rhythm_keeps_pitch_order_and_durations():
    real = _real()
    out = shuffle_rhythm(real, np.random.default_rng(2))
    changed = 0
    for a, b in zip(real, out, strict=True):
        codes_a, lengths_a, lead_a = _segments(a)
        codes_b, lengths_b, lead_b = _segments(b)
        np.testing.assert_array_equal(codes_a, codes_b)
        assert sorted(lengths_a) == sorted(lengths_b)
        assert lead_a == lead_b == 2
        changed += not np.array_equal(lengths_a, lengths_b)
    assert changed > 30


def test_random_walk_keeps_rhythm_and_stays_in_one_major_key():
    real = _real()
    out = random_walk(real, np.random.default_rng(3))
    np.testing.assert_array_equal(out >= 2, real >= 2)
    np.testing.assert_array_equal(out == 1, real == 1)
    for row in out:
        midi = row[row >= 2].astype(int) + 19
        assert any(all((p - tonic) % 12 in MAJOR_SCALE for p in midi) for tonic in range(12))
        assert np.abs(np.diff(midi)).max() <= 4  # at most two scale degrees (a major third) per onset
        assert 21 <= midi.min() <= midi.max() <= 108
    # the walk starts on the scale note nearest the first real pitch
    first_real = real[:, 2].astype(int) + 19
    assert np.abs(out[:, 2].astype(int) + 19 - first_real).max() <= 1


def test_uniform_notes_is_the_paper_baseline():
    real = np.zeros((5, 32), dtype=np.int8)
    np.testing.assert_array_equal(
        uniform_notes(real, np.random.default_rng(4)), random_melodies(5, np.random.default_rng(4))[0]
    )
    assert uniform_notes(np.zeros((3, 256), np.int8), np.random.default_rng(5)).shape == (3, 256)
    with pytest.raises(ValueError, match="multiple of 32"):
        uniform_notes(np.zeros((2, 30), np.int8), np.random.default_rng(0))


def test_every_negative_is_windows_in_windows_out():
    real = np.tile(_real(4), (1, 2))  # 32 steps
    for name, make in NEGATIVES.items():
        out = make(real, np.random.default_rng(0))
        assert out.shape == real.shape, name
        assert out.dtype == np.int8, name
        assert 0 <= out.min() <= out.max() <= 89, name
        np.testing.assert_array_equal(out, make(real, np.random.default_rng(0)))  # seeded
    with pytest.raises(ValueError, match="class indices"):
        shuffle_pitches(np.array([[0, 95]]), np.random.default_rng(0))

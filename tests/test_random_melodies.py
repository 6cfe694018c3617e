"""Random melodies follow the paper's §5.1 recipe (checked against the recipe, not the code)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from musicneurons.data.encoding import notes_from_classes
from musicneurons.data.random_melodies import random_melodies


def test_shapes_dtypes_and_reproducibility():
    windows, qpm = random_melodies(500, np.random.default_rng(7))
    assert windows.shape == (500, 32)
    assert windows.dtype == np.int8
    assert qpm.shape == (500,)
    again, qpm_again = random_melodies(500, np.random.default_rng(7))
    np.testing.assert_array_equal(windows, again)
    np.testing.assert_array_equal(qpm, qpm_again)
    other, _ = random_melodies(500, np.random.default_rng(8))
    assert not np.array_equal(windows, other)


def test_each_sequence_follows_the_recipe():
    windows, qpm = random_melodies(2000, np.random.default_rng(0))
    for window in windows:
        notes = notes_from_classes(window)
        assert 2 <= len(notes) <= 32
        assert notes[0][1] == 0  # the first note starts at step 0
        assert notes[-1][2] == 32  # the last one lasts until the end of bar 2
        for (_, _, end), (_, start, _) in itertools.pairwise(notes):
            assert end == start  # held until the next note: always exactly one note sounding
        assert all(30 <= pitch <= 100 for pitch, _, _ in notes)
    assert not (windows == 1).any()  # never a NOTE_OFF
    seconds = 480.0 / qpm
    np.testing.assert_array_equal(seconds, np.round(seconds))
    assert set(seconds.astype(int).tolist()) == set(range(1, 9))


def test_distributions_are_uniform():
    windows, qpm = random_melodies(40_000, np.random.default_rng(1))
    onsets = windows > 1
    n_notes = onsets.sum(axis=1)
    counts = np.bincount(n_notes, minlength=33)[2:]
    assert counts.size == 31
    assert counts.min() > 0.8 * 40_000 / 31
    assert counts.max() < 1.2 * 40_000 / 31
    pitches = windows[onsets].astype(int) + 19
    assert pitches.min() == 30
    assert pitches.max() == 100
    pitch_counts = np.bincount(pitches - 30)
    assert pitch_counts.min() > 0.9 * pitch_counts.mean()
    # given the number of notes, every later step is equally likely to hold an onset
    later = onsets[:, 1:].mean(axis=0)
    assert later.max() - later.min() < 0.03
    seconds = np.bincount((480.0 / qpm).astype(int))[1:]
    assert seconds.min() > 0.9 * seconds.mean()


def test_negative_count_is_refused():
    with pytest.raises(ValueError, match="n must be"):
        random_melodies(-1, np.random.default_rng(0))

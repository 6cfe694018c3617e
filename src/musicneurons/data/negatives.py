"""Negative examples for a music-vs-noise detector, from easy to hard: windows in, windows out.

Every generator takes real windows ``(n, T)`` (90-class indices: 0 = NO_EVENT holds, 1 = NOTE_OFF, k >= 2 =
MIDI pitch k + 19) and a ``numpy.random.Generator`` and returns new int8 windows of the same shape, row i made
from (or standing in for) input row i, so per-row metadata (source piece, tempo) carries over:

- :func:`uniform_notes`: the paper's uniform random note sequences (``random_melodies``; nothing of the input
  is kept but its shape);
- :func:`shuffle_pitches`: the window's pitches permuted over its onsets (rhythm, rests and pitch set kept);
- :func:`shuffle_rhythm`: the window's note and rest durations permuted (pitch order kept);
- :func:`random_walk`: a random walk on the scale of a random major key, one scale step of -2..2 per onset,
  on the window's rhythm (the hardest: tonal, real rhythm, plausible contour).
"""

from __future__ import annotations

import numpy as np

from musicneurons.constants import FIRST_PITCH_CLASS, MAX_PITCH, MIN_PITCH, NO_EVENT_CLASS
from musicneurons.data.random_melodies import WINDOW_STEPS, random_melodies

__all__ = ["NEGATIVES", "random_walk", "shuffle_pitches", "shuffle_rhythm", "uniform_notes"]

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)  # semitones above the tonic
MAX_WALK_STEP = 2  # scale degrees per onset, inclusive


def _windows(windows: object) -> np.ndarray:
    w = np.asarray(windows)
    if w.ndim != 2 or (w.size and (w.min() < 0 or w.max() > MAX_PITCH - MIN_PITCH + FIRST_PITCH_CLASS)):
        msg = f"windows must be (n, T) class indices in 0..89, got shape {w.shape}"
        raise ValueError(msg)
    return w.astype(np.int8)


def uniform_notes(windows: object, rng: np.random.Generator) -> np.ndarray:
    """The paper's uniform random note sequences (§5.1), one per input row, same length.

    A window of T steps (a multiple of 32) is T / 32 independent 2-bar sequences of
    :func:`~musicneurons.data.random_melodies.random_melodies` (their random tempo is dropped: reuse the input
    row's).
    """
    w = _windows(windows)
    n, steps = w.shape
    if steps % WINDOW_STEPS:
        msg = f"uniform_notes needs windows of a multiple of {WINDOW_STEPS} steps, got {steps}"
        raise ValueError(msg)
    blocks = [random_melodies(n, rng)[0] for _ in range(steps // WINDOW_STEPS)]
    return np.concatenate(blocks, axis=1).astype(np.int8) if blocks else w.copy()


def shuffle_pitches(windows: object, rng: np.random.Generator) -> np.ndarray:
    """Each window with the pitches of its onsets randomly permuted; holds, NOTE_OFFs and onset steps kept."""
    out = _windows(windows).copy()
    for row in out:
        onsets = np.flatnonzero(row >= FIRST_PITCH_CLASS)
        row[onsets] = rng.permutation(row[onsets])
    return out


def _segments(row: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(leading hold length, event codes, event lengths): an event is an onset or NOTE_OFF plus its holds."""
    starts = np.flatnonzero(row != NO_EVENT_CLASS)
    lead = int(starts[0]) if starts.size else row.size
    lengths = np.diff(np.r_[starts, row.size])
    return lead, row[starts], lengths


def shuffle_rhythm(windows: object, rng: np.random.Generator) -> np.ndarray:
    """Each window with the durations of its events (notes and rests) randomly permuted, in pitch order.

    The events (onsets and NOTE_OFFs) keep their order and the leading holds (a note begun before the window)
    keep their length; only which event lasts how long changes, so the pitch sequence, the number of notes
    and the multiset of durations are those of the input.
    """
    w = _windows(windows)
    out = np.full_like(w, NO_EVENT_CLASS)
    for i, row in enumerate(w):
        lead, codes, lengths = _segments(row)
        starts = lead + np.r_[0, np.cumsum(rng.permutation(lengths))[:-1]].astype(np.int64)
        out[i, starts] = codes
    return out


def random_walk(windows: object, rng: np.random.Generator) -> np.ndarray:
    """Each window's rhythm with new pitches: a random walk in a random major key.

    Per row a tonic is uniform on the 12 pitch classes; the walk starts on the scale note nearest the window's
    first pitch (MIDI 60 when it has none) and moves by a uniform number of scale degrees in -2..2 at each
    onset, reflected back into MIDI 21..108.
    """
    w = _windows(windows)
    out = w.copy()
    scale = np.array(MAJOR_SCALE)
    for i, row in enumerate(w):
        onsets = np.flatnonzero(row >= FIRST_PITCH_CLASS)
        if onsets.size == 0:
            continue
        tonic = int(rng.integers(12))
        pitches = np.array([p for p in range(MIN_PITCH, MAX_PITCH + 1) if (p - tonic) % 12 in scale])
        first = int(row[onsets[0]]) - FIRST_PITCH_CLASS + MIN_PITCH
        degree = int(np.argmin(np.abs(pitches - first)))
        steps = rng.integers(-MAX_WALK_STEP, MAX_WALK_STEP + 1, size=onsets.size)
        steps[0] = 0
        walk = degree + np.cumsum(steps)
        top = len(pitches) - 1
        walk = np.abs(walk)  # reflect at the bottom ...
        walk = top - np.abs(top - (walk % (2 * top)))  # ... and at the top
        out[i, onsets] = pitches[walk] - MIN_PITCH + FIRST_PITCH_CLASS
    return out


# name -> generator, easy to hard (the detector's ladder)
NEGATIVES = {
    "uniform": uniform_notes,
    "shuffled_pitches": shuffle_pitches,
    "shuffled_rhythm": shuffle_rhythm,
    "random_walk": random_walk,
}

"""Random 2-bar note sequences, the baseline of the paper's §5.1 ("Generating the data").

Each sequence switches on a random number of notes, uniform on the integers 2..32, at distinct
16th-note steps of two 4/4 bars, the first at step 0. Every note is held until the next one starts and
the last until the end of bar 2, so exactly one note sounds at any time (no NOTE_OFF, no rest).
Pitches are uniform on the integers 30..100 (MIDI, inclusive). The whole sequence lasts a uniform
integer number of seconds, 1..8 inclusive, so each sequence has its own tempo: two bars are 8 quarter
notes, hence ``qpm = 480 / seconds``.
"""

from __future__ import annotations

import numpy as np

from musicneurons.constants import FIRST_PITCH_CLASS, MIN_PITCH, NO_EVENT_CLASS, STEPS_PER_BAR

__all__ = ["random_melodies"]

WINDOW_STEPS = 2 * STEPS_PER_BAR  # 32
MIN_NOTES, MAX_NOTES = 2, 32  # number of note-ons, inclusive
MIN_RANDOM_PITCH, MAX_RANDOM_PITCH = 30, 100  # inclusive
MIN_SECONDS, MAX_SECONDS = 1, 8  # total duration of the two bars, inclusive


def random_melodies(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` random 2-bar melodies as in the paper's §5.1.

    Parameters
    ----------
    n : int
        Number of sequences.
    rng : numpy.random.Generator
        Source of randomness (the same generator state gives the same sequences).

    Returns
    -------
    windows : np.ndarray of int8, shape (n, 32)
        90-class indices: a pitch class (MIDI pitch - 19) at each onset, NO_EVENT (0) elsewhere.
    qpm : np.ndarray of float64, shape (n,)
        Tempo of each sequence, ``480 / seconds`` with seconds uniform in 1..8.
    """
    if n < 0:
        msg = f"n must be >= 0, got {n}"
        raise ValueError(msg)
    n_notes = rng.integers(MIN_NOTES, MAX_NOTES + 1, size=n)
    # onsets: step 0 plus n_notes - 1 distinct steps among 1..31, via a random ranking of those steps
    ranks = rng.random((n, WINDOW_STEPS - 1)).argsort(axis=1).argsort(axis=1)
    onsets = np.zeros((n, WINDOW_STEPS), dtype=bool)
    onsets[:, 0] = True
    onsets[:, 1:] = ranks < (n_notes - 1)[:, None]
    pitches = rng.integers(MIN_RANDOM_PITCH, MAX_RANDOM_PITCH + 1, size=(n, WINDOW_STEPS))
    windows = np.where(onsets, pitches - MIN_PITCH + FIRST_PITCH_CLASS, NO_EVENT_CLASS).astype(np.int8)
    seconds = rng.integers(MIN_SECONDS, MAX_SECONDS + 1, size=n)
    qpm = 480.0 / seconds
    return windows, qpm

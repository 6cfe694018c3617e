"""jSymbolic pitch-statistics features (music21 ids P1-P16, P22), vectorised over a :class:`NoteBatch`.

Every function takes a :class:`~musicneurons.features.notes.NoteBatch` and a ``convention`` and returns a
float64 array of shape (n_windows,).

- ``"music21"`` reproduces music21 10.5.1 (``music21.features.jSymbolic``) exactly, NaN where it raises.
  Its "most common pitch" breaks ties by the pitch heard first (a ``Counter`` keeps first-insertion order).
- ``"jsymbolic"`` follows jSymbolic2 (DDMAL/jSymbolic2, ``features/pitchstatistics``): histograms are
  normalised, empty input gives 0 instead of an error, and ties go to the lowest pitch.

All counts are of note onsets ("Note Ons"), as in both references.
"""

from __future__ import annotations

import numpy as np

from musicneurons.features.notes import (
    MIN_PITCH,
    MUSIC21,
    NoteBatch,
    count_bins_with_share,
    divide,
    per_window_max,
    top_two_bins,
    undefined_value,
)


def _fraction(count: np.ndarray, batch: NoteBatch, convention: str) -> np.ndarray:
    total = batch.n_notes
    return divide(count, total, where=total > 0, fill=undefined_value(convention))


def _top_two_pitches_first_heard(batch: NoteBatch) -> tuple[np.ndarray, ...]:
    """Most and second most common pitch with music21's tie rule (the pitch heard first wins).

    Returns ``(pitch1, count1, pitch2, count2)``, each shape (n,); a pitch is 0 and its count 0 where the
    window has no such pitch.
    """
    return batch.memo("top_two_pitches_first_heard", _compute_top_two_pitches_first_heard)


def _compute_top_two_pitches_first_heard(batch: NoteBatch) -> tuple[np.ndarray, ...]:
    n, steps = batch.n_windows, batch.n_steps
    count = batch.pitch_hist[batch.win, batch.pitch - MIN_PITCH]
    # One key per note: higher count first, then earlier onset; the winning note is the first onset of the
    # winning pitch, which is exactly how Counter.most_common orders equal counts.
    key = count * (steps + 1) + (steps - batch.start)
    best = per_window_max(key, batch.first_note, fill=-1)
    pitch1 = np.zeros(n, dtype=np.int64)
    is_best = key == best[batch.win]
    pitch1[batch.win[is_best]] = batch.pitch[is_best]
    key2 = np.where(batch.pitch == pitch1[batch.win], -1, key)
    second = per_window_max(key2, batch.first_note, fill=-1)
    pitch2 = np.zeros(n, dtype=np.int64)
    is_second = (key2 == second[batch.win]) & (key2 >= 0)
    pitch2[batch.win[is_second]] = batch.pitch[is_second]
    count1 = np.where(best >= 0, best // (steps + 1), 0)
    count2 = np.where(second >= 0, second // (steps + 1), 0)
    return pitch1, count1, pitch2, count2


def most_common_pitch_prevalence(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P1: fraction of notes that have the most common pitch. Empty: NaN (music21 raises) / 0 (jSymbolic2)."""
    return _fraction(batch.pitch_hist.max(axis=1), batch, convention)


def most_common_pitch_class_prevalence(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P2: fraction of notes that have the most common pitch class. Empty: NaN / 0."""
    return _fraction(batch.pc_hist.max(axis=1), batch, convention)


def relative_strength_of_top_pitches(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P3: count of the 2nd most common pitch / count of the most common. 0 with fewer than two pitches."""
    _, count1, _, count2 = _top_two_pitches_first_heard(batch)
    return divide(count2, count1, where=count2 > 0, fill=0.0)


def relative_strength_of_top_pitch_classes(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P4: count of the 2nd most common pitch class / count of the most common. Empty: NaN / 0.

    With a single pitch class music21 gives 0; jSymbolic2 gives 1 if that class is C (it reads bin 0 as the
    "second" bin) and 0 otherwise.
    """
    _, count1, _, count2 = top_two_bins(batch.pc_hist, convention)
    return divide(count2, count1, where=count1 > 0, fill=undefined_value(convention))


def interval_between_strongest_pitches(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P5: |most common pitch - 2nd most common pitch| in semitones.

    music21: ties go to the pitch heard first; 0 with fewer than two pitches. jSymbolic2: ties go to the lower
    pitch, and with a single pitch the "second" bin is MIDI pitch 0, so the value is that pitch itself.
    """
    if convention == MUSIC21:
        pitch1, _, pitch2, count2 = _top_two_pitches_first_heard(batch)
        return np.where(count2 > 0, np.abs(pitch1 - pitch2), 0).astype(np.float64)
    # Our pitch bins start at MIDI 21, jSymbolic2's at 0: look the 2nd bin up music21's way (0 when absent).
    index1, _, index2, count2 = top_two_bins(batch.pitch_hist, MUSIC21)
    pitch1 = np.where(batch.n_notes > 0, index1 + MIN_PITCH, 0)
    pitch2 = np.where(count2 > 0, index2 + MIN_PITCH, 0)
    return np.abs(pitch1 - pitch2).astype(np.float64)


def interval_between_strongest_pitch_classes(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P6: |most common pitch class - 2nd most common| (0..11), ties to the lower class, in both conventions.

    With a single pitch class the second index is 0 (C) in both music21 and jSymbolic2. Empty: 0.
    """
    index1, _, index2, _ = top_two_bins(batch.pc_hist, convention)
    return np.abs(index1 - index2).astype(np.float64)


def number_of_common_pitches(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P7: number of pitches that account individually for at least 9% of the notes. Empty: 0."""
    return count_bins_with_share(batch.pitch_hist, batch.n_notes, 0.09)


def pitch_variety(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P8: number of distinct pitches. Empty: 0."""
    return (batch.pitch_hist > 0).sum(axis=1).astype(np.float64)


def pitch_class_variety(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P9: number of distinct pitch classes. Empty: 0."""
    return (batch.pc_hist > 0).sum(axis=1).astype(np.float64)


def range_(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P10 (Range): highest minus lowest pitch in semitones. Empty: NaN / 0."""
    present = batch.pitch_hist > 0
    n_bins = present.shape[1]
    lowest = np.argmax(present, axis=1)
    highest = n_bins - 1 - np.argmax(present[:, ::-1], axis=1)
    return np.where(batch.n_notes > 0, highest - lowest, undefined_value(convention)).astype(np.float64)


def most_common_pitch(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P11: MIDI pitch of the most common pitch. Empty: 0.

    Ties: music21 takes the pitch heard first, jSymbolic2 the lowest pitch.
    """
    if convention == MUSIC21:
        pitch1, *_ = _top_two_pitches_first_heard(batch)
        return pitch1.astype(np.float64)
    lowest_top = np.argmax(batch.pitch_hist, axis=1) + MIN_PITCH
    return np.where(batch.n_notes > 0, lowest_top, 0).astype(np.float64)


def primary_register(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P12 (Primary Register; jSymbolic2 "Mean Pitch"): mean MIDI pitch of the notes. Empty: NaN / 0."""
    total = batch.pitch_hist @ np.arange(MIN_PITCH, MIN_PITCH + batch.pitch_hist.shape[1])
    return _fraction(total, batch, convention)


def _register_share(batch: NoteBatch, convention: str, low: int, high: int) -> np.ndarray:
    lo = max(low - MIN_PITCH, 0)
    hi = max(high - MIN_PITCH + 1, 0)
    return _fraction(batch.pitch_hist[:, lo:hi].sum(axis=1), batch, convention)


def importance_of_bass_register(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P13: fraction of notes with MIDI pitch 0..54. Empty: NaN / 0."""
    return _register_share(batch, convention, 0, 54)


def importance_of_middle_register(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P14: fraction of notes with MIDI pitch 55..72. Empty: NaN / 0."""
    return _register_share(batch, convention, 55, 72)


def importance_of_high_register(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P15: fraction of notes with MIDI pitch 73..127. Empty: NaN / 0."""
    return _register_share(batch, convention, 73, 127)


def most_common_pitch_class(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P16: most common pitch class (0 = C .. 11 = B), ties to the lowest class. Empty: 0."""
    return np.argmax(batch.pc_hist, axis=1).astype(np.float64)


def quality(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """P22 (Quality; jSymbolic2 "Major or Minor"): 1 if the key signature says minor, else 0.

    Windows carry no key signature, so both references return 0 for every window.
    """
    return np.zeros(batch.n_windows)

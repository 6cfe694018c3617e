"""jSymbolic melodic-interval features (music21 ids M2-M19), vectorised over a :class:`NoteBatch`.

A melodic interval joins two consecutive notes of a window (rests in between do not break the line), in
semitones; the histogram counts absolute sizes. Direction features use the signed intervals.

- ``"music21"`` reproduces music21 10.5.1 exactly: NaN where it raises. With no interval at all (fewer than
  two notes) M2, M5-M7 and M10-M15 raise and M17 raises; M8 raises when intervals exist but none is an
  "arpeggio" interval; M17 also raises when every interval is a unison. M3, M4, M9, M18 and M19 never raise.
- ``"jsymbolic"`` follows jSymbolic2 (DDMAL/jSymbolic2, ``features/melodicintervals``): 0 instead of every
  error, and Melodic Octaves counts only the octave itself (music21 also counts 2, 4, 5, ... octaves).
"""

from __future__ import annotations

import numpy as np

from musicneurons.features.notes import (
    MUSIC21,
    NoteBatch,
    count_bins_with_share,
    divide,
    segment_starts,
    top_two_bins,
    undefined_value,
)

ARPEGGIO_INTERVALS = (0, 3, 4, 7, 10, 11, 12, 15, 16)  # M8: unison, 3rds, 5th, 7ths, octave, 10ths
# M15 in music21: 12, 24, 48, 60, ... semitones (its list skips 36), within our 0..87 interval range.
MUSIC21_OCTAVES = (12, 24, 48, 60, 72, 84)


def _share(batch: NoteBatch, sizes: tuple[int, ...], convention: str) -> np.ndarray:
    """Fraction of the melodic intervals whose absolute size is in ``sizes``; no interval: NaN / 0."""
    count = batch.interval_hist[:, list(sizes)].sum(axis=1)
    total = batch.n_intervals
    return divide(count, total, where=total > 0, fill=undefined_value(convention))


def _top_two(batch: NoteBatch, convention: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Most and 2nd most common absolute interval (ties to the smaller) and their counts.

    Where only one interval size occurs, the 2nd index is 0 in both references; music21 then reads its count
    from the histogram with the top bin zeroed (0), jSymbolic2 from the original histogram, so a window of
    only unisons has ``count2 == count1`` there.
    """
    return top_two_bins(batch.interval_hist, convention)


def average_melodic_interval(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M2 (jSymbolic2 "Mean Melodic Interval"): mean absolute melodic interval in semitones. None: NaN / 0."""
    total = batch.interval_hist @ np.arange(batch.interval_hist.shape[1])
    return divide(total, batch.n_intervals, where=batch.n_intervals > 0, fill=undefined_value(convention))


def most_common_melodic_interval(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M3: most common absolute interval in semitones (ties to the smaller). None: 0."""
    return np.argmax(batch.interval_hist, axis=1).astype(np.float64)


def distance_between_most_common_melodic_intervals(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M4: |most common - 2nd most common absolute interval|. One interval size: that size. None: 0."""
    index1, _, index2, _ = _top_two(batch, convention)
    return np.abs(index1 - index2).astype(np.float64)


def most_common_melodic_interval_prevalence(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M5: fraction of intervals that are the most common interval. None: NaN / 0."""
    total = batch.n_intervals
    return divide(batch.interval_hist.max(axis=1), total, where=total > 0, fill=undefined_value(convention))


def relative_strength_of_most_common_intervals(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M6: count of the 2nd most common interval / count of the most common. None: NaN / 0.

    Computed as music21 does, ``(second / total) / (first / total)``. Only unisons: 0 in music21, 1 in
    jSymbolic2 (see :func:`_top_two`).
    """
    _, count1, _, count2 = _top_two(batch, convention)
    total = batch.n_intervals
    has = total > 0
    ratio2 = divide(count2, total, where=has, fill=0.0)
    ratio1 = divide(count1, total, where=has, fill=1.0)
    return np.where(has, ratio2 / ratio1, undefined_value(convention))


def number_of_common_melodic_intervals(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M7: number of interval sizes that make up at least 9% of the intervals. None: NaN / 0."""
    count = count_bins_with_share(batch.interval_hist, batch.n_intervals, 0.09)
    return np.where(batch.n_intervals > 0, count, undefined_value(convention))


def amount_of_arpeggiation(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M8: fraction of intervals that are unisons, 3rds, perfect 5ths, 7ths, octaves or 10ths.

    music21 returns 0 when there is no interval but raises (NaN) when intervals exist and none of them is
    one of these; jSymbolic2 returns 0 in both cases.
    """
    share = _share(batch, ARPEGGIO_INTERVALS, convention)
    if convention == MUSIC21:
        share = np.where(batch.n_intervals == 0, 0.0, np.where(share == 0, np.nan, share))
    return share


def repeated_notes(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M9: fraction of intervals that are unisons (repeated pitches). None: 0 in both conventions."""
    total = batch.n_intervals
    return divide(batch.interval_hist[:, 0], total, where=total > 0, fill=0.0)


def chromatic_motion(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M10 (music21 id ``m10``): fraction of intervals that are semitones. None: NaN / 0."""
    return _share(batch, (1,), convention)


def stepwise_motion(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M11: fraction of intervals that are minor or major seconds. None: NaN / 0."""
    return _share(batch, (1, 2), convention)


def melodic_thirds(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M12: fraction of intervals that are minor or major thirds. None: NaN / 0."""
    return _share(batch, (3, 4), convention)


def melodic_fifths(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M13 (jSymbolic2 "Melodic Perfect Fifths"): share of intervals that are fifths. None: NaN / 0."""
    return _share(batch, (7,), convention)


def melodic_tritones(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M14: fraction of intervals that are tritones. None: NaN / 0."""
    return _share(batch, (6,), convention)


def melodic_octaves(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M15: fraction of intervals that are octaves. None: NaN / 0.

    music21 counts 12, 24, 48, 60, 72 and 84 semitones (its list of octaves skips 36); jSymbolic2 only 12.
    """
    return _share(batch, MUSIC21_OCTAVES if convention == MUSIC21 else (12,), convention)


def direction_of_motion(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M17 (music21 id ``m17``): rising / (rising + falling) intervals; unisons are left out.

    No rising or falling interval: NaN (music21 raises) / 0.
    """
    n = batch.n_windows
    rising = np.bincount(batch.interval_win[batch.interval > 0], minlength=n)
    moving = batch.n_intervals - batch.interval_hist[:, 0]
    return divide(rising, moving, where=moving > 0, fill=undefined_value(convention))


def _arcs(batch: NoteBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window: non-unison intervals, changes of direction, and the summed size of the closed arcs.

    Unisons neither continue nor break an arc. An arc closes when the direction flips; its size is the sum
    of its absolute intervals. The arc still open at the end of the window is not counted.
    """
    return batch.memo("melodic_arcs", _compute_arcs)


def _compute_arcs(batch: NoteBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = batch.n_windows
    moving = batch.interval != 0
    step = batch.interval[moving]
    step_win = batch.interval_win[moving]
    size = np.abs(step).astype(np.float64)
    n_moving = np.bincount(step_win, minlength=n)
    flip = np.zeros(step.shape, dtype=bool)
    flip[1:] = (step_win[1:] == step_win[:-1]) & ((step[1:] > 0) != (step[:-1] > 0))
    n_flips = np.bincount(step_win[flip], minlength=n)
    # Sum of the sizes before each window's last flip: a prefix sum read at that flip minus at the window
    # start.
    prefix = np.zeros(size.shape[0] + 1)
    np.cumsum(size, out=prefix[1:])
    flips = np.flatnonzero(flip)
    flip_win = step_win[flips]
    last = np.ones(flips.shape, dtype=bool)
    last[:-1] = flip_win[1:] != flip_win[:-1]
    first_step = segment_starts(step_win, n)
    closed = np.zeros(n)
    closed[flip_win[last]] = prefix[flips[last]] - prefix[first_step[flip_win[last]]]
    return n_moving, n_flips, closed


def duration_of_melodic_arcs(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M18 (jSymbolic2 "Average Length of Melodic Arcs"): non-unison intervals / changes of direction.

    0 when the direction never changes, in both conventions.
    """
    n_moving, n_flips, _ = _arcs(batch)
    return divide(n_moving, n_flips, where=n_flips > 0, fill=0.0)


def size_of_melodic_arcs(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """M19 (jSymbolic2 "Average Interval Spanned by Melodic Arcs"): summed size of the closed arcs, in
    semitones, / changes of direction. 0 when the direction never changes, in both conventions.
    """
    _, n_flips, closed = _arcs(batch)
    return divide(closed, n_flips, where=n_flips > 0, fill=0.0)

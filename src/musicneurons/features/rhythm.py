"""jSymbolic rhythm features (music21 ids R15-R36), in seconds, vectorised over a :class:`NoteBatch`.

Durations and onsets are in seconds at each window's tempo, measured from the window start; a window is a
flat 4/4 part with one tempo, so the meter features are constants.

- ``"music21"`` reproduces music21 10.5.1 exactly (population standard deviations, NaN where it raises:
  R17-R21 and R36 on an empty window, R22-R25 with fewer than two notes).
- ``"jsymbolic"`` follows jSymbolic2 (DDMAL/jSymbolic2, ``features/rhythm``): sample standard deviations
  (``n - 1``; 0 with fewer than two values), 0 instead of errors, the tempo rounded to an integer BPM as
  read back from a MIDI tempo event, and note density 0 when the piece lasts under one whole second.
"""

from __future__ import annotations

import numpy as np

from musicneurons.constants import STEPS_PER_QUARTER
from musicneurons.features.notes import (
    MUSIC21,
    NoteBatch,
    divide,
    per_window_max,
    per_window_min,
    per_window_sum,
    undefined_value,
)

STACCATO_SECONDS = 0.1  # R21: notes shorter than this count as staccato (strictly less)


def _std_from_sums(count: np.ndarray, total: np.ndarray, total_sq: np.ndarray, convention: str) -> np.ndarray:
    """Standard deviation of ``count`` values from their sum and sum of squares (exact integers as floats).

    music21 uses ``statistics.pstdev`` (divide by ``k``, NaN here when ``k == 0``); jSymbolic2 the sample
    deviation (divide by ``k - 1``, and 0 when ``k < 2``).
    """
    spread = np.maximum(count * total_sq - total * total, 0.0)  # k * sum(x^2) - sum(x)^2 >= 0, exact
    if convention == MUSIC21:
        return np.sqrt(divide(spread, count * count, where=count > 0))
    return np.sqrt(divide(spread, count * (count - 1.0), where=count >= 2, fill=0.0))


def _duration_stats(batch: NoteBatch) -> tuple[np.ndarray, np.ndarray]:
    """Per window: sum and sum of squares of the note durations in steps (float64, exact)."""

    def compute(b: NoteBatch) -> tuple[np.ndarray, np.ndarray]:
        steps = b.duration_steps.astype(np.float64)
        return per_window_sum(steps, b.win, b.n_windows), per_window_sum(steps * steps, b.win, b.n_windows)

    return batch.memo("duration_stats", compute)


def _gap_stats(batch: NoteBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window: number, sum and sum of squares of the steps between consecutive onsets."""

    def compute(b: NoteBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        count = np.maximum(b.n_notes - 1, 0).astype(np.float64)
        first, last_start, _ = b.note_bounds()
        total = (last_start - first).astype(np.float64)  # the gaps of a window add up to last - first onset
        same = b.win[1:] == b.win[:-1]
        gaps = (b.start[1:] - b.start[:-1])[same].astype(np.float64)
        total_sq = per_window_sum(gaps * gaps, b.win[1:][same], b.n_windows)
        return count, total, total_sq

    return batch.memo("gap_stats", compute)


def _end_seconds(batch: NoteBatch) -> np.ndarray:
    """End of each window's last note in seconds, summed as music21 does:
    ``spq * offset + spq * quarterLength``."""
    _, start, end = batch.note_bounds()
    spq = batch.seconds_per_quarter
    return spq * (start / STEPS_PER_QUARTER) + spq * ((end - start) / STEPS_PER_QUARTER)


def _seconds(steps: np.ndarray, batch: NoteBatch) -> np.ndarray:
    """A per-window length in steps as seconds (music21: ``seconds_per_quarter * quarterLength``)."""
    return batch.seconds_per_quarter * (steps / STEPS_PER_QUARTER)


def note_density(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R15: notes per second, i.e. the number of notes over the end time of the last note.

    Empty: 0. jSymbolic2 also returns 0 when the piece lasts under one whole second (it tests the duration
    truncated to an integer number of seconds).
    """
    end = _end_seconds(batch)
    usable = batch.n_notes > 0
    if convention != MUSIC21:
        usable &= np.floor(end) > 0
    return divide(batch.n_notes, end, where=usable, fill=0.0)


def average_note_duration(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R17: mean note duration in seconds. Empty: NaN / 0."""
    total, _ = _duration_stats(batch)
    mean_steps = divide(total, batch.n_notes, where=batch.n_notes > 0, fill=undefined_value(convention))
    return _seconds(mean_steps, batch)


def variability_of_note_duration(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R18: standard deviation of note durations in seconds (population: music21; sample: jSymbolic2).

    Empty: NaN / 0.
    """
    total, total_sq = _duration_stats(batch)
    std = _std_from_sums(batch.n_notes.astype(np.float64), total, total_sq, convention)
    return np.where(batch.n_notes > 0, _seconds(std, batch), undefined_value(convention))


def maximum_note_duration(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R19: duration of the longest note in seconds. Empty: NaN / 0."""
    longest = per_window_max(batch.duration_steps, batch.first_note, fill=0)
    return np.where(batch.n_notes > 0, _seconds(longest, batch), undefined_value(convention))


def minimum_note_duration(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R20: duration of the shortest note in seconds. Empty: NaN / 0."""
    shortest = per_window_min(batch.duration_steps, batch.first_note, fill=0)
    return np.where(batch.n_notes > 0, _seconds(shortest, batch), undefined_value(convention))


def _shortest_non_staccato_steps(batch: NoteBatch) -> np.ndarray:
    """Per window, the fewest steps whose duration in seconds (music21's rounding) is not below 0.1 s."""
    spq = batch.seconds_per_quarter
    steps = np.maximum(np.ceil(STACCATO_SECONDS * STEPS_PER_QUARTER / spq) - 2, 1)
    for _ in range(8):  # the estimate is off by at most a step or two; step up to the exact threshold
        low = _seconds(steps, batch) < STACCATO_SECONDS
        if not low.any():
            break
        steps = steps + low
    return steps


def staccato_incidence(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R21 (jSymbolic2 "Amount of Staccato"): fraction of notes shorter than 0.1 s. Empty: NaN / 0.

    A 16th note lasts 15 / qpm seconds, so this is 0 at tempi up to 150 qpm.
    """
    threshold = _shortest_non_staccato_steps(batch)
    short = np.zeros(batch.n_windows)
    fast = threshold > 1  # only there can a note (at least one step long) be staccato
    if fast.any():
        is_short = batch.duration_steps < threshold[batch.win]
        short = per_window_sum(is_short.astype(np.float64), batch.win, batch.n_windows)
    return divide(short, batch.n_notes, where=batch.n_notes > 0, fill=undefined_value(convention))


def average_time_between_attacks(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R22: mean seconds between consecutive onsets. Fewer than two notes: NaN (music21 raises) / 0."""
    count, total, _ = _gap_stats(batch)
    mean_steps = divide(total, count, where=count > 0, fill=undefined_value(convention))
    return _seconds(mean_steps, batch)


def variability_of_time_between_attacks(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R23: standard deviation of the times between consecutive onsets (population / sample).

    Fewer than two notes: NaN (music21 raises) / 0.
    """
    count, total, total_sq = _gap_stats(batch)
    std = _std_from_sums(count, total, total_sq, convention)
    return np.where(count > 0, _seconds(std, batch), undefined_value(convention))


def average_time_between_attacks_for_each_voice(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R24: mean over voices of R22; a window is one voice, so this equals R22 (and raises where R22 does)."""
    return average_time_between_attacks(batch, convention)


def average_variability_of_time_between_attacks_for_each_voice(
    batch: NoteBatch, convention: str = MUSIC21
) -> np.ndarray:
    """R25: mean over voices of R23; a window is one voice, so this equals R23."""
    return variability_of_time_between_attacks(batch, convention)


def initial_tempo(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R30: tempo in quarter notes per minute.

    music21 returns the MetronomeMark's quarter BPM; jSymbolic2 rounds the MIDI tempo to an integer BPM
    (Java ``Math.round``: halves round up).
    """
    if convention == MUSIC21:
        return batch.quarter_bpm.copy()
    return np.floor(batch.qpm + 0.5)


def compound_or_simple_meter(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R32: 1 if the initial meter is compound. Windows are 4/4: always 0."""
    return np.zeros(batch.n_windows)


def triple_meter(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R33: 1 if the initial time signature's numerator is 3. Windows are 4/4: always 0."""
    return np.zeros(batch.n_windows)


def quintuple_meter(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R34: 1 if the initial time signature's numerator is 5. Windows are 4/4: always 0."""
    return np.zeros(batch.n_windows)


def changes_of_meter(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R35: 1 if the time signature changes. Windows have one 4/4 signature: always 0."""
    return np.zeros(batch.n_windows)


def duration(batch: NoteBatch, convention: str = MUSIC21) -> np.ndarray:
    """R36: seconds from the window start to the end of the last note (not the window length).

    Empty: NaN (music21 raises) / 0.
    """
    return np.where(batch.n_notes > 0, _end_seconds(batch), undefined_value(convention))

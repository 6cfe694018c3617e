"""Window arrays -> flat note and interval tables for the whole batch, the hot path of the feature engine.

A batch of windows (``int8 (n_windows, n_steps)``, 90-class indices: 0 = NO_EVENT holds, 1 = NOTE_OFF ends the
sounding note, k >= 2 starts MIDI pitch k + 19; the end of the window ends any note) becomes one
:class:`NoteBatch`: every note of every window in one set of flat arrays, sorted by window then onset, plus
the per-window histograms that the pitch, rhythm and melody features share. Nothing here loops over windows.

The seconds follow music21's own arithmetic for a flat ``Part`` with one ``MetronomeMark(number=qpm)`` at
offset 0 (``Stream.secondsMap``): seconds per quarter is ``60 / (60 / (60 / number))``, a note's onset is
``spq * offset`` and its duration ``spq * quarterLength``, both in quarter notes. Reproducing the same
roundings keeps threshold features such as R21 (durations < 0.1 s) bit-identical to music21.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicneurons.arrays import check_qpm, check_windows
from musicneurons.constants import DEFAULT_QPM, FIRST_PITCH_CLASS, MIN_PITCH, NUM_CLASSES

N_PITCH_BINS = NUM_CLASSES - FIRST_PITCH_CLASS  # 88 pitch bins: column j holds MIDI pitch MIN_PITCH + j
N_INTERVAL_BINS = N_PITCH_BINS  # absolute melodic intervals 0..87 semitones
MUSIC21 = "music21"  # the default convention; the other is "jsymbolic"


def undefined_value(convention: str) -> float:
    """A feature's value where its input is insufficient: music21 raises (NaN here), jSymbolic2 gives 0."""
    return np.nan if convention == MUSIC21 else 0.0


@dataclass(frozen=True)
class NoteBatch:
    """Every note of a batch of windows as flat arrays, with the shared per-window histograms.

    Notes are sorted by window, then onset. ``n`` windows of ``n_steps`` steps, ``N`` notes in all,
    ``M`` melodic intervals (pairs of consecutive notes in one window).

    Attributes
    ----------
    n_steps : int
        Steps per window (16 per 4/4 bar).
    qpm : ndarray, shape (n,)
        Tempo in quarter notes per minute, as given.
    quarter_bpm : ndarray, shape (n,)
        The tempo as music21 reports it (``MetronomeMark.getQuarterBPM()``).
    seconds_per_quarter : ndarray, shape (n,)
        Seconds per quarter note, rounded as music21 rounds it.
    win, start, end, pitch : ndarray, shape (N,)
        Window index, onset step, end step (exclusive) and MIDI pitch of each note.
    n_notes : ndarray, shape (n,)
        Notes per window.
    first_note : ndarray, shape (n + 1,)
        ``win[first_note[i]:first_note[i + 1]]`` are the notes of window ``i``.
    pitch_hist : ndarray, shape (n, 88)
        Note onsets per pitch; column ``j`` is MIDI pitch ``21 + j``.
    pc_hist : ndarray, shape (n, 12)
        Note onsets per pitch class (0 = C).
    interval, interval_win : ndarray, shape (M,)
        Signed melodic interval in semitones (next pitch minus previous) and its window.
    interval_hist : ndarray, shape (n, 88)
        Melodic intervals per absolute size in semitones.
    n_intervals : ndarray, shape (n,)
        Melodic intervals per window (``max(n_notes - 1, 0)``).
    """

    n_steps: int
    qpm: np.ndarray
    quarter_bpm: np.ndarray
    seconds_per_quarter: np.ndarray
    win: np.ndarray
    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    n_notes: np.ndarray
    first_note: np.ndarray
    pitch_hist: np.ndarray
    pc_hist: np.ndarray
    interval: np.ndarray
    interval_win: np.ndarray
    interval_hist: np.ndarray
    n_intervals: np.ndarray
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_windows(self) -> int:
        return int(self.n_notes.shape[0])

    def memo(self, key: str, compute: Callable[[NoteBatch], Any]) -> Any:
        """``compute(self)``, computed once per batch: features that share an intermediate result use this."""
        if key not in self._memo:
            self._memo[key] = compute(self)
        return self._memo[key]

    @property
    def duration_steps(self) -> np.ndarray:
        """Duration of each note in steps, shape (N,)."""
        return self.memo("duration_steps", lambda b: b.end - b.start)

    def note_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(first_start, last_start, last_end)``: per window, in steps, the onset of the first note and the
        onset and end of the last note; shape (n,) each, 0 for an empty window."""

        def compute(b: NoteBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if b.start.size == 0:
                zeros = np.zeros(b.n_windows, dtype=np.int64)
                return zeros, zeros, zeros
            has = b.n_notes > 0
            first = np.minimum(b.first_note[:-1], b.start.size - 1)
            last = np.maximum(b.first_note[1:] - 1, 0)
            return (
                np.where(has, b.start[first], 0),
                np.where(has, b.start[last], 0),
                np.where(has, b.end[last], 0),
            )

        return self.memo("note_bounds", compute)


def music21_seconds_per_quarter(qpm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(quarter_bpm, seconds_per_quarter)`` as music21 derives them from ``MetronomeMark(number=qpm)``.

    music21 snaps a number within 1e-6 of an integer to that integer, converts it to quarter-note BPM as
    ``60 / ((60 / number) / 1.0 * 1.0)`` and takes ``60.0 / bpm`` seconds per quarter.
    """
    snapped = np.round(qpm)
    number = np.where(np.abs(snapped - qpm) <= 1e-6, snapped, qpm)
    quarter_bpm = 60.0 / (60.0 / number)
    return quarter_bpm, 60.0 / quarter_bpm


def note_batch(windows: np.ndarray, qpm: float | np.ndarray = DEFAULT_QPM) -> NoteBatch:
    """Extract every note of every window, vectorised, with the histograms the features share.

    Parameters
    ----------
    windows : array_like, shape (n_windows, n_steps)
        Class indices (0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = MIDI pitch k + 19).
    qpm : float or array_like, shape (n_windows,)
        Tempo in quarter notes per minute (a step lasts ``60 / qpm / 4`` seconds).

    Returns
    -------
    NoteBatch
    """
    cls = check_windows(windows)
    n, n_steps = cls.shape
    qpm_arr = check_qpm(qpm, n)
    quarter_bpm, spq = music21_seconds_per_quarter(qpm_arr)

    flat = cls.reshape(-1)
    events = np.flatnonzero(flat)  # NOTE_OFF or onset, sorted by window then step
    ev_win, ev_step = np.divmod(events, n_steps)
    # A note ends at the next event of its window (an onset or a NOTE_OFF), else at the window end.
    next_step = np.empty_like(ev_step)
    next_step[:-1] = ev_step[1:]
    next_step[-1:] = n_steps
    next_step[:-1][ev_win[1:] != ev_win[:-1]] = n_steps
    ev_cls = flat[events]
    onset = ev_cls >= FIRST_PITCH_CLASS
    win = ev_win[onset]
    start = ev_step[onset]
    end = next_step[onset]
    pitch_bin = ev_cls[onset].astype(np.intp) - FIRST_PITCH_CLASS  # 0..87 = MIDI 21..108
    pitch = pitch_bin + MIN_PITCH

    n_notes = np.bincount(win, minlength=n)
    first_note = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_notes, out=first_note[1:])
    pitch_hist = np.bincount(win * N_PITCH_BINS + pitch_bin, minlength=n * N_PITCH_BINS)
    pitch_hist = pitch_hist.reshape(n, N_PITCH_BINS)
    # Fold pitches into classes: lay the 88 bins out from MIDI 12 (a C) in 9 whole octaves and sum them.
    octaves = np.zeros((n, 9 * 12), dtype=pitch_hist.dtype)
    octaves[:, MIN_PITCH - 12 : MIN_PITCH - 12 + N_PITCH_BINS] = pitch_hist
    pc_hist = octaves.reshape(n, 9, 12).sum(axis=1)

    consecutive = win[1:] == win[:-1]
    interval = (pitch[1:] - pitch[:-1])[consecutive]
    interval_win = win[1:][consecutive]
    interval_hist = np.bincount(
        interval_win * N_INTERVAL_BINS + np.abs(interval), minlength=n * N_INTERVAL_BINS
    )
    return NoteBatch(
        n_steps=n_steps,
        qpm=qpm_arr,
        quarter_bpm=quarter_bpm,
        seconds_per_quarter=spq,
        win=win,
        start=start,
        end=end,
        pitch=pitch,
        n_notes=n_notes,
        first_note=first_note,
        pitch_hist=pitch_hist,
        pc_hist=pc_hist,
        interval=interval,
        interval_win=interval_win,
        interval_hist=interval_hist.reshape(n, N_INTERVAL_BINS),
        n_intervals=np.bincount(interval_win, minlength=n),
    )


# ----------------------------------------------------------------------------- per-window reductions
def per_window_sum(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` grouped by window ``index`` (float64, shape (n,); 0 for windows without values)."""
    return np.bincount(index, weights=values, minlength=n)


def _per_window_reduce(reduce: np.ufunc, values: np.ndarray, first: np.ndarray, fill: float) -> np.ndarray:
    """``reduce`` of ``values`` over each window's segment ``first[i]:first[i + 1]``; ``fill`` if empty."""
    counts = np.diff(first)
    out = np.full(counts.shape, fill, dtype=np.result_type(values, np.asarray(fill)))
    has = counts > 0
    if has.any():
        out[has] = reduce.reduceat(values, first[:-1][has])
    return out


def per_window_max(values: np.ndarray, first: np.ndarray, fill: float) -> np.ndarray:
    """Maximum of ``values`` over each window's segment ``first[i]:first[i + 1]``; ``fill`` if empty."""
    return _per_window_reduce(np.maximum, values, first, fill)


def per_window_min(values: np.ndarray, first: np.ndarray, fill: float) -> np.ndarray:
    """Minimum of ``values`` over each window's contiguous segment; ``fill`` if the segment is empty."""
    return _per_window_reduce(np.minimum, values, first, fill)


def segment_starts(index: np.ndarray, n: int) -> np.ndarray:
    """Offsets ``(n + 1,)`` of each window's segment in an array sorted by window ``index``."""
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(index, minlength=n), out=first[1:])
    return first


def divide(num: np.ndarray, den: np.ndarray, where: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """``num / den`` as float64 where ``where`` holds, ``fill`` elsewhere (never warns on 0 / 0)."""
    out = np.full(np.broadcast(num, den).shape, fill, dtype=np.float64)
    np.divide(num, den, out=out, where=where)
    return out


def count_bins_with_share(hist: np.ndarray, total: np.ndarray, share: float) -> np.ndarray:
    """Per row, the number of bins with ``hist / total >= share`` in float64, as ``count / total >= share``
    evaluates it, without dividing the whole histogram (0 where ``total`` is 0)."""
    total_f = total.astype(np.float64)
    safe = np.maximum(total_f, 1.0)
    least = np.ceil(share * total_f)
    # Division is monotonic in the numerator: move to the smallest count whose quotient reaches the share.
    least = np.where((least - 1) / safe >= share, least - 1, least)
    least = np.where(least / safe < share, least + 1, least)
    least = np.where(total_f > 0, np.maximum(least, 1), np.inf)
    return (hist >= least[:, None]).sum(axis=1).astype(np.float64)


def top_two_bins(hist: np.ndarray, convention: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index and count of the largest bin and of the largest other bin, ties to the lowest index.

    Returns ``(index1, count1, index2, count2)``. Where no other bin is non-zero, ``index2`` is 0 in both
    references; music21 then reads ``count2`` from the histogram with the top bin zeroed (0), jSymbolic2 from
    the original histogram (so a window whose only bin is bin 0 has ``count2 == count1``).
    """
    rows = np.arange(hist.shape[0])
    index1 = np.argmax(hist, axis=1)
    rest = hist.copy()
    rest[rows, index1] = 0
    index2 = np.argmax(rest, axis=1)
    count2 = (rest if convention == MUSIC21 else hist)[rows, index2]
    return index1, hist[rows, index1], index2, count2

"""Melody windows exactly as Magenta's ``OneHotMelodyConverter`` extracts them.

The pipeline, per MIDI file: steps 1-4 (split on tempo and time-signature changes, filter, quantise,
extract melodies) are in :mod:`musicneurons.data.melodies`; this module adds

5. **Slice** windows of 32 or 256 steps with a one-bar hop; NOTE_OFFs before a window's first note
   become NO_EVENT.
6. **De-duplicate.** ``mode="all"`` keeps every distinct window of the file once, in order of first
   appearance, with its provenance. ``mode="magenta"`` returns exactly the <= 5 windows (and order) of
   Magenta's default converter, which lists a per-piece Python ``set`` of tuples of 1-tuples of event
   ints; building those same tuples in the same order reproduces its iteration order.

Event codes are Magenta's: -2 NO_EVENT, -1 NOTE_OFF, 0..127 note-on. Windows leave as 90-class indices
(int8, 0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = pitch k + 19), see :mod:`musicneurons.data.encoding`.
This is the public face of extraction: the names of :mod:`musicneurons.data.melodies` import from here too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from musicneurons.constants import MAX_PITCH, MELODY_NO_EVENT, MIN_PITCH
from musicneurons.data.melodies import (
    CONFIGS,
    Melody,
    MelodyConfig,
    Piece,
    config_for_bars,
    extract_melodies,
    piece_melodies,
    split_pieces,
    with_time_signature,
)
from musicneurons.data.midi import MidiScore, read_midi

__all__ = [
    "CONFIGS",
    "Melody",
    "MelodyConfig",
    "Mode",
    "Piece",
    "WindowTable",
    "config_for_bars",
    "extract_melodies",
    "extract_windows",
    "split_pieces",
    "with_time_signature",
]

Mode = Literal["all", "magenta"]


# --------------------------------------------------------------------------- records
@dataclass(frozen=True, eq=False)
class WindowTable:
    """Windows of one file with their provenance; every array has ``n`` rows.

    Attributes
    ----------
    windows : np.ndarray of int8, shape (n, T)
        90-class indices (0 NO_EVENT, 1 NOTE_OFF, k >= 2 pitch k + 19), T = 32 or 256.
    qpm : np.ndarray of float64
        Tempo of the piece the window comes from, quarter notes per minute.
    piece : np.ndarray of int32
        Index of that piece (split on tempo / time-signature changes).
    piece_start : np.ndarray of float64
        Start of the piece in the file, in seconds.
    instrument, program : np.ndarray
        pretty_midi instrument index and its General MIDI program.
    melody_start, window_start : np.ndarray of int32
        Start of the melody and of the window, in steps from the piece start.
    """

    windows: np.ndarray
    qpm: np.ndarray
    piece: np.ndarray
    piece_start: np.ndarray
    instrument: np.ndarray
    program: np.ndarray
    melody_start: np.ndarray
    window_start: np.ndarray

    def __len__(self) -> int:
        return int(self.windows.shape[0])

    @staticmethod
    def empty(window_steps: int) -> WindowTable:
        return WindowTable(
            windows=np.zeros((0, window_steps), np.int8),
            qpm=np.zeros(0),
            piece=np.zeros(0, np.int32),
            piece_start=np.zeros(0),
            instrument=np.zeros(0, np.int32),
            program=np.zeros(0, np.int16),
            melody_start=np.zeros(0, np.int32),
            window_start=np.zeros(0, np.int32),
        )

    def take(self, rows: np.ndarray | list[int]) -> WindowTable:
        """The table restricted to ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return WindowTable(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})


# --------------------------------------------------------------------------- steps 5-6: windows
_EVENT_TO_CLASS = np.zeros(130, dtype=np.int8)  # indexed by event + 2
_EVENT_TO_CLASS[0] = 0  # NO_EVENT
_EVENT_TO_CLASS[1] = 1  # NOTE_OFF
_EVENT_TO_CLASS[2 + MIN_PITCH : 2 + MAX_PITCH + 1] = np.arange(2, 2 + MAX_PITCH - MIN_PITCH + 1)


def _melody_windows(events: np.ndarray, window_steps: int, hop: int) -> np.ndarray:
    """Windows ``events[i - W:i]``, i = W, W + hop, ...; NOTE_OFF before the first note -> NO_EVENT."""
    n = (events.size - window_steps) // hop + 1
    if n <= 0:
        return np.zeros((0, window_steps), np.int8)
    windows = events[np.arange(0, n * hop, hop)[:, None] + np.arange(window_steps)]
    leading = np.cumsum(windows >= 0, axis=1) == 0
    windows[leading] = MELODY_NO_EVENT
    return windows


def extract_windows(
    source: str | Path | bytes | MidiScore,
    config: MelodyConfig | None = None,
    *,
    bars: int | None = None,
    mode: Mode = "all",
) -> WindowTable:
    """Melody windows of one MIDI file, as Magenta's ``OneHotMelodyConverter`` extracts them.

    Parameters
    ----------
    source : path, bytes or MidiScore
        The MIDI file (read with :func:`musicneurons.data.midi.read_midi`) or an already parsed score.
    config : MelodyConfig, optional
        Extraction settings; defaults to ``config_for_bars(bars)``, and to the 2-bar config.
    bars : {2, 16}, optional
        Shortcut for the released configs ``cat-mel_2bar_big`` and ``hierdec-mel_16bar``.
    mode : {"all", "magenta"}
        ``all``: every distinct window of the file once, in order of first appearance (piece,
        melody, window start), with the provenance of that first appearance. ``magenta``: the
        <= 5 windows of Magenta's default (infer-mode) converter, in its order.

    Returns
    -------
    WindowTable
        ``windows`` int8 (n, 32 or 256) of 90-class indices plus per-window tempo and provenance.

    Raises
    ------
    musicneurons.data.midi.MidiReadError
        If the file cannot be read as MIDI (Magenta would fail on it too).
    """
    if config is None:
        config = config_for_bars(bars if bars is not None else 2)
    elif bars is not None and bars != config.slice_bars:
        msg = f"bars={bars} contradicts config {config.name!r} ({config.slice_bars} bars)"
        raise ValueError(msg)
    if mode not in ("all", "magenta"):
        msg = f"mode must be 'all' or 'magenta', got {mode!r}"
        raise ValueError(msg)
    score = source if isinstance(source, MidiScore) else read_midi(source)
    window_steps, hop = config.window_steps, config.steps_per_bar

    parts: list[tuple[Piece, Melody, np.ndarray, np.ndarray]] = []  # (piece, melody, windows, starts)
    n_magenta = 0
    for piece in split_pieces(score):
        piece_parts = []
        for melody in piece_melodies(score, piece, config) or []:
            windows = _melody_windows(melody.events, window_steps, hop)
            if windows.shape[0]:
                starts = melody.start_step + hop * np.arange(windows.shape[0], dtype=np.int64)
                piece_parts.append((piece, melody, windows, starts))
        if mode == "magenta" and piece_parts:
            piece_parts = _magenta_order(piece_parts, config.max_windows)
            n_magenta += len(piece_parts)
        parts.extend(piece_parts)
        if mode == "magenta" and n_magenta >= config.max_windows:
            break  # later pieces cannot reach Magenta's first max_windows
    if not parts:
        return WindowTable.empty(window_steps)

    counts = [w.shape[0] for _, _, w, _ in parts]
    windows = _EVENT_TO_CLASS[np.concatenate([w for _, _, w, _ in parts]) + 2]
    if mode == "magenta":
        rows = np.arange(min(windows.shape[0], config.max_windows))
    else:
        rows = _first_occurrences(windows)
    part = np.repeat(np.arange(len(parts)), counts)[rows]
    meta = np.array(
        [(pc.qpm, pc.index, pc.start_time, m.instrument, m.program, m.start_step) for pc, m, _, _ in parts],
        dtype=np.float64,
    )[part]
    return WindowTable(
        windows=windows[rows],
        qpm=meta[:, 0],
        piece=meta[:, 1].astype(np.int32),
        piece_start=meta[:, 2],
        instrument=meta[:, 3].astype(np.int32),
        program=meta[:, 4].astype(np.int16),
        melody_start=meta[:, 5].astype(np.int32),
        window_start=np.concatenate([starts for _, _, _, starts in parts])[rows].astype(np.int32),
    )


def _first_occurrences(windows: np.ndarray) -> np.ndarray:
    """Row indices of the distinct rows of ``windows``, in order of first appearance."""
    seen: dict[bytes, int] = {}
    for row, key in enumerate(map(bytes, windows)):
        seen.setdefault(key, row)
    return np.fromiter(seen.values(), dtype=np.int64, count=len(seen))


def _magenta_order(piece_parts, max_windows):
    """The first ``max_windows`` windows of one piece in the order of Magenta's ``list(set(...))``.

    Magenta inserts each window as a tuple of 1-tuples of event ints (from zipping the event lists),
    melody by melody and window by window; int and tuple hashes do not depend on PYTHONHASHSEED, so
    building the same tuples in the same order gives the same iteration order.
    """
    origin: dict[tuple, tuple[int, int]] = {}
    keys = []
    for part, (_, _, windows, _) in enumerate(piece_parts):
        for row, window in enumerate(windows.tolist()):
            key = tuple([(event,) for event in window])
            keys.append(key)
            origin.setdefault(key, (part, row))
    out = []
    for key in list(set(keys))[:max_windows]:
        part, row = origin[key]
        piece, melody, windows, starts = piece_parts[part]
        out.append((piece, melody, windows[row : row + 1], starts[row : row + 1]))
    return out

"""Melody encodings: Magenta events <-> 90-class indices <-> one-hot, and windows -> notes -> MIDI.

Codes (Magenta's ``MelodyOneHotEncoding(21, 109)``):

=====================  ==================  ===========================================
meaning                Magenta event       class index
=====================  ==================  ===========================================
hold (NO_EVENT)        -2                  0
NOTE_OFF               -1                  1
note-on, pitch p       p (21..108)         p - 19  (2..89)
=====================  ==================  ===========================================

A pitch event always starts a new note (even on the same pitch), NOTE_OFF ends the sounding note,
NO_EVENT holds whatever is going on, and the end of the window ends a sustained note. One step is a
16th note; at ``qpm`` quarter notes per minute a step lasts ``60 / qpm / 4`` seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musicneurons.arrays import check_qpm, check_windows
from musicneurons.constants import (
    DEFAULT_QPM,
    DEFAULT_VELOCITY,
    FIRST_PITCH_CLASS,
    MAX_PITCH,
    MELODY_NO_EVENT,
    MIN_PITCH,
    NOTE_OFF_CLASS,
    NUM_CLASSES,
    STEPS_PER_QUARTER,
)
from musicneurons.data.midi import write_midi

__all__ = [
    "classes_to_events",
    "classes_to_onehot",
    "events_to_classes",
    "notes_from_classes",
    "onehot_to_classes",
    "windows_to_midi",
]

_PITCH_OFFSET = MIN_PITCH - FIRST_PITCH_CLASS  # 19: class k >= 2 is pitch k + 19


def events_to_classes(events: np.ndarray | list[int]) -> np.ndarray:
    """Magenta melody events (-2, -1, 21..108) -> class indices (int8, same shape).

    Raises
    ------
    ValueError
        If an event is a pitch outside 21..108 (inclusive) or below -2.
    """
    events = np.asarray(events, dtype=np.int64)
    bad = (events < MELODY_NO_EVENT) | ((events >= 0) & ((events < MIN_PITCH) | (events > MAX_PITCH)))
    if bad.any():
        value = int(events[bad].flat[0])
        msg = f"melody event {value} is neither -2, -1 nor a pitch in {MIN_PITCH}..{MAX_PITCH} (inclusive)"
        raise ValueError(msg)
    return np.where(events < 0, events + 2, events - _PITCH_OFFSET).astype(np.int8)


def classes_to_events(classes: np.ndarray | list[int]) -> np.ndarray:
    """Class indices 0..89 -> Magenta melody events (int8, same shape): 0 -> -2, 1 -> -1, k -> k + 19.

    Raises
    ------
    ValueError
        If a class is outside 0..89.
    """
    classes = _checked_classes(classes)
    return np.where(classes < FIRST_PITCH_CLASS, classes - 2, classes + _PITCH_OFFSET).astype(np.int8)


def classes_to_onehot(classes: np.ndarray | list[int], dtype: type | np.dtype = bool) -> np.ndarray:
    """Class indices, shape (..., T) -> one-hot array, shape (..., T, 90) (Magenta's tensors are bool)."""
    classes = _checked_classes(classes)
    return np.eye(NUM_CLASSES, dtype=dtype)[classes]


def onehot_to_classes(onehot: np.ndarray) -> np.ndarray:
    """One-hot or logits, shape (..., T, 90) -> class indices (int8, shape (..., T)) by argmax."""
    onehot = np.asarray(onehot)
    if onehot.shape[-1] != NUM_CLASSES:
        msg = f"last axis must have {NUM_CLASSES} classes, got shape {onehot.shape}"
        raise ValueError(msg)
    return onehot.argmax(axis=-1).astype(np.int8)


def notes_from_classes(window: np.ndarray | list[int]) -> list[tuple[int, int, int]]:
    """Notes of one window of class indices, as ``(pitch, start_step, end_step)`` (end exclusive).

    A pitch class starts a note (ending any sounding one), NOTE_OFF ends the sounding note, NO_EVENT
    holds, and the end of the window ends a note still sounding (Magenta's ``Melody.to_sequence``).
    """
    window = _checked_classes(window)
    if window.ndim != 1:
        msg = f"expected one window of shape (T,), got shape {window.shape}"
        raise ValueError(msg)
    notes = []
    pitch, start = -1, 0
    for step, cls in enumerate(window.tolist()):
        if cls == NOTE_OFF_CLASS or cls >= FIRST_PITCH_CLASS:
            if pitch >= 0:
                notes.append((pitch, start, step))
                pitch = -1
            if cls >= FIRST_PITCH_CLASS:
                pitch, start = cls + _PITCH_OFFSET, step
    if pitch >= 0:
        notes.append((pitch, start, len(window)))
    return notes


def windows_to_midi(
    windows: np.ndarray | list,
    path: str | Path,
    qpm: float | np.ndarray = DEFAULT_QPM,
    *,
    velocity: int = DEFAULT_VELOCITY,
    program: int = 0,
) -> Path:
    """Write windows of class indices as a one-track MIDI file so they can be heard.

    Like Magenta's decoded melodies (``Melody.to_sequence(velocity=80, qpm=120)``, program 0). Several
    windows, shape (n, T), are written one after another; ``qpm`` may be one tempo or one per window
    (each window keeps its own step length in seconds; the file's tempo is the first one).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    windows = np.asarray(windows)
    windows = check_windows(windows[None, :] if windows.ndim == 1 else windows)
    tempos = check_qpm(qpm, windows.shape[0])
    notes = []
    offset = 0.0
    for window, tempo in zip(windows, tempos, strict=True):
        seconds_per_step = 60.0 / tempo / STEPS_PER_QUARTER
        for pitch, start, end in notes_from_classes(window):
            notes.append(
                (pitch, offset + start * seconds_per_step, offset + end * seconds_per_step, velocity)
            )
        offset += window.shape[0] * seconds_per_step
    path = Path(path)
    write_midi(path, notes, qpm=float(tempos[0]), program=program)
    return path


def _checked_classes(classes: np.ndarray | list) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.size and (classes.min() < 0 or classes.max() >= NUM_CLASSES):
        bad = classes[(classes < 0) | (classes >= NUM_CLASSES)].flat[0]
        msg = f"class index {bad} outside 0..{NUM_CLASSES - 1}"
        raise ValueError(msg)
    return classes.astype(np.int64)

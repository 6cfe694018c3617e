"""Extra melody descriptors beside the jSymbolic ones, defined here (they follow no reference bit for bit).

They are the usual symbolic-music metrics (as in MusPy) and the attributes MusicVAE built its attribute
vectors from (C-diatonic membership, note density, 16th- and 8th-note syncopation). All count note onsets on
the 16th-note grid; none depends on tempo or convention. Fractions of notes are NaN for an empty window.
"""

from __future__ import annotations

import numpy as np

from musicneurons.constants import STEPS_PER_BAR, STEPS_PER_QUARTER
from musicneurons.features.notes import NoteBatch, divide, per_window_sum

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)  # pitch classes of C major; natural minor scales are their rotations


def n_notes(batch: NoteBatch) -> np.ndarray:
    """Number of notes (onsets) in the window."""
    return batch.n_notes.astype(np.float64)


def pitch_range(batch: NoteBatch) -> np.ndarray:
    """Highest minus lowest MIDI pitch in semitones (as P10). Empty: NaN."""
    present = batch.pitch_hist > 0
    lowest = np.argmax(present, axis=1)
    highest = present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    return np.where(batch.n_notes > 0, highest - lowest, np.nan)


def n_pitch_classes(batch: NoteBatch) -> np.ndarray:
    """Number of distinct pitch classes used (as P9). Empty: 0."""
    return (batch.pc_hist > 0).sum(axis=1).astype(np.float64)


def scale_consistency(batch: NoteBatch) -> np.ndarray:
    """Largest fraction of notes that fit one major or natural-minor scale (any of the 24). Empty: NaN.

    A natural minor scale holds the same pitch classes as its relative major, so the 12 major scales suffice.
    """
    in_scale = np.zeros((12, 12))
    for tonic in range(12):
        in_scale[tonic, [(tonic + step) % 12 for step in MAJOR_SCALE]] = 1.0
    best = (batch.pc_hist @ in_scale.T).max(axis=1)
    return divide(best, batch.n_notes, where=batch.n_notes > 0)


def pitch_class_entropy(batch: NoteBatch) -> np.ndarray:
    """Shannon entropy, in bits, of the notes' pitch-class distribution (0 to log2 12). Empty: NaN."""
    total = batch.n_notes[:, None]
    p = divide(batch.pc_hist, total, where=total > 0, fill=0.0)
    logp = np.log2(p, out=np.zeros_like(p), where=p > 0)
    entropy = -(p * logp).sum(axis=1)
    return np.where(batch.n_notes > 0, entropy + 0.0, np.nan)


def empty_beat_rate(batch: NoteBatch) -> np.ndarray:
    """Fraction of the window's beats (quarter notes, 4 steps) in which no note sounds at any step.

    Beats are counted over the whole window (a trailing partial beat counts as a beat); an empty window
    gives 1.
    """
    n_beats = -(-batch.n_steps // STEPS_PER_QUARTER)
    padded_end = n_beats * STEPS_PER_QUARTER  # no note sounds in the padding, so it changes nothing
    # Silences: before the first note, between consecutive notes, after the last one. A silence from step a
    # to step b (exclusive) holds the whole beats from ceil(a / 4) up to floor(b / 4).
    first_start, _, last_end = batch.note_bounds()
    has = batch.n_notes > 0
    empty = np.where(has, first_start // STEPS_PER_QUARTER, n_beats).astype(np.float64)
    empty += np.where(has, (padded_end - last_end) // STEPS_PER_QUARTER, 0)
    same = batch.win[1:] == batch.win[:-1]
    silence_from = -(-batch.end[:-1][same] // STEPS_PER_QUARTER)
    silence_to = batch.start[1:][same] // STEPS_PER_QUARTER
    inner = np.maximum(silence_to - silence_from, 0).astype(np.float64)
    empty += per_window_sum(inner, batch.win[1:][same], batch.n_windows)
    return empty / n_beats


def note_density_per_bar(batch: NoteBatch) -> np.ndarray:
    """Notes (onsets) per 4/4 bar of the window (MusicVAE's "note density" times 16 steps)."""
    return batch.n_notes / (batch.n_steps / STEPS_PER_BAR)


def _onset_positions(batch: NoteBatch) -> np.ndarray:
    """Per window, the notes starting on each 16th of the beat, shape (n, 4)."""

    def compute(b: NoteBatch) -> np.ndarray:
        slot = b.win * STEPS_PER_QUARTER + b.start % STEPS_PER_QUARTER
        return np.bincount(slot, minlength=b.n_windows * STEPS_PER_QUARTER).reshape(-1, STEPS_PER_QUARTER)

    return batch.memo("onset_positions", compute)


def syncopation_16th(batch: NoteBatch) -> np.ndarray:
    """Fraction of notes that start on an odd 16th step, i.e. off the 8th-note grid. Empty: NaN."""
    positions = _onset_positions(batch)
    return divide(positions[:, 1] + positions[:, 3], batch.n_notes, where=batch.n_notes > 0)


def syncopation_8th(batch: NoteBatch) -> np.ndarray:
    """Fraction of notes that start on the off-beat 8th (step 2 of a beat), i.e. on the 8th-note grid but
    off the quarter-note grid. Empty: NaN.
    """
    return divide(_onset_positions(batch)[:, 2], batch.n_notes, where=batch.n_notes > 0)


def c_diatonic(batch: NoteBatch) -> np.ndarray:
    """Fraction of notes whose pitch class belongs to C major (the white keys). Empty: NaN."""
    return divide(batch.pc_hist[:, list(MAJOR_SCALE)].sum(axis=1), batch.n_notes, where=batch.n_notes > 0)


EXTRA_FEATURES = {
    "n_notes": n_notes,
    "pitch_range": pitch_range,
    "n_pitch_classes": n_pitch_classes,
    "scale_consistency": scale_consistency,
    "pitch_class_entropy": pitch_class_entropy,
    "empty_beat_rate": empty_beat_rate,
    "note_density_per_bar": note_density_per_bar,
    "syncopation_16th": syncopation_16th,
    "syncopation_8th": syncopation_8th,
    "c_diatonic": c_diatonic,
}

"""What each step trains on: the seeded data order, the transposition augmentation and the validation split.

Data order and transpositions are pure functions of (seed, step), so a resumed run sees exactly the batches
an uninterrupted one would. Differences from Magenta, on purpose (docs/training.md): a transposition is drawn
afresh every time an example is used (Magenta's cached tf.data pipeline transposes only in the first epoch),
and a shift that would push a note out of 21..108 is never drawn (Magenta drops such notes).
"""

from __future__ import annotations

import hashlib

import numpy as np

from musicneurons.constants import FIRST_PITCH_CLASS, NUM_CLASSES

TRANSPOSE_RANGE = 5  # Magenta's NoteSequenceAugmenter(transpose_range=(-5, 5)), in semitones
VALID_FRACTION = 0.05  # share of source files held out for validation when no validation file is given


def transpose_windows(
    windows: np.ndarray, rng: np.random.Generator, max_shift: int = TRANSPOSE_RANGE
) -> np.ndarray:
    """Shift every window's pitches by one random integer in [-max_shift, max_shift] semitones.

    Only shifts that keep all of a window's notes inside 21..108 are drawn (uniformly among those), so no note
    is ever dropped; NO_EVENT and NOTE_OFF are unchanged. Returns a new int8 array.
    """
    w = windows.astype(np.int16)
    is_pitch = w >= FIRST_PITCH_CLASS
    lo_cls = np.where(is_pitch, w, NUM_CLASSES).min(axis=1)
    hi_cls = np.where(is_pitch, w, -1).max(axis=1)
    has = hi_cls >= 0
    lo = np.where(has, np.maximum(-max_shift, FIRST_PITCH_CLASS - lo_cls), -max_shift)
    hi = np.where(has, np.minimum(max_shift, NUM_CLASSES - 1 - hi_cls), max_shift)
    shift = lo + np.floor(rng.random(len(w)) * (hi - lo + 1)).astype(np.int16)
    return np.where(is_pitch, w + shift[:, None], w).astype(np.int8)


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> np.ndarray:
    """Indices of the examples of ``step``: a stream of per-epoch permutations seeded by (seed, epoch)."""
    start = step * batch_size
    out: list[int] = []
    while len(out) < batch_size:
        epoch, pos = divmod(start, n)
        perm = np.random.default_rng([seed, 7, epoch]).permutation(n)
        take = perm[pos : pos + batch_size - len(out)]
        out.extend(take.tolist())
        start += len(take)
    return np.asarray(out, dtype=np.int64)


def split_by_source(sources: np.ndarray, valid_fraction: float = VALID_FRACTION) -> np.ndarray:
    """Boolean mask of validation rows: whole source files go to validation by a stable sha1 of their name."""
    uniq = np.unique(sources)
    chosen = {
        s for s in uniq if int(hashlib.sha1(str(s).encode()).hexdigest()[:12], 16) / 16**12 < valid_fraction
    }
    return np.array([s in chosen for s in sources], dtype=bool)

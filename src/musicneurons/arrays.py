"""Validators of the arrays that cross layers: melody windows, tempos and latent codes; and
:func:`noise_silence`, the one statistic of latent codes that both training (its held-out log) and the
analyses (a model's health rows) compute.

Every function takes an array-like, checks it and returns it in its canonical form, or raises
``ValueError`` whose message names the array (``name``: say which file or argument it came from), the
first bad index and value, and what was expected. A caller that reads a user's file re-raises the error
as :class:`musicneurons.errors.UserError`. No copy is made when the input is already canonical.

=================  ================================  ============================================
function           canonical form                    checks
=================  ================================  ============================================
check_windows      int8, C-contiguous, (n, T)        2-D, integer values, class indices 0..89,
                                                     T == ``steps`` when given
check_qpm          float64, (n,)                     scalar or shape (n,), finite, > 0
check_latents      float32 or float64, (n, d)        2-D, real numbers, finite, d == ``dim`` when
                                                     given
=================  ================================  ============================================
"""

from __future__ import annotations

import numpy as np

from musicneurons.constants import EXCITED_MU, NUM_CLASSES, SILENT_SIGMA

__all__ = ["check_latents", "check_qpm", "check_windows", "noise_silence"]


def check_windows(windows: object, *, steps: int | None = None, name: str = "windows") -> np.ndarray:
    """Melody windows as ``int8 (n_windows, n_steps)`` class indices 0..89 (0 NO_EVENT, 1 NOTE_OFF,
    k >= 2 MIDI pitch k + 19).

    Parameters
    ----------
    windows : array-like, shape (n_windows, n_steps)
        Integer class indices (floats holding whole numbers are accepted).
    steps : int, optional
        The required number of steps per window (32 for 2 bars, 256 for 16 bars).
    name : str
        What the array is, for the message (e.g. the file it was read from).

    Raises
    ------
    ValueError
        If the array is not 2-D, has another step count, holds non-integers or a class outside 0..89
        (the message names the first bad window and step).
    """
    arr = np.asarray(windows)
    if arr.ndim != 2:
        msg = f"{name} must be a 2-D array (n_windows, n_steps) of class indices, got shape {arr.shape}"
        raise ValueError(msg)
    if steps is not None and arr.shape[1] != steps:
        msg = f"{name} has windows of {arr.shape[1]} steps, expected {steps}"
        raise ValueError(msg)
    if arr.dtype.kind not in "iu" and (arr.dtype.kind != "f" or not np.array_equal(arr, np.floor(arr))):
        msg = f"{name} must hold integer class indices, got dtype {arr.dtype} with non-integer values"
        raise ValueError(msg)
    bad = (arr < 0) | (arr >= NUM_CLASSES)
    if bad.any():
        i, t = (int(v) for v in np.argwhere(bad)[0])
        value = arr[i, t].item()
        msg = f"{name}: class index {value} at window {i}, step {t} outside 0..{NUM_CLASSES - 1} (inclusive)"
        raise ValueError(msg)
    return np.ascontiguousarray(arr, dtype=np.int8)


def check_qpm(qpm: object, n_windows: int, *, name: str = "qpm") -> np.ndarray:
    """Tempos in quarter notes per minute as ``float64 (n_windows,)``; a scalar is broadcast.

    Raises
    ------
    ValueError
        If the shape is neither () nor (n_windows,), or a tempo is not finite and positive.
    """
    arr = np.asarray(qpm, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_windows, float(arr))
    if arr.shape != (n_windows,):
        msg = f"{name} must be a scalar or have shape ({n_windows},) like the windows, got shape {arr.shape}"
        raise ValueError(msg)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"{name}: {arr[i]} at window {i} is not a finite positive tempo (quarter notes per minute)"
        raise ValueError(msg)
    return arr


def check_latents(latents: object, *, dim: int | None = None, name: str = "latents") -> np.ndarray:
    """Latent codes (or any per-sample vectors) as a finite float ``(n_samples, dim)`` array.

    float32 and float64 arrays keep their dtype; integer input becomes float64.

    Raises
    ------
    ValueError
        If the array is not 2-D, has another width than ``dim``, is not real, or holds NaN or inf (the
        message names the first such row and column).
    """
    arr = np.asarray(latents)
    if arr.ndim != 2:
        msg = f"{name} must be a 2-D array (n_samples, n_dims), got shape {arr.shape}"
        raise ValueError(msg)
    if dim is not None and arr.shape[1] != dim:
        msg = f"{name} has {arr.shape[1]} dimensions, expected {dim}"
        raise ValueError(msg)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    elif arr.dtype not in (np.float32, np.float64):
        if arr.dtype.kind != "f":
            msg = f"{name} must hold real numbers, got dtype {arr.dtype}"
            raise ValueError(msg)
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        msg = f"{name}: {arr[i, j]} at row {i}, dimension {j} (latents must be finite)"
        raise ValueError(msg)
    return arr


def noise_silence(mu: np.ndarray, mean_sigma: np.ndarray, noise: np.ndarray) -> tuple[float, float]:
    """How silent the noise dims are: ``(silent_share, excited_median)``.

    ``silent_share``: share of the noise dims with mean sigma >= :data:`~musicneurons.constants.SILENT_SIGMA`
    (1.0 when there are none); ``excited_median``: median over the windows of the number of noise dims with
    |mu| > :data:`~musicneurons.constants.EXCITED_MU`. Nothing is validated (a NaN never counts).

    Parameters
    ----------
    mu : ndarray, shape (n_windows, z_size)
        Posterior means; compared in float64 whatever their dtype.
    mean_sigma : ndarray, shape (z_size,)
        Mean posterior sigma per dim over the windows; compared in its own dtype.
    noise : ndarray of bool, shape (z_size,)
        Which dims are noise dims (the caller's split).
    """
    silent = float((mean_sigma[noise] >= SILENT_SIGMA).mean()) if noise.any() else 1.0
    excited = (np.abs(np.asarray(mu, dtype=np.float64)[:, noise]) > EXCITED_MU).sum(axis=1)
    return silent, float(np.median(excited))

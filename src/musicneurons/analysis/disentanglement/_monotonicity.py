"""Monotonicity of attributes along a latent traversal (latte; Watcharasupat & Lerch 2021, "Evaluation of
latent-space disentanglement in the absence of interpretable attributes").

Along a traversal z_0 < z_1 < ... of one latent, the local attribute change per step is
LIAD_s = (a_{s+1} - a_s) / (z_{s+1} - z_s); monotonicity = sum_s 1[|LIAD_s| > eps] sgn(LIAD_s) /
sum_s 1[|LIAD_s| > eps]: +1 when the attribute only rises, -1 when it only falls, 0 when it rises as often as
it falls, and NaN when no step changes it (more than ``eps``).
"""

from __future__ import annotations

import numpy as np

DEFAULT_EPS = 1e-3  # latte's default


def monotonicity(traversal: np.ndarray, attributes: np.ndarray, *, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Monotonicity of each attribute along a traversal.

    Parameters
    ----------
    traversal : array-like, shape (n_steps,)
        The values of the traversed latent, strictly monotone (at least two steps).
    attributes : array-like, shape (n_steps,) or (n_steps, n_attributes), or (n_samples, n_steps,
    n_attributes)
        The attributes at each step (for several samples: one traversal each, same grid). A NaN attribute
        makes the two steps around it uncounted.
    eps : float
        A step counts when |LIAD| > eps.

    Returns
    -------
    ndarray
        Shape (n_attributes,) (or (n_samples, n_attributes)); a scalar array for 1-D ``attributes``.
        NaN where no step counts.

    Raises
    ------
    ValueError
        When two consecutive traversal values are equal (a constant traversal) or the shapes disagree.
    """
    z = np.asarray(traversal, dtype=np.float64).ravel()
    a = np.asarray(attributes, dtype=np.float64)
    steps_axis = 0 if a.ndim <= 2 else 1
    if z.size < 2 or a.shape[steps_axis] != z.size:
        msg = f"traversal has {z.size} steps but attributes have shape {a.shape} (need >= 2 matching steps)"
        raise ValueError(msg)
    dz = np.diff(z)
    if np.any(dz == 0):
        msg = "the traversal must be strictly monotone: two consecutive values are equal"
        raise ValueError(msg)
    shape = [1] * a.ndim
    shape[steps_axis] = dz.size
    liad = np.diff(a, axis=steps_axis) / dz.reshape(shape)
    counted = np.abs(liad) > eps  # False for NaN
    n = counted.sum(axis=steps_axis)
    signed = np.where(counted, np.sign(liad), 0.0).sum(axis=steps_axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, signed / np.maximum(n, 1), np.nan)


def change_share(attributes: np.ndarray, *, steps_axis: int = 0, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Share of consecutive steps whose attribute changes by more than ``eps`` (NaN steps count as unchanged).

    Greedy decodes are piecewise constant in z, so report this beside :func:`monotonicity`.
    """
    a = np.asarray(attributes, dtype=np.float64)
    return (np.abs(np.diff(a, axis=steps_axis)) > eps).mean(axis=steps_axis)

"""Music neurons vs noise neurons: order latent dimensions by posterior width, split them, count activations.

All functions take the encoder's outputs over a corpus as plain arrays, ``mu`` and ``sigma`` of shape
``(n_samples, z_size)`` (one row per melody), and return NumPy arrays or small frozen records.

The paper (Barenboim et al. 2023, Sec. 2-3 and 5) orders the 512 dimensions of MusicVAE's latent space by
their mean posterior standard deviation over real melodies ("specificity": smallest mean sigma first) and
calls the dimensions with sigma clearly below 1 *music neurons* (37 of 512 for the 2-bar model, 77 for the
16-bar one); the others have sigma ~ 1 and mu ~ 0 for every input (the prior) and are *noise neurons*.
See ``docs/analyses.md`` for the choice of the default threshold.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from scipy import stats

from musicneurons.constants import EXCITED_MU, MUSIC_SIGMA_THRESHOLD

log = logging.getLogger(__name__)

DEFAULT_SIGMA_THRESHOLD = MUSIC_SIGMA_THRESHOLD  # music neuron: mean posterior sigma below this
DEFAULT_ACTIVE_VARIANCE = 0.01  # Burda et al. (2016): active unit when Var over data of mu_j exceeds this
DEFAULT_ACTIVATION = EXCITED_MU  # the paper's Fig. 11: "excited" when |mu_j| > 0.1


def _latents(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        msg = f"{name} must have shape (n_samples, z_size) with n_samples >= 1, got {arr.shape}"
        raise ValueError(msg)
    if np.isnan(arr).any():
        msg = f"{name} contains NaN; encode every melody before the analysis"
        raise ValueError(msg)
    return arr


@dataclasses.dataclass(frozen=True)
class NeuronSplit:
    """Music/noise split of the latent dimensions.

    Attributes
    ----------
    order : ndarray of int, shape (z_size,)
        Dimensions sorted by mean sigma, most specific (smallest) first; ties keep index order.
    mean_sigma : ndarray of float, shape (z_size,)
        Mean posterior sigma of each dimension over the corpus (in the original dimension order).
    is_music : ndarray of bool, shape (z_size,)
        True for music neurons (mean sigma < threshold), in the original dimension order.
    threshold : float
        The sigma threshold used.
    stable_range : tuple of float
        (largest mean sigma of a music neuron, smallest mean sigma of a noise neuron): every threshold in
        this half-open interval ``(low, high]`` gives the same split. A wide interval means a clean gap.
    """

    order: np.ndarray
    mean_sigma: np.ndarray
    is_music: np.ndarray
    threshold: float
    stable_range: tuple[float, float]

    @property
    def n_music(self) -> int:
        """Number of music neurons."""
        return int(self.is_music.sum())

    @property
    def music(self) -> np.ndarray:
        """Indices of the music neurons, most specific first."""
        return self.order[: self.n_music]

    @property
    def noise(self) -> np.ndarray:
        """Indices of the noise neurons, most specific first."""
        return self.order[self.n_music :]


def neuron_order(sigma: object) -> np.ndarray:
    """Latent dimensions sorted by mean posterior sigma over the samples, smallest (most specific) first.

    Parameters
    ----------
    sigma : array-like, shape (n_samples, z_size)
        Posterior standard deviations (after softplus), one row per melody.

    Returns
    -------
    ndarray of int, shape (z_size,)
    """
    mean_sigma = _latents(sigma, "sigma").mean(axis=0)
    return np.argsort(mean_sigma, kind="stable")


def split_music_noise(sigma: object, *, threshold: float = DEFAULT_SIGMA_THRESHOLD) -> NeuronSplit:
    """Split the latent dimensions into music neurons (mean sigma < ``threshold``) and noise neurons.

    Parameters
    ----------
    sigma : array-like, shape (n_samples, z_size)
        Posterior standard deviations over a corpus of real melodies.
    threshold : float
        Mean-sigma threshold (the prior has sigma = 1). Default 0.95; see ``docs/analyses.md``.

    Returns
    -------
    NeuronSplit
    """
    mean_sigma = _latents(sigma, "sigma").mean(axis=0)
    order = np.argsort(mean_sigma, kind="stable")
    is_music = mean_sigma < threshold
    low = float(mean_sigma[is_music].max()) if is_music.any() else -np.inf
    high = float(mean_sigma[~is_music].min()) if (~is_music).any() else np.inf
    split = NeuronSplit(
        order=order,
        mean_sigma=mean_sigma,
        is_music=is_music,
        threshold=float(threshold),
        stable_range=(low, high),
    )
    log.info(
        "%d music neurons of %d (mean sigma < %g; same split for thresholds in (%.4g, %.4g])",
        split.n_music,
        mean_sigma.size,
        threshold,
        low,
        high,
    )
    return split


def largest_sigma_gap(sigma: object) -> tuple[int, float]:
    """The split at the largest gap between consecutive sorted mean sigmas (a threshold-free check).

    Returns
    -------
    n_below : int
        Number of dimensions below the gap.
    threshold : float
        Midpoint of the gap; ``split_music_noise(sigma, threshold=threshold)`` reproduces the split.
    """
    mean_sigma = np.sort(_latents(sigma, "sigma").mean(axis=0))
    if mean_sigma.size < 2:
        msg = "need at least two latent dimensions to find a gap"
        raise ValueError(msg)
    gaps = np.diff(mean_sigma)
    i = int(np.argmax(gaps))
    return i + 1, float((mean_sigma[i] + mean_sigma[i + 1]) / 2)


def active_units(mu: object, *, threshold: float = DEFAULT_ACTIVE_VARIANCE) -> np.ndarray:
    """Burda et al. (2016) active units: dimensions whose mu varies over the data, Var_x(mu_j(x)) > threshold.

    Parameters
    ----------
    mu : array-like, shape (n_samples, z_size)
    threshold : float
        Variance threshold (Burda et al.: 0.01).

    Returns
    -------
    ndarray of bool, shape (z_size,)
    """
    return _latents(mu, "mu").var(axis=0) > threshold


@dataclasses.dataclass(frozen=True)
class SplitAgreement:
    """How two boolean classifications of the latent dimensions agree (e.g. sigma split vs active units)."""

    both: int  # dimensions selected by both criteria
    only_first: int
    only_second: int
    neither: int
    jaccard: float  # both / (both + only_first + only_second); NaN when nothing is selected
    cohen_kappa: float  # chance-corrected agreement; NaN when both criteria are constant and equal


def split_agreement(first: object, second: object) -> SplitAgreement:
    """Agreement of two boolean masks over the latent dimensions, e.g. ``split.is_music`` and active units."""
    a = np.asarray(first, dtype=bool)
    b = np.asarray(second, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        msg = f"masks must be 1-D with the same length, got shapes {a.shape} and {b.shape}"
        raise ValueError(msg)
    both, only_a, only_b = int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum())
    neither = a.size - both - only_a - only_b
    selected = both + only_a + only_b
    jaccard = both / selected if selected else float("nan")
    observed = (both + neither) / a.size
    expected = (a.mean() * b.mean()) + ((1 - a.mean()) * (1 - b.mean()))
    kappa = (observed - expected) / (1 - expected) if expected < 1 else float("nan")
    return SplitAgreement(both, only_a, only_b, neither, float(jaccard), float(kappa))


def activation_counts(
    mu: object, is_music: object, *, threshold: float = DEFAULT_ACTIVATION
) -> tuple[np.ndarray, np.ndarray]:
    """Per melody, the number of music and of noise neurons with |mu| > ``threshold`` (the paper's Fig. 11).

    Parameters
    ----------
    mu : array-like, shape (n_samples, z_size)
    is_music : array-like of bool, shape (z_size,)
        E.g. ``split_music_noise(sigma).is_music``.
    threshold : float
        Excitation threshold on |mu| (paper: 0.1). Strict inequality.

    Returns
    -------
    music_counts, noise_counts : ndarray of int, shape (n_samples,) each
    """
    m = _latents(mu, "mu")
    mask = np.asarray(is_music, dtype=bool)
    if mask.shape != (m.shape[1],):
        msg = f"is_music must have shape ({m.shape[1]},) to match mu, got {mask.shape}"
        raise ValueError(msg)
    excited = np.abs(m) > threshold
    return excited[:, mask].sum(axis=1), excited[:, ~mask].sum(axis=1)


# ------------------------------------------------------------------------------------ real vs random
def neuron_histograms(
    mu_a: object, mu_b: object, dims: object, *, bins: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histogram data of mu for selected dimensions in two sets (e.g. real melodies vs random notes, Fig. 10).

    Both sets share each dimension's bin edges (uniform over the union's range).

    Parameters
    ----------
    mu_a, mu_b : array-like, shape (n_a, z_size) and (n_b, z_size)
    dims : sequence of int
        Dimensions to histogram, e.g. ``split.order[:4]``.
    bins : int

    Returns
    -------
    edges : ndarray, shape (len(dims), bins + 1)
    counts_a, counts_b : ndarray of int, shape (len(dims), bins) each
    """
    a, b = _latents(mu_a, "mu_a"), _latents(mu_b, "mu_b")
    if a.shape[1] != b.shape[1]:
        msg = f"mu_a has {a.shape[1]} dimensions but mu_b has {b.shape[1]}"
        raise ValueError(msg)
    index = np.asarray(dims, dtype=np.int64).ravel()
    edges = np.empty((index.size, bins + 1))
    counts_a = np.empty((index.size, bins), dtype=np.int64)
    counts_b = np.empty((index.size, bins), dtype=np.int64)
    for row, d in enumerate(index):
        lo = min(a[:, d].min(), b[:, d].min())
        hi = max(a[:, d].max(), b[:, d].max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges[row] = np.linspace(lo, hi, bins + 1)
        counts_a[row] = np.histogram(a[:, d], edges[row])[0]
        counts_b[row] = np.histogram(b[:, d], edges[row])[0]
    return edges, counts_a, counts_b


def ks_per_neuron(mu_a: object, mu_b: object) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample Kolmogorov-Smirnov distance between two sets of melodies, one per latent dimension.

    Parameters
    ----------
    mu_a, mu_b : array-like, shape (n_a, z_size) and (n_b, z_size)

    Returns
    -------
    statistic : ndarray of float, shape (z_size,)
        D = sup_x |F_a(x) - F_b(x)| in [0, 1], as ``scipy.stats.ks_2samp``.
    p_value : ndarray of float, shape (z_size,)
        Two-sided p-value from Smirnov's asymptotic distribution, as ``scipy.stats.ks_2samp(...,
        method="asymp")`` (scipy's default switches to it above 10,000 samples).
    """
    a, b = _latents(mu_a, "mu_a"), _latents(mu_b, "mu_b")
    if a.shape[1] != b.shape[1]:
        msg = f"mu_a has {a.shape[1]} dimensions but mu_b has {b.shape[1]}"
        raise ValueError(msg)
    n_a, n_b = a.shape[0], b.shape[0]
    sorted_a, sorted_b = np.sort(a.T, axis=1), np.sort(b.T, axis=1)  # (z_size, n), one row per dimension
    statistic = np.empty(a.shape[1])
    for d in range(a.shape[1]):
        values = np.concatenate([sorted_a[d], sorted_b[d]])
        order = np.argsort(values, kind="stable")  # merging two sorted runs: linear time
        merged = values[order]
        count_a = np.cumsum(order < n_a)  # samples of a at or below each merged value
        count_b = np.arange(1, values.size + 1) - count_a
        end_of_tie = np.append(merged[1:] != merged[:-1], True)  # the ECDFs jump only after a tie group
        statistic[d] = np.abs(count_a[end_of_tie] / n_a - count_b[end_of_tie] / n_b).max()
    m, n = max(n_a, n_b), min(n_a, n_b)
    p_value = np.clip(stats.kstwo.sf(statistic, np.round(m * n / (m + n))), 0.0, 1.0)
    return statistic, p_value

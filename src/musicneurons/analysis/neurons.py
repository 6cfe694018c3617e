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


SENSITIVITY_THRESHOLDS = (0.8, 0.9, 0.95, 0.99)  # mean-sigma thresholds at which the split is recounted


@dataclasses.dataclass(frozen=True)
class GapSplit:
    """A threshold-free music/noise split from the sorted mean sigmas.

    Attributes
    ----------
    n_music : int
        Dimensions below the split.
    method : str
        ``"largest gap"``: the widest gap between consecutive sorted mean sigmas among the dimensions above
        ``floor``; ``"two-component mixture"``: a 1-D Gaussian mixture of the mean sigmas, music = the
        dimensions more likely under the component with the smaller mean.
    threshold : float
        A mean-sigma threshold that reproduces the split (the gap's midpoint, or the point between the last
        music and the first noise dimension for the mixture).
    gap : float
        Width of the gap at the split (largest mean sigma of a noise dimension minus the smallest: 0 when
        every dimension falls on one side).
    """

    n_music: int
    method: str
    threshold: float
    gap: float


def n_music_gap(sigma: object, *, method: str = "largest gap", floor: float = 0.5) -> GapSplit:
    """Split the latent dimensions where the sorted mean sigmas jump, with no threshold chosen in advance.

    Parameters
    ----------
    sigma : array-like, shape (n_samples, z_size)
        Posterior standard deviations over a corpus of real melodies.
    method : {"largest gap", "two-component mixture"}
        ``"largest gap"`` looks for the widest gap between consecutive sorted mean sigmas, only between
        dimensions whose mean sigma exceeds ``floor``: a few very specific music neurons far apart (0.05,
        0.3, ...) would otherwise win over the edge of the noise cluster at sigma ~ 1. With no dimension
        above ``floor`` every dimension is a music neuron. ``"two-component mixture"`` fits two Gaussians to
        the mean sigmas by EM (started from their 10th and 90th percentiles).
    floor : float
        See ``method``; the prior has sigma = 1, and a dimension with mean sigma below 0.5 is a music
        neuron under any threshold anyone uses. When every dimension has the same mean sigma there is
        nothing to split, and the dimensions below ``floor`` (all or none) are the music neurons.

    Returns
    -------
    GapSplit
    """
    mean_sigma = np.sort(_latents(sigma, "sigma").mean(axis=0))
    if mean_sigma.size < 2:
        msg = "need at least two latent dimensions to find a gap"
        raise ValueError(msg)
    if method not in ("largest gap", "two-component mixture"):
        msg = f"method must be 'largest gap' or 'two-component mixture', got {method!r}"
        raise ValueError(msg)
    if mean_sigma[-1] - mean_sigma[0] <= 1e-9:  # one cluster: nothing to split, the floor decides
        n_low = int((mean_sigma < floor).sum())
        return GapSplit(n_low, method, float(floor), 0.0)
    if method == "largest gap":
        start = int(np.searchsorted(mean_sigma, floor, side="right"))  # first dimension above the floor
        if start >= mean_sigma.size:  # every dimension below the floor
            return GapSplit(int(mean_sigma.size), method, float(mean_sigma[-1]) + 1e-9, 0.0)
        # the gap just below the first dimension above the floor counts too
        lo = max(start - 1, 0)
        gaps = np.diff(mean_sigma[lo:])
        i = lo + int(np.argmax(gaps))
        n = i + 1
    else:
        n = _mixture_split(mean_sigma)
    if n >= mean_sigma.size:
        return GapSplit(int(mean_sigma.size), method, float(mean_sigma[-1]) + 1e-9, 0.0)
    if n == 0:
        return GapSplit(0, method, float(mean_sigma[0]), 0.0)
    gap = float(mean_sigma[n] - mean_sigma[n - 1])
    return GapSplit(int(n), method, float((mean_sigma[n - 1] + mean_sigma[n]) / 2), gap)


def _mixture_split(values: np.ndarray, *, iterations: int = 200) -> int:
    """Sorted values -> how many belong to the lower of two 1-D Gaussian components (EM, hard assignment)."""
    spread = float(values[-1] - values[0])
    floor_var = (1e-2 * spread) ** 2  # keeps a component from collapsing onto a single value
    means = np.quantile(values, [0.1, 0.9]).astype(np.float64)
    var = np.full(2, max(np.var(values), floor_var))
    weight = np.array([0.5, 0.5])
    for _ in range(iterations):
        log_p = -0.5 * ((values[:, None] - means) ** 2 / var + np.log(2 * np.pi * var)) + np.log(weight)
        log_p -= log_p.max(axis=1, keepdims=True)
        resp = np.exp(log_p)
        resp /= resp.sum(axis=1, keepdims=True)
        total = resp.sum(axis=0)
        if np.any(total < 1e-9):
            break
        new_means = (resp * values[:, None]).sum(axis=0) / total
        var = np.maximum((resp * (values[:, None] - new_means) ** 2).sum(axis=0) / total, floor_var)
        weight = total / values.size
        converged = np.allclose(new_means, means, rtol=0, atol=1e-12)
        means = new_means
        if converged:
            break
    low = int(np.argmin(means))
    log_p = -0.5 * ((values[:, None] - means) ** 2 / var + np.log(2 * np.pi * var)) + np.log(weight)
    is_low = log_p[:, low] > log_p[:, 1 - low]
    # a narrow component loses its far tail to the wide one: decide by posterior only between the two means
    between = (values > means[low]) & (values < means[1 - low])
    return int((values <= means[low]).sum() + (is_low & between).sum())


def threshold_sensitivity(sigma: object, thresholds: object = SENSITIVITY_THRESHOLDS) -> dict[float, int]:
    """Number of music neurons (mean sigma < t) for each threshold ``t``: how much the split moves.

    Parameters
    ----------
    sigma : array-like, shape (n_samples, z_size)
    thresholds : sequence of float
        Default 0.8, 0.9, 0.95 (the study's default) and 0.99.

    Returns
    -------
    dict
        threshold -> count, in the order given.
    """
    mean_sigma = _latents(sigma, "sigma").mean(axis=0)
    return {float(t): int((mean_sigma < t).sum()) for t in np.asarray(thresholds, dtype=np.float64).ravel()}


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

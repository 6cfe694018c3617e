"""Mutual Information Gap (Chen et al. 2018, "Isolating sources of disentanglement in VAEs").

MIG = mean over factors k of [I(z_(1); v_k) - I(z_(2); v_k)] / H(v_k), where z_(1) and z_(2) are the two
latents sharing the most information with v_k. 1 when each factor lives in exactly one latent; 0 when its
information is split evenly over two latents (or absent).
"""

from __future__ import annotations

import numpy as np

from musicneurons.analysis.disentanglement._mutual_information import (
    DEFAULT_BINS,
    discretize_factors,
    entropies,
    mutual_information,
)


def mig_from_mi(mi: np.ndarray, factor_entropy: np.ndarray) -> tuple[float, np.ndarray]:
    """MIG from a mutual-information matrix (n_latents, n_factors) and each factor's entropy (n_factors,).

    Returns ``(mig, per_factor_gap)``; with a single latent the gap is I(z_(1); v_k) / H(v_k). Factors with
    zero entropy (constant) get NaN and are left out of the mean.
    """
    m = np.asarray(mi, dtype=np.float64)
    h = np.asarray(factor_entropy, dtype=np.float64)
    top = -np.sort(-m, axis=0)
    second = top[1] if m.shape[0] > 1 else np.zeros(m.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(h > 0, (top[0] - second) / h, np.nan)
    return (float(np.nanmean(gap)) if np.isfinite(gap).any() else float("nan")), gap


def mig(
    latents: np.ndarray,
    factors: np.ndarray,
    *,
    estimator: str = "binned",
    n_bins: int = DEFAULT_BINS,
    random_state: int = 0,
) -> float:
    """MIG of ``latents`` (n, d) against ``factors`` (n, k).

    Estimator: ``"binned"`` (default, disentanglement_lib): each latent in ``n_bins`` equal-width bins,
    plug-in MI; ``"knn"`` (AR-VAE / latte): nearest-neighbour MI of the continuous latent. Factors are
    discretised by :func:`~musicneurons.analysis.disentanglement.discretize_factors` (a factor with at most
    ``n_bins`` distinct values keeps its levels, otherwise ``n_bins`` equal-width bins) and H(v_k) is the
    plug-in entropy of those labels, for both estimators.
    """
    labels = discretize_factors(factors, n_bins)
    mi = mutual_information(latents, labels, estimator=estimator, n_bins=n_bins, random_state=random_state)
    return mig_from_mi(mi, entropies(labels))[0]

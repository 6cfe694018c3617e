"""AR-VAE's attribute scores (Pati & Lerch 2021, "Attribute-based regularization of latent spaces for
variational auto-encoders"): the Spearman correlation coefficient score (SCC) and interpretability.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from musicneurons.analysis.disentanglement._mutual_information import (
    DEFAULT_BINS,
    discretize_factors,
    mutual_information,
)


def spearman_significant(latents: np.ndarray, factors: np.ndarray, *, alpha: float = 0.05) -> np.ndarray:
    """Spearman rho (n_latents, n_factors) with rho set to 0 where its two-sided p-value exceeds ``alpha``.

    Ranks with ties averaged; p from the t distribution with n - 2 degrees of freedom
    (``scipy.stats.spearmanr``'s test). A constant column has rho 0.
    """
    z = stats.rankdata(np.asarray(latents, dtype=np.float64), axis=0)
    v = stats.rankdata(np.asarray(factors, dtype=np.float64), axis=0)
    n = len(z)
    zc = z - z.mean(axis=0)
    vc = v - v.mean(axis=0)
    denom = np.outer(np.sqrt((zc**2).sum(axis=0)), np.sqrt((vc**2).sum(axis=0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(denom > 0, (zc.T @ vc) / denom, 0.0)
    rho = np.clip(rho, -1.0, 1.0)
    if n <= 2:
        return np.zeros_like(rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * np.sqrt((n - 2) / np.maximum(1.0 - rho**2, 1e-300))
    p = 2 * stats.t.sf(np.abs(t), n - 2)
    return np.where(p > alpha, 0.0, rho)


def scc(latents: np.ndarray, factors: np.ndarray, *, alpha: float = 0.05) -> float:
    """SCC: mean over factors of max over latents of |Spearman rho| (rho = 0 when p > ``alpha``).

    Rank correlation on the raw values: no discretisation and no mutual information.
    """
    rho = spearman_significant(latents, factors, alpha=alpha)
    return float(np.mean(np.abs(rho).max(axis=0)))


def interpretability(
    latents: np.ndarray, factors: np.ndarray, *, n_bins: int = DEFAULT_BINS, mi: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """AR-VAE's interpretability: per factor, the latent with the highest **binned** mutual information
    (``n_bins`` equal-width bins per latent, factors discretised by ``discretize_factors``), then the R^2 of
    the 1-D least-squares regression of the raw factor on that latent.

    Returns ``(mean R^2, dims (n_factors,), r2 (n_factors,))``. ``mi``: that binned MI matrix when already
    computed (n_latents, n_factors).
    """
    z = np.asarray(latents, dtype=np.float64)
    v = np.asarray(factors, dtype=np.float64)
    if mi is None:
        mi = mutual_information(z, discretize_factors(v, n_bins), estimator="binned", n_bins=n_bins)
    dims = np.argmax(mi, axis=0)
    r2 = np.empty(v.shape[1])
    for k, j in enumerate(dims):
        x, y = z[:, j], v[:, k]
        if x.std() == 0 or y.std() == 0:
            r2[k] = 0.0
        else:
            r2[k] = float(np.corrcoef(x, y)[0, 1] ** 2)
    return float(np.mean(r2)), dims, r2

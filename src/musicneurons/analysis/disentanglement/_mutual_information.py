"""Discretisation and mutual information between latent codes and factors, the shared core of the metrics.

Two estimators, which give different numbers (always say which one a score used):

- ``"binned"`` (disentanglement_lib's): every latent column is cut into ``n_bins`` equal-width bins over its
  observed range (``numpy.histogram`` edges), the factors are discretised by :func:`discretize_factors`, and
  I(z_j; v_k) is the plug-in mutual information of the two label vectors (natural log, nats). Biased upwards
  by about (n_bins - 1)(levels - 1) / (2 n) nats for independent variables.
- ``"knn"`` (AR-VAE / latte): the latent stays continuous and I is the nearest-neighbour estimate of Ross
  (2014) against the discretised factor (``sklearn.feature_selection.mutual_info_classif``, 3 neighbours);
  slower, no binning bias, clipped at 0.
"""

from __future__ import annotations

import numpy as np

ESTIMATORS = ("binned", "knn")
DEFAULT_BINS = 20  # disentanglement_lib's num_bins


def histogram_bins(values: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Equal-width bin labels 0..n_bins-1 of each column of ``values`` (n, d) over its observed range.

    The edges are ``numpy.histogram``'s (the maximum falls in the last bin); a constant column is all 0.
    """
    x = np.asarray(values, dtype=np.float64)
    labels = np.zeros(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        lo, hi = x[:, j].min(), x[:, j].max()
        if hi > lo:
            edges = np.linspace(lo, hi, n_bins + 1)
            labels[:, j] = np.clip(np.searchsorted(edges, x[:, j], side="right") - 1, 0, n_bins - 1)
    return labels


def discretize_factors(factors: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Labels of each factor column (n, k): its own levels when it has at most ``n_bins`` distinct values
    (mapped in sorted order to 0..m-1), otherwise ``n_bins`` equal-width bins (:func:`histogram_bins`)."""
    v = np.asarray(factors, dtype=np.float64)
    labels = np.empty(v.shape, dtype=np.int64)
    for k in range(v.shape[1]):
        levels, inverse = np.unique(v[:, k], return_inverse=True)
        if levels.size <= n_bins:
            labels[:, k] = inverse.ravel()
        else:
            labels[:, k] = histogram_bins(v[:, k : k + 1], n_bins)[:, 0]
    return labels


def _plugin_mi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Plug-in MI (nats) between every column of labels ``a`` (n, d) and every column of ``b`` (n, k): (d,
    k)."""
    n, d = a.shape
    na = int(a.max()) + 1 if a.size else 1
    nb = int(b.max()) + 1 if b.size else 1
    offsets = np.arange(d, dtype=np.int64)[None, :] * (na * nb)
    pa = np.stack([np.bincount(a[:, j], minlength=na) for j in range(d)]) / n  # (d, na)
    mi = np.empty((d, b.shape[1]))
    for k in range(b.shape[1]):
        joint_index = offsets + a * nb + b[:, k : k + 1]
        joint = np.bincount(joint_index.ravel(), minlength=d * na * nb).reshape(d, na, nb) / n
        pb = np.bincount(b[:, k], minlength=nb) / n
        outer = pa[:, :, None] * pb[None, None, :]
        nz = joint > 0
        terms = np.zeros_like(joint)
        terms[nz] = joint[nz] * np.log(joint[nz] / outer[nz])
        mi[:, k] = terms.sum(axis=(1, 2))
    return np.maximum(mi, 0.0)


def entropies(labels: np.ndarray) -> np.ndarray:
    """Plug-in entropy (nats) of each column of integer labels (n, k)."""
    out = np.empty(labels.shape[1])
    for k in range(labels.shape[1]):
        p = np.bincount(labels[:, k]) / labels.shape[0]
        p = p[p > 0]
        out[k] = float(-(p * np.log(p)).sum())
    return out


def mutual_information(
    latents: np.ndarray,
    factor_labels: np.ndarray,
    *,
    estimator: str = "binned",
    n_bins: int = DEFAULT_BINS,
    random_state: int = 0,
) -> np.ndarray:
    """Mutual information (nats) between each latent column and each discretised factor.

    Parameters
    ----------
    latents : ndarray, shape (n_samples, n_latents)
    factor_labels : ndarray of int, shape (n_samples, n_factors)
        Factor labels from :func:`discretize_factors`.
    estimator : {"binned", "knn"}
        See the module docstring.
    n_bins : int
        Equal-width bins per latent for ``"binned"``.
    random_state : int
        Seeds the jitter of the ``"knn"`` estimator.

    Returns
    -------
    ndarray, shape (n_latents, n_factors)
    """
    if estimator == "binned":
        return _plugin_mi(histogram_bins(latents, n_bins), np.asarray(factor_labels, dtype=np.int64))
    if estimator == "knn":
        from sklearn.feature_selection import mutual_info_classif

        x = np.asarray(latents, dtype=np.float64)
        return np.stack(
            [
                mutual_info_classif(x, factor_labels[:, k], n_neighbors=3, random_state=random_state)
                for k in range(factor_labels.shape[1])
            ],
            axis=1,
        )
    msg = f"estimator must be one of {ESTIMATORS}, got {estimator!r}"
    raise ValueError(msg)

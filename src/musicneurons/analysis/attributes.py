"""Attribute vectors (MusicVAE's method) and whether they beat single neurons at tracking a feature.

Roberts et al. (2018, Sec. 5.3) build an attribute vector for a musical attribute as the mean latent code
of the melodies high in that attribute minus the mean code of the melodies low in it (top vs bottom
quartile). The paper we reproduce (Barenboim et al. 2023, Sec. 4 and its footnote 5) reports that such
vectors correlate *less* with the music features than the best single music neuron does.
:func:`compare_attribute_vectors` measures exactly that: for each feature, the correlation of the feature
with the projection of mu on its attribute vector, next to the best correlation reached by one neuron.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from musicneurons.analysis.correlations import pearson_matrix, phik_cross, spearman_matrix

log = logging.getLogger(__name__)

DEFAULT_QUANTILE = 0.25  # top and bottom quartiles, as MusicVAE
_METHODS = {"pearson": pearson_matrix, "spearman": spearman_matrix, "phik": phik_cross}


def _check(mu: object, features: object) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(mu, dtype=np.float64)
    f = np.asarray(features, dtype=np.float64)
    if f.ndim == 1:
        f = f[:, None]
    if m.ndim != 2 or f.ndim != 2 or m.shape[0] != f.shape[0]:
        msg = f"mu must be (n_samples, z_size) and features (n_samples, n_features); got {m.shape}, {f.shape}"
        raise ValueError(msg)
    if np.isnan(m).any():
        msg = "mu contains NaN; encode every melody before the analysis"
        raise ValueError(msg)
    return m, f


def extreme_groups(feature: object, *, quantile: float = DEFAULT_QUANTILE) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the samples in the top and bottom ``quantile`` of a feature (NaN in neither).

    Top: value >= the (1 - quantile) quantile; bottom: value <= the ``quantile`` quantile (linear
    interpolation, ``numpy.quantile``). When both cut points coincide (a feature with a dominant value) the
    top group becomes value > cut point, so that the two groups never share a sample.
    """
    f = np.asarray(feature, dtype=np.float64).ravel()
    if not 0 < quantile <= 0.5:
        msg = f"quantile must be in (0, 0.5], got {quantile}"
        raise ValueError(msg)
    present = ~np.isnan(f)
    top, bottom = np.zeros(f.size, dtype=bool), np.zeros(f.size, dtype=bool)
    if not present.any():
        return top, bottom
    low_cut, high_cut = np.quantile(f[present], [quantile, 1.0 - quantile])
    bottom[present] = f[present] <= low_cut
    top[present] = f[present] > high_cut if high_cut <= low_cut else f[present] >= high_cut
    return top, bottom


def attribute_vectors(mu: object, features: object, *, quantile: float = DEFAULT_QUANTILE) -> np.ndarray:
    """MusicVAE attribute vectors: mean mu of the top-quantile melodies minus that of the bottom ones.

    Parameters
    ----------
    mu : array-like, shape (n_samples, z_size)
    features : array-like, shape (n_samples, n_features) or (n_samples,)
        NaN = missing (the sample is left out for that feature).
    quantile : float
        Size of each extreme group (MusicVAE: 0.25, quartiles).

    Returns
    -------
    ndarray of float, shape (n_features, z_size)
        NaN rows for features where a group is empty (e.g. a constant feature).
    """
    m, f = _check(mu, features)
    out = np.full((f.shape[1], m.shape[1]), np.nan)
    for j in range(f.shape[1]):
        top, bottom = extreme_groups(f[:, j], quantile=quantile)
        if top.any() and bottom.any():
            out[j] = m[top].mean(axis=0) - m[bottom].mean(axis=0)
    return out


def compare_attribute_vectors(
    mu: object,
    features: object,
    *,
    dims: object | None = None,
    method: str = "pearson",
    quantile: float = DEFAULT_QUANTILE,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """Correlation of each feature with its attribute-vector projection vs with the best single neuron.

    Parameters
    ----------
    mu : array-like, shape (n_samples, z_size)
    features : array-like, shape (n_samples, n_features)
    dims : sequence of int, optional
        Latent dimensions to use, e.g. the music neurons ``split.music``; default all. The attribute vector
        lives in this subspace and the best neuron is searched in it.
    method : {"pearson", "spearman", "phik"}
        Correlation measure; Pearson and Spearman are compared in absolute value (the sign only says which
        way the vector points).
    quantile : float
        Extreme-group size for the attribute vectors.
    names : list of str, optional
        Feature names (default ``feature_0`` ...); a DataFrame's columns are used when ``features`` is one.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature``, ``attribute_corr`` (|corr| of feature and projection
        ``(mu - mean) . v / |v|``), ``best_neuron`` (dimension index), ``best_neuron_corr``, and
        ``attribute_better`` (attribute_corr > best_neuron_corr).
    """
    if method not in _METHODS:
        msg = f"method must be one of {sorted(_METHODS)}, got {method!r}"
        raise ValueError(msg)
    if names is None and isinstance(features, pd.DataFrame):
        names = [str(c) for c in features.columns]
    m, f = _check(mu, features)
    index = np.arange(m.shape[1]) if dims is None else np.asarray(dims, dtype=np.int64).ravel()
    sub = m[:, index]
    names = names if names is not None else [f"feature_{j}" for j in range(f.shape[1])]
    if len(names) != f.shape[1]:
        msg = f"{len(names)} names given for {f.shape[1]} features"
        raise ValueError(msg)

    vectors = attribute_vectors(sub, f, quantile=quantile)  # (n_features, len(index))
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    projections = (sub - sub.mean(axis=0)) @ np.nan_to_num(unit).T  # (n_samples, n_features)
    correlate = _METHODS[method]
    neuron_corr = np.abs(correlate(f, sub))  # (n_features, len(index))
    attribute_corr = np.array(
        [
            abs(correlate(f[:, j], projections[:, j])[0, 0]) if np.isfinite(unit[j]).all() else np.nan
            for j in range(f.shape[1])
        ]
    )
    has_neuron = ~np.all(np.isnan(neuron_corr), axis=1)
    best = np.where(has_neuron, np.argmax(np.nan_to_num(neuron_corr, nan=-1.0), axis=1), 0)
    best_corr = np.where(has_neuron, neuron_corr[np.arange(f.shape[1]), best], np.nan)
    table = pd.DataFrame(
        {
            "feature": names,
            "attribute_corr": attribute_corr,
            "best_neuron": np.where(has_neuron, index[best], -1),
            "best_neuron_corr": best_corr,
        }
    )
    table["attribute_better"] = table["attribute_corr"] > table["best_neuron_corr"]
    log.info(
        "attribute vectors beat the best single neuron for %d of %d features (%s)",
        int(table["attribute_better"].sum()),
        len(table),
        method,
    )
    return table

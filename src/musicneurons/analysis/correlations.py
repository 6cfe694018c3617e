"""Correlation matrices between latent dimensions and music features: Pearson, Spearman and phi_K.

Every function takes plain arrays of shape ``(n_samples, n_columns)`` (a 1-D array is one column; a pandas
DataFrame works too) and returns a NumPy matrix with one row per column of ``x`` and one column per column
of ``y``. Missing values (NaN) are dropped pair by pair. A column that is constant (or all NaN) gives NaN
entries: matrices never shrink.

phi_K (Baak et al. 2020, the ``phik`` library used by the paper) is computed exactly as
``phik.phik_from_array(a, b, num_vars=["x", "y"])`` and ``phik.phik_matrix(df, interval_cols=...)`` do, for
interval variables with 10 uniform bins:

1. each column is binned once on ``linspace(min - max(1e-14 |min|, tiny), max, bins + 1)``, right-closed
   (``numpy.searchsorted``), with NaN left out;
2. the ``bins x bins`` contingency table of every pair is built in one matrix product of one-hot codes;
3. empty rows and columns are dropped; the Pearson chi2 (Yates-corrected for 2 x 2 tables, as
   ``scipy.stats.chi2_contingency``) is turned into phi_K with phik's noise pedestal (r - 1)(c - 1) by
   :func:`musicneurons.analysis.phik_curve.phik_from_chi2`, which replays phik's root finder on all pairs at
   once.

A table with fewer than two non-empty rows or columns gives NaN, as in ``phik``.
"""

from __future__ import annotations

import logging
import math
import sys

import numpy as np
from scipy import special, stats

from musicneurons.analysis.phik_curve import phik_from_chi2

log = logging.getLogger(__name__)

DEFAULT_BINS = 10  # phik's default number of uniform bins for interval variables
_ROW_CHUNK = 8192  # rows per one-hot matrix product (float32 counts stay exact far beyond this)
_TABLE_BUDGET = 8_000_000  # contingency cells held at once (x columns are processed in blocks beyond that)


def _as_2d(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        msg = f"{name} must be 1-D or 2-D (n_samples, n_columns), got shape {arr.shape}"
        raise ValueError(msg)
    if np.isinf(arr).any():
        col = int(np.flatnonzero(np.isinf(arr).any(axis=0))[0])
        msg = f"{name} column {col} holds an infinite value; use NaN for missing values"
        raise ValueError(msg)
    return arr


def _pair(x: object, y: object | None) -> tuple[np.ndarray, np.ndarray]:
    xa = _as_2d(x, "x")
    ya = xa if y is None else _as_2d(y, "y")
    if xa.shape[0] != ya.shape[0]:
        msg = f"x has {xa.shape[0]} samples but y has {ya.shape[0]}; rows must be the same samples"
        raise ValueError(msg)
    return xa, ya


# --------------------------------------------------------------------------------------------- Pearson
def _centered(a: np.ndarray) -> np.ndarray:
    present = ~np.isnan(a)
    count = present.sum(axis=0)
    total = np.where(present, a, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return a - mean


def pearson_matrix(x: object, y: object | None = None) -> np.ndarray:
    """Pearson correlation of every column of ``x`` with every column of ``y`` (``y=None``: with ``x``).

    Parameters
    ----------
    x : array-like, shape (n_samples, k)
    y : array-like, shape (n_samples, m), optional

    Returns
    -------
    ndarray of float, shape (k, m)
        Pairwise-complete correlations (rows where either value is NaN are dropped for that pair), as
        ``pandas.DataFrame.corr``. NaN where a column is constant on the pair's rows or fewer than two rows
        remain.
    """
    xa, ya = _pair(x, y)
    xa, ya = _centered(xa), _centered(ya)  # so that the sums below do not cancel
    mx, my = (~np.isnan(xa)).astype(np.float64), (~np.isnan(ya)).astype(np.float64)
    x0, y0 = np.nan_to_num(xa), np.nan_to_num(ya)
    count = mx.T @ my  # rows where both values are present, per pair
    sx, sy = x0.T @ my, mx.T @ y0
    sxy = x0.T @ y0
    sxx, syy = (x0**2).T @ my, mx.T @ (y0**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / count
        var_x = sxx - sx**2 / count
        var_y = syy - sy**2 / count
        r = cov / np.sqrt(var_x * var_y)
    # a constant column has var ~ 0 up to rounding: call it undefined, as pandas does
    tiny = 1e-13
    degenerate = (var_x <= tiny * sxx) | (var_y <= tiny * syy) | (count < 2)
    r = np.where(degenerate, np.nan, np.clip(r, -1.0, 1.0))
    return r


def spearman_matrix(x: object, y: object | None = None) -> np.ndarray:
    """Spearman rank correlation: Pearson on the columns' ranks (ties get their average rank).

    Each column is ranked over its own non-missing values, so with complete data this equals
    ``scipy.stats.spearmanr``; with NaN it is a cheap approximation of the pairwise-complete value.
    Shapes and NaN rules as :func:`pearson_matrix`.
    """
    xa, ya = _pair(x, y)
    rx = stats.rankdata(xa, axis=0, nan_policy="omit")
    ry = rx if y is None else stats.rankdata(ya, axis=0, nan_policy="omit")
    return pearson_matrix(rx, ry)


# --------------------------------------------------------------------------------------------- phi_K
def bin_codes(x: object, *, bins: int = DEFAULT_BINS) -> np.ndarray:
    """phik's uniform binning of each column: integer codes 0..bins-1 (right-closed bins), -1 for NaN.

    Bin edges are ``linspace(min - max(1e-14 * |min|, smallest float), max, bins + 1)`` per column, as
    ``phik.binning.bin_edges``; a value ``v`` goes to the bin ``i`` with ``edges[i] < v <= edges[i + 1]``.

    Parameters
    ----------
    x : array-like, shape (n_samples, k)
    bins : int
        Number of uniform bins (phik's ``bins``; default 10).

    Returns
    -------
    ndarray of int16, shape (n_samples, k)
    """
    xa = _as_2d(x, "x")
    if bins < 1:
        msg = f"bins must be a positive integer, got {bins}"
        raise ValueError(msg)
    codes = np.full(xa.shape[::-1], -1, dtype=np.int16)
    for start in range(0, xa.shape[1], 32):
        block = np.ascontiguousarray(xa[:, start : start + 32].T)  # (columns, n_samples), cache friendly
        for j, column in enumerate(block, start=start):
            present = ~np.isnan(column)
            values = column[present]
            if values.size == 0:
                continue
            lo, hi = values.min(), values.max()
            edges = np.linspace(lo - max(1e-14 * abs(lo), sys.float_info.min), hi, bins + 1)  # phik's edges
            # searchsorted(edges, v) - 1 = (number of edges strictly below v) - 1: right-closed bins
            count = np.zeros(values.shape, dtype=np.int16)
            for edge in edges[1:-1]:
                count += values > edge
            codes[j, present] = count
    codes = codes.T
    return codes


def contingency_tables(codes_x: np.ndarray, codes_y: np.ndarray, bins: int) -> np.ndarray:
    """Count tables of every column pair from :func:`bin_codes` output; rows with code -1 are left out.

    Returns
    -------
    ndarray of float64, shape (k, m, bins, bins)
        ``tables[i, j, a, b]`` = number of samples with ``codes_x[:, i] == a`` and ``codes_y[:, j] == b``.
    """
    n, k = codes_x.shape
    m = codes_y.shape[1]
    counts = np.zeros((k * bins, m * bins), dtype=np.float64)
    for start in range(0, n, _ROW_CHUNK):
        ox = _one_hot(codes_x[start : start + _ROW_CHUNK], bins)
        oy = ox if codes_y is codes_x else _one_hot(codes_y[start : start + _ROW_CHUNK], bins)
        counts += ox.T @ oy  # float32 sums of 0/1 over <= _ROW_CHUNK rows are exact
    return counts.reshape(k, bins, m, bins).transpose(0, 2, 1, 3)


def _one_hot(codes: np.ndarray, bins: int) -> np.ndarray:
    """(n, k) codes -> (n, k * bins) float32 indicators; code -1 (missing) gives an all-zero group."""
    n, k = codes.shape
    out = np.zeros(n * k * bins, dtype=np.float32)
    index_type: type[np.signedinteger] = np.int32 if n * k * bins < 2**31 else np.int64
    flat: np.ndarray = codes.astype(index_type) + bins * np.arange(k, dtype=index_type)
    flat += (k * bins) * np.arange(n, dtype=index_type)[:, None]
    out[flat[codes >= 0]] = 1.0
    return out.reshape(n, k * bins)


def _table_statistics(tables: np.ndarray, lambda_: str = "pearson") -> dict[str, np.ndarray]:
    """chi2 (or G) of each table over its non-empty rows/columns, as ``scipy.stats.chi2_contingency``."""
    n = tables.sum(axis=(-2, -1))
    row_sums, col_sums = tables.sum(axis=-1), tables.sum(axis=-2)
    n_rows, n_cols = (row_sums > 0).sum(axis=-1), (col_sums > 0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = row_sums[..., :, None] * col_sums[..., None, :] / n[..., None, None]
    used = expected > 0
    diff = tables - expected
    # Yates' continuity correction when the table (empty rows/columns dropped) is 2 x 2
    yates = ((n_rows - 1) * (n_cols - 1) == 1)[..., None, None]
    shrink = np.where(yates, np.minimum(0.5, np.abs(diff)), 0.0)
    safe_expected = np.where(used, expected, 1.0)
    if lambda_ == "pearson":
        terms = (np.abs(diff) - shrink) ** 2 / safe_expected
    elif lambda_ == "log-likelihood":
        observed = tables - np.sign(diff) * shrink
        terms = 2.0 * special.xlogy(observed, observed / safe_expected)
    else:
        msg = f"lambda_ must be 'pearson' or 'log-likelihood', got {lambda_!r}"
        raise ValueError(msg)
    statistic = np.where(used, terms, 0.0).sum(axis=(-2, -1))
    return {"statistic": statistic, "n": n, "n_rows": n_rows, "n_cols": n_cols}


def _blocks(k: int, m: int, bins: int) -> list[slice]:
    per_block = max(1, _TABLE_BUDGET // max(1, m * bins * bins))
    return [slice(s, min(k, s + per_block)) for s in range(0, k, per_block)]


def phik_cross(x: object, y: object | None = None, *, bins: int = DEFAULT_BINS) -> np.ndarray:
    """phi_K between every column of ``x`` and every column of ``y``.

    A cross block; with ``y=None``, ``x`` against itself.

    Equals ``phik.phik_from_array(x[:, i], y[:, j], num_vars=["x", "y"], bins=bins)`` for every pair (to
    ~1e-8), and the corresponding ``phik.phik_matrix(..., interval_cols=all)`` entries; see the module
    docstring for the definition. All columns are treated as interval variables (binned), including
    discrete ones with few distinct values (their empty bins are dropped).

    Parameters
    ----------
    x : array-like, shape (n_samples, k)
        E.g. music features (NaN = missing).
    y : array-like, shape (n_samples, m), optional
        E.g. latent means mu.
    bins : int
        Uniform bins per column (phik's default 10).

    Returns
    -------
    ndarray of float, shape (k, m)
        phi_K in [0, 1]; NaN where a column is constant or all NaN on the pair's rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(1000, 1))
    >>> phik_cross(f, np.hstack([f, rng.normal(size=(1000, 1))])).round(2)
    array([[1., 0.]])
    """
    xa, ya = _pair(x, y)
    codes_x = bin_codes(xa, bins=bins)
    codes_y = codes_x if y is None else bin_codes(ya, bins=bins)
    k, m = xa.shape[1], ya.shape[1]
    out = np.full((k, m), np.nan)
    for block in _blocks(k, m, bins):
        tables = contingency_tables(np.ascontiguousarray(codes_x[:, block]), codes_y, bins)
        st = _table_statistics(tables)
        valid = (st["n_rows"] >= 2) & (st["n_cols"] >= 2)
        values = np.full(valid.shape, np.nan)
        values[valid] = phik_from_chi2(
            st["statistic"][valid], st["n"][valid], st["n_rows"][valid], st["n_cols"][valid]
        )
        out[block] = values
    return out


def phik_significance_cross(
    x: object, y: object | None = None, *, bins: int = DEFAULT_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Significance of the dependence behind each phi_K entry: asymptotic p-value and Z-score.

    Same pairs, binning and tables as :func:`phik_cross`. The statistic is the G-test (log-likelihood
    chi2, Yates-corrected for 2 x 2 tables) with (r - 1)(c - 1) degrees of freedom, as
    ``phik.significance_from_array(..., significance_method="asymptotic")``; Z = -Phi^-1(p), with phik's
    Chernoff bound when p underflows to 0. (phik's default "hybrid" method replaces the degrees of freedom
    by a Monte-Carlo estimate, which for well-filled tables is the same number up to simulation noise.)

    Returns
    -------
    p_values, z_scores : ndarray of float, shape (k, m) each
        NaN where phi_K is NaN.
    """
    xa, ya = _pair(x, y)
    codes_x = bin_codes(xa, bins=bins)
    codes_y = codes_x if y is None else bin_codes(ya, bins=bins)
    k, m = xa.shape[1], ya.shape[1]
    p_out, z_out = np.full((k, m), np.nan), np.full((k, m), np.nan)
    for block in _blocks(k, m, bins):
        tables = contingency_tables(np.ascontiguousarray(codes_x[:, block]), codes_y, bins)
        st = _table_statistics(tables, lambda_="log-likelihood")
        valid = (st["n_rows"] >= 2) & (st["n_cols"] >= 2)
        dof = ((st["n_rows"] - 1) * (st["n_cols"] - 1)).astype(np.float64)
        g = st["statistic"]
        p = np.where(valid, stats.chi2.sf(g, np.where(valid, dof, 1.0)), np.nan)
        z = -stats.norm.ppf(p)
        underflow = valid & (p == 0)
        if np.any(underflow):
            ratio = g[underflow] / dof[underflow]
            u = -math.log(2 * math.pi) - dof[underflow] * np.log(ratio) + dof[underflow] * (ratio - 1)
            z[underflow] = np.sqrt(u - np.log(u))
        p_out[block], z_out[block] = p, z
    return p_out, z_out

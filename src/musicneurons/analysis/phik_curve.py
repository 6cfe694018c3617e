"""phi_K from chi2, vectorised: the binned bivariate-normal curve that ``phik`` inverts, for many tables.

The ``phik`` library (Baak et al. 2020, version 0.12.5) defines phi_K of an ``r x c`` contingency table
(non-empty rows and columns only) holding ``n`` records as the correlation ``rho`` in [0, 1] of a standard
bivariate normal, binned on a uniform ``r x c`` grid over [-5, 5]^2, whose chi2 matches the table's::

    chi2_model(rho) = pedestal + (chi2_max - pedestal) * S(rho) / S(1)
    S(rho) = sum over cells of (p_cell(rho) - p_cell(0))^2 / p_cell(0)
    pedestal = (r - 1)(c - 1),   chi2_max = n * min(r - 1, c - 1)

with phi_K = 0 when the table's chi2 <= pedestal and 1 when chi2 >= chi2_max. ``phik`` finds the root with
``scipy.optimize.brentq(xtol=1e-5)``, so its answer sits up to ~5e-6 away from the exact root. To agree with
it to 1e-6 this module runs the same Brent iteration (same bracket, tolerances and step rules), vectorised
over all tables, on an accurate ``S``:

* ``S`` only depends on the table shape. Writing rho = sin(theta), the lower-orthant probability obeys
  d Phi2(h, k; rho)/d theta = exp(-(h - k)^2 / (2 cos^2 theta) - h k / (1 + sin theta)) / (2 pi), a smooth
  bounded integrand on [0, pi/2] (Plackett's identity d Phi2 / d rho = phi2). Cell probabilities minus
  their rho = 0 values are therefore integrals of that expression over the cell's four corners, computed by
  Gauss-Legendre quadrature between Chebyshev nodes, to ~1e-16 absolute.
* ``S(theta)`` is then stored as a piecewise Chebyshev interpolant (128 panels of degree 12 on [0, pi/2]),
  accurate to ~1e-13 relative, built once per table shape (a few ms) and cached.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import erfc

GRID_HALF_WIDTH = 5.0  # phik bins the bivariate normal on [-5, 5]^2
BRENTQ_XTOL = 1e-5  # phik's brentq tolerance (phik.bivariate.phik_from_chi2)
BRENTQ_RTOL = 4 * np.finfo(float).eps  # scipy's default rtol
BRENTQ_MAXITER = 100  # scipy's default maxiter

_PANELS = 128  # Chebyshev panels on theta in [0, pi/2]
_DEGREE = 12  # polynomial degree per panel
_GAUSS_POINTS = 8  # Gauss-Legendre points between consecutive Chebyshev nodes


def _normal_bin_probabilities(edges: np.ndarray) -> np.ndarray:
    """P(edges[i] < X <= edges[i+1]) for X ~ N(0, 1), using the tail that avoids cancellation."""
    lo, hi = edges[:-1], edges[1:]
    upper = 0.5 * erfc(lo / math.sqrt(2)) - 0.5 * erfc(hi / math.sqrt(2))
    lower = 0.5 * erfc(-hi / math.sqrt(2)) - 0.5 * erfc(-lo / math.sqrt(2))
    return np.where(lo >= 0, upper, lower)


class _ShapeCurve:
    """S(theta) for one table shape as a piecewise Chebyshev interpolant (see the module docstring)."""

    def __init__(self, n_rows: int, n_cols: int) -> None:
        sx = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, n_rows + 1)  # as phik: linspace(-5, 5, nx + 1)
        sy = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, n_cols + 1)
        p0 = np.outer(_normal_bin_probabilities(sx), _normal_bin_probabilities(sy))  # cells at rho = 0
        h, k = sx[:, None], sy[None, :]
        d2 = ((h - k) ** 2).ravel()  # corners, flattened
        hk = (h * k).ravel()

        self.width = (math.pi / 2) / _PANELS
        j = np.arange(_DEGREE + 1)
        cheb_x = np.cos(np.pi * (j + 0.5) / (_DEGREE + 1))[::-1]  # first-kind nodes, ascending in (-1, 1)
        nodes = (np.arange(_PANELS)[:, None] * self.width + (cheb_x[None, :] + 1) * self.width / 2).ravel()

        # cumulative integral of the corner integrand from 0 to every node
        gx, gw = leggauss(_GAUSS_POINTS)
        lo = np.concatenate([[0.0], nodes[:-1]])
        half = (nodes - lo) / 2
        u = lo[:, None] + (gx[None, :] + 1) * half[:, None]  # (nodes, gauss)
        cos_u, sin_u = np.cos(u)[..., None], np.sin(u)[..., None]
        with np.errstate(divide="ignore"):
            exponent = d2 / (2 * cos_u**2) + hk / (1 + sin_u)  # (nodes, gauss, corners)
        segment = np.einsum("ngc,g->nc", np.exp(-exponent), gw) * half[:, None] / (2 * math.pi)
        corner = np.cumsum(segment, axis=0).reshape(-1, n_rows + 1, n_cols + 1)
        delta = corner[:, 1:, 1:] - corner[:, :-1, 1:] - corner[:, 1:, :-1] + corner[:, :-1, :-1]
        s_nodes = np.sum(delta**2 / p0, axis=(1, 2)).reshape(_PANELS, _DEGREE + 1)

        vandermonde = np.cos(np.outer(np.arccos(cheb_x), j))  # (node, degree)
        self.coef = np.linalg.solve(vandermonde, s_nodes.T).T  # (panel, degree)
        self.s_one = float(self.evaluate(np.array([math.pi / 2]))[0])

    def evaluate(self, theta: np.ndarray) -> np.ndarray:
        """S at angles ``theta`` (radians, in [0, pi/2]); S(0) is exactly 0."""
        panel = np.minimum((theta // self.width).astype(np.int64), _PANELS - 1)
        x = 2 * (theta - panel * self.width) / self.width - 1
        c = self.coef[panel]
        b1 = np.zeros_like(theta)
        b2 = np.zeros_like(theta)
        for degree in range(_DEGREE, 0, -1):  # Clenshaw
            b1, b2 = 2 * x * b1 - b2 + c[:, degree], b1
        value = x * b1 - b2 + c[:, 0]
        return np.where(theta == 0, 0.0, value)


@functools.lru_cache(maxsize=256)
def _shape_curve(n_rows: int, n_cols: int) -> _ShapeCurve:
    if min(n_rows, n_cols) < 2:
        msg = f"phi_K needs at least 2 non-empty rows and columns, got a {n_rows} x {n_cols} table"
        raise ValueError(msg)
    # S is symmetric in the two axes (swap x and y), so one curve serves both orientations
    return _ShapeCurve(min(n_rows, n_cols), max(n_rows, n_cols))


def binned_normal_chi2_ratio(rho: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """S(rho) / S(1) on an ``n_rows x n_cols`` grid: the chi2 fraction phik gives correlation ``rho``."""
    curve = _shape_curve(n_rows, n_cols)
    theta = np.arcsin(np.clip(np.asarray(rho, dtype=np.float64), 0.0, 1.0))
    return curve.evaluate(np.atleast_1d(theta)) / curve.s_one


def phik_from_chi2(chi2: np.ndarray, n: np.ndarray, n_rows: np.ndarray, n_cols: np.ndarray) -> np.ndarray:
    """phi_K for many tables at once, as ``phik.bivariate.phik_from_chi2`` with phik's noise pedestal.

    Parameters
    ----------
    chi2 : ndarray of float, shape (p,)
        Pearson chi2 of each table (Yates-corrected for 2 x 2 tables, as ``scipy.stats.chi2_contingency``).
    n : ndarray, shape (p,)
        Number of records in each table.
    n_rows, n_cols : ndarray of int, shape (p,)
        Number of non-empty rows and columns of each table (both >= 2).

    Returns
    -------
    ndarray of float, shape (p,)
        phi_K in [0, 1].
    """
    chi2 = np.asarray(chi2, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    n_rows = np.asarray(n_rows, dtype=np.int64)
    n_cols = np.asarray(n_cols, dtype=np.int64)
    pedestal = ((n_rows - 1) * (n_cols - 1)).astype(np.float64)
    chi2_max = n * np.minimum(n_rows - 1, n_cols - 1)
    out = np.where(chi2 <= pedestal, 0.0, 1.0)  # chi2 >= chi2_max -> 1 (phik also rounds chi2 ~ max to max)
    solve = (chi2 > pedestal) & (chi2 < chi2_max)
    if np.any(solve):
        out[solve] = _brent_roots(
            chi2[solve], n[solve], pedestal[solve], chi2_max[solve], n_rows[solve], n_cols[solve]
        )
    return out


def _brent_roots(
    chi2: np.ndarray,
    n: np.ndarray,
    pedestal: np.ndarray,
    chi2_max: np.ndarray,
    n_rows: np.ndarray,
    n_cols: np.ndarray,
) -> np.ndarray:
    """Roots of chi2_model(rho) - chi2 on [0, 1]: scipy's brentq step rules on all tables in lockstep."""
    shapes = np.stack([np.minimum(n_rows, n_cols), np.maximum(n_rows, n_cols)], axis=1)
    keys, shape_index = np.unique(shapes, axis=0, return_inverse=True)
    shape_index = shape_index.ravel()
    curves = [_shape_curve(int(a), int(b)) for a, b in keys]
    s_one = np.array([curve.s_one for curve in curves])[shape_index]
    scale = (chi2_max - pedestal) / (n * s_one)

    def f(rho: np.ndarray, idx: np.ndarray) -> np.ndarray:
        s = np.empty(len(idx))
        theta = np.arcsin(np.clip(rho, 0.0, 1.0))
        for key in np.unique(shape_index[idx]):
            sel = shape_index[idx] == key
            s[sel] = curves[key].evaluate(theta[sel])
        return pedestal[idx] + (n[idx] * s) * scale[idx] - chi2[idx]

    m = len(chi2)
    everyone = np.arange(m)
    xpre, xcur = np.zeros(m), np.ones(m)
    fpre, fcur = f(xpre, everyone), f(xcur, everyone)
    xblk, fblk, spre, scur = np.zeros(m), np.zeros(m), np.zeros(m), np.zeros(m)
    result = np.full(m, np.nan)
    done = np.zeros(m, dtype=bool)
    # the bracket [0, 1] always changes sign here (chi2 strictly between pedestal and chi2_max)
    for _ in range(BRENTQ_MAXITER):
        a = ~done
        # keep the root bracketed by [xcur, xblk]
        new_block = a & (fpre * fcur < 0)
        xblk = np.where(new_block, xpre, xblk)
        fblk = np.where(new_block, fpre, fblk)
        spre = np.where(new_block, xcur - xpre, spre)
        scur = np.where(new_block, xcur - xpre, scur)
        # make xcur the best estimate so far
        swap = a & (np.abs(fblk) < np.abs(fcur))
        xpre, xcur, xblk = np.where(swap, xcur, xpre), np.where(swap, xblk, xcur), np.where(swap, xcur, xblk)
        fpre, fcur, fblk = np.where(swap, fcur, fpre), np.where(swap, fblk, fcur), np.where(swap, fcur, fblk)

        delta = (BRENTQ_XTOL + BRENTQ_RTOL * np.abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        finished = a & ((fcur == 0) | (np.abs(sbis) < delta))
        result[finished] = xcur[finished]
        done |= finished
        a = ~done
        if not np.any(a):
            break

        with np.errstate(divide="ignore", invalid="ignore"):
            secant = -fcur * (xcur - xpre) / (fcur - fpre)
            dpre = (fpre - fcur) / (xpre - xcur)
            dblk = (fblk - fcur) / (xblk - xcur)
            inverse_quadratic = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
        stry = np.where(xpre == xblk, secant, inverse_quadratic)
        try_step = (np.abs(spre) > delta) & (np.abs(fcur) < np.abs(fpre))
        accept = try_step & (2 * np.abs(stry) < np.minimum(np.abs(spre), 3 * np.abs(sbis) - delta))
        new_spre = np.where(accept, scur, sbis)
        new_scur = np.where(accept, stry, sbis)
        spre = np.where(a, new_spre, spre)
        scur = np.where(a, new_scur, scur)

        xpre = np.where(a, xcur, xpre)
        fpre = np.where(a, fcur, fpre)
        step = np.where(np.abs(scur) > delta, scur, np.where(sbis > 0, delta, -delta))
        xcur = np.where(a, xcur + step, xcur)
        idx = np.flatnonzero(a)
        fcur[idx] = f(xcur[idx], idx)
    else:
        result[~done] = xcur[~done]  # scipy returns the last iterate (and warns) after maxiter
    return result

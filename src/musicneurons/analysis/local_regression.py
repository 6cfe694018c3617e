"""LOESS (locally weighted linear regression) curves of a latent neuron against a music feature (Figs. 8-9).

The definition is Cleveland's (1979) lowess, as in ``statsmodels.nonparametric.lowess``: at a point ``x0``,
fit a straight line by weighted least squares with tricube weights ``(1 - (d / h)^3)^3`` of the distance
``d = |x - x0|``, where ``h`` is the distance to the ``k``-th nearest point, ``k = int(frac * n)`` (at least
2), and evaluate it at ``x0``; then ``iterations`` times, multiply the weights by Tukey's bisquare of the
residuals over 6 median absolute residuals, and refit.

Two things differ from statsmodels, on purpose:

* **Ties.** statsmodels takes the ``k`` nearest points by position in the sorted array. When more than ``k``
  samples share the value ``x0`` (common for discrete music features: a feature with 5 values and
  ``frac = 0.1``), its neighbourhood has radius 0, the weights become 0/0 and it returns the raw ``y`` of one
  sample. Here all samples at distance < ``h`` count, and when ``h = 0`` the fit at ``x0`` is the
  (robustness-weighted) mean of the samples tied at ``x0``, which is what the weighted least-squares
  definition gives in that limit.
* **Speed.** Fits are computed only at anchor points at least ``delta`` apart (default 1 % of the x range,
  statsmodels' recommendation) and interpolated linearly in between, each fit vectorised over all samples.
"""

from __future__ import annotations

import numpy as np

DEFAULT_FRAC = 2.0 / 3.0  # statsmodels' and Cleveland's default span
DEFAULT_ITERATIONS = 3  # robustness iterations (statsmodels' ``it``)
DEFAULT_DELTA_FRACTION = 0.01  # anchors every 1 % of the x range


def loess(
    x: object,
    y: object,
    *,
    frac: float = DEFAULT_FRAC,
    iterations: int = DEFAULT_ITERATIONS,
    delta: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """LOESS curve of ``y`` against ``x``, evaluated at every distinct ``x``.

    Parameters
    ----------
    x, y : array-like, shape (n_samples,)
        E.g. a music feature and a neuron's mu. Pairs with a NaN are dropped.
    frac : float
        Fraction of the samples in each local fit, in (0, 1].
    iterations : int
        Robustness iterations after the first fit (0 = plain local regression).
    delta : float, optional
        Local fits are made at anchor x values at least ``delta`` apart and interpolated linearly in
        between. None: 1 % of the x range. 0: a fit at every distinct x (exact, O(n_distinct * n)).

    Returns
    -------
    x_curve : ndarray of float, shape (n_distinct,)
        The distinct x values, ascending.
    y_curve : ndarray of float, shape (n_distinct,)
        The fitted curve there (exact at anchors). Use ``np.interp(x_new, x_curve, y_curve)`` elsewhere.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        msg = f"x and y must have the same length, got {xa.size} and {ya.size}"
        raise ValueError(msg)
    if not 0 < frac <= 1:
        msg = f"frac must be in (0, 1], got {frac}"
        raise ValueError(msg)
    if iterations < 0:
        msg = f"iterations must be >= 0, got {iterations}"
        raise ValueError(msg)
    keep = ~(np.isnan(xa) | np.isnan(ya))
    xa, ya = xa[keep], ya[keep]
    if xa.size == 0:
        return np.empty(0), np.empty(0)
    order = np.argsort(xa, kind="stable")
    xs, ys = xa[order], ya[order]
    n = xs.size
    k = min(max(int(frac * n + 1e-10), 2), n)  # statsmodels' neighbourhood size

    x_curve = np.unique(xs)
    if delta is None:
        delta = DEFAULT_DELTA_FRACTION * (xs[-1] - xs[0])
    anchors = _anchor_indices(x_curve, delta)
    x_anchor = x_curve[anchors]
    robustness = np.ones(n)
    y_anchor = np.full(x_anchor.size, np.nan)
    for _ in range(iterations + 1):
        y_anchor = _fit_at(xs, ys, robustness, x_anchor, k, previous=y_anchor)
        fitted = np.interp(xs, x_anchor, y_anchor)
        robustness = _bisquare_weights(ys - fitted)
    return x_curve, np.interp(x_curve, x_anchor, y_anchor)


def _anchor_indices(x_unique: np.ndarray, delta: float) -> np.ndarray:
    """Indices of anchor points: from each anchor, jump to the last point within ``delta`` (at least one)."""
    if delta <= 0:
        return np.arange(x_unique.size)
    anchors = [0]
    i = 0
    last = x_unique.size - 1
    while i < last:
        j = int(np.searchsorted(x_unique, x_unique[i] + delta, side="right")) - 1
        i = max(j, i + 1)
        anchors.append(i)
    return np.asarray(anchors)


def _kth_distance(xs: np.ndarray, x_anchor: np.ndarray, k: int) -> np.ndarray:
    """Distance from each anchor to its k-th nearest sample in sorted ``xs`` (ties counted with multiplicity).

    The k nearest samples form a window ``xs[l : l + k]``; its radius max(x0 - xs[l], xs[l + k - 1] - x0)
    is smallest where the two terms cross, found by bisection on ``l`` for all anchors at once.
    """
    n = xs.size
    lo = np.zeros(x_anchor.size, dtype=np.int64)  # invariant: the best l is in [lo, hi]
    hi = np.full(x_anchor.size, n - k, dtype=np.int64)
    while np.any(lo < hi):
        active = lo < hi
        mid = (lo + hi) // 2
        # move the window right while the next sample on the right is closer than the leftmost one
        right_closer = xs[np.minimum(mid + k, n - 1)] - x_anchor < x_anchor - xs[mid]
        lo = np.where(active & right_closer, mid + 1, lo)
        hi = np.where(active & ~right_closer, mid, hi)
    return np.maximum(x_anchor - xs[lo], xs[lo + k - 1] - x_anchor)


def _fit_at(
    xs: np.ndarray, ys: np.ndarray, robustness: np.ndarray, x_anchor: np.ndarray, k: int, previous: np.ndarray
) -> np.ndarray:
    """Local linear fits at ``x_anchor``; each uses only the samples closer than its k-th nearest distance."""
    out = np.empty(x_anchor.size)
    radius = _kth_distance(xs, x_anchor, k)
    first = np.searchsorted(xs, x_anchor - radius, side="left")
    stop = np.searchsorted(xs, x_anchor + radius, side="right")
    for a, x0 in enumerate(x_anchor):
        h = radius[a]
        window = slice(first[a], stop[a])
        dx = xs[window] - x0
        if h > 0:
            u = np.minimum(np.abs(dx) / h, 1.0)
            w = _cube(1.0 - _cube(u)) * robustness[window]
        else:  # more than k samples tied at x0: they alone define the fit
            w = robustness[window].copy()
        yw = ys[window]
        s0 = w.sum()
        if s0 <= 0:  # every neighbour was down-weighted to zero: keep the previous fit
            out[a] = previous[a]
            continue
        mean_dx = _dot(w, dx) / s0
        var_dx = _dot(w, (dx - mean_dx) ** 2) / s0
        mean_y = _dot(w, yw) / s0
        if var_dx <= 1e-12 * max(mean_dx**2, _dot(w, dx**2) / s0, np.finfo(float).tiny):
            out[a] = mean_y  # all weight on one x: the line's slope is undefined, use the local mean
        else:
            slope = _dot(w, (dx - mean_dx) * (yw - mean_y)) / s0 / var_dx
            out[a] = mean_y - slope * mean_dx  # the line at dx = 0
    return out


def _cube(v: np.ndarray) -> np.ndarray:
    return v * v * v


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # einsum, not ``a @ b``: multithreaded BLAS dot products of this size crawl on a busy 2-core machine
    return float(np.einsum("i,i->", a, b))


def _bisquare_weights(residuals: np.ndarray) -> np.ndarray:
    """Cleveland's robustness weights: bisquare of |r| / (6 median |r|), clipped at 1."""
    r = np.abs(residuals)
    median = np.median(r)
    scaled = (r > 0).astype(np.float64) if median == 0 else np.minimum(r / (6.0 * median), 1.0)
    return (1.0 - scaled**2) ** 2


# ------------------------------------------------------------------------------- where a curve may be drawn
DEFAULT_GAP_FACTOR = 5.0  # an x gap wider than this many typical gaps between distinct x values is empty
DEFAULT_GAP_FRACTION = 0.05  # ... and wider than this share of the x range
DEFAULT_MIN_SUPPORT = (
    0.01  # a stretch of x holding fewer than this share of the samples (and < 10) is not drawn
)


def supported_segments(
    x: object,
    *,
    max_gap: float | None = None,
    min_count: int | None = None,
) -> list[tuple[float, float]]:
    """The stretches of x with data: a curve drawn over them never crosses an empty x range.

    Sorted distinct x values are cut wherever two neighbours are more than ``max_gap`` apart; a stretch
    is kept when it holds at least ``min_count`` samples (a lone sample far from the rest is where a
    local fit spikes).

    Parameters
    ----------
    x : array-like, shape (n_samples,)
        The samples' x (e.g. a music feature); NaN is ignored.
    max_gap : float, optional
        Largest x distance between neighbouring distinct values inside a stretch. None: the larger of
        ``DEFAULT_GAP_FACTOR`` times the median distance between neighbouring distinct values and
        ``DEFAULT_GAP_FRACTION`` of the x range.
    min_count : int, optional
        Samples a stretch needs. None: the larger of 10 and ``DEFAULT_MIN_SUPPORT`` of the samples,
        capped at the number of samples.

    Returns
    -------
    list of (float, float)
        ``(first x, last x)`` of each stretch, ascending; a stretch can be a single x value.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    xa = xa[~np.isnan(xa)]
    if xa.size == 0:
        return []
    values, counts = np.unique(xa, return_counts=True)
    if min_count is None:
        min_count = min(max(10, int(np.ceil(DEFAULT_MIN_SUPPORT * xa.size))), xa.size)
    if values.size == 1:
        return [(float(values[0]), float(values[0]))] if counts[0] >= min_count else []
    gaps = np.diff(values)
    if max_gap is None:
        max_gap = max(
            DEFAULT_GAP_FACTOR * float(np.median(gaps)), DEFAULT_GAP_FRACTION * (values[-1] - values[0])
        )
    cuts = np.flatnonzero(gaps > max_gap) + 1
    out = []
    for part_values, part_counts in zip(np.split(values, cuts), np.split(counts, cuts), strict=True):
        if part_counts.sum() >= min_count:
            out.append((float(part_values[0]), float(part_values[-1])))
    return out


def loess_segments(
    x: object,
    y: object,
    *,
    frac: float = DEFAULT_FRAC,
    iterations: int = DEFAULT_ITERATIONS,
    max_gap: float | None = None,
    min_count: int | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A LOESS curve (fitted on all samples) cut into the stretches :func:`supported_segments` keeps.

    Returns
    -------
    list of (x_curve, y_curve)
        One pair of arrays per stretch, ready to draw as separate lines.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    x_curve, y_curve = loess(xa, ya, frac=frac, iterations=iterations)
    keep = ~(np.isnan(xa) | np.isnan(ya))
    out = []
    for lo, hi in supported_segments(xa[keep], max_gap=max_gap, min_count=min_count):
        inside = (x_curve >= lo) & (x_curve <= hi)
        out.append((x_curve[inside], y_curve[inside]))
    return out


def loess_span(n_samples: int, *, min_points: int = 50, default: float = 0.3) -> float:
    """A LOESS span for ``n_samples``: ``default``, widened so that every local fit has ``min_points``.

    With few samples a fixed fraction leaves a handful of points per fit and the curve follows noise; the
    span grows to ``min_points / n_samples`` (at most 1).
    """
    if n_samples <= 0:
        msg = f"n_samples must be positive, got {n_samples}"
        raise ValueError(msg)
    return float(min(1.0, max(default, min_points / n_samples)))

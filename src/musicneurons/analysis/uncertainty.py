"""How sure a study run is: a bootstrap over source files, and which phi_K cells are significant.

Windows cut from one piece are not independent (they share key, tempo, style and often whole bars), so
the bootstrap resamples *source files* with replacement and keeps all windows of each drawn file. Every
resample reuses the full-sample bookkeeping, which makes it a few matrix products:

* mean sigma per dimension = (source weights @ per-source sigma sums) / (weights @ per-source counts), so
  the number of music neurons (mean sigma < threshold) of 200 resamples costs one (200, n_sources) product;
* phi_K tables: each window's features and latents are binned once on the full sample's phik bins (the
  bootstrap is conditional on the binning), per-source contingency tables are summed into a sparse
  matrix, and a resample's tables are ``weights @ tables``; chi2 -> phi_K as
  :func:`musicneurons.analysis.correlations.phik_cross` does.

A neuron's *score* for a feature group is the mean of its ``top`` largest phi_K with that group's features
(``top = 3``, as the study's role finder). The role's winner is the neuron with the highest score; its
*stability* is the share of resamples in which the same neuron wins, and below 0.8 the role is a tie.
Only the ``candidates`` best neurons of the full sample compete in the resamples (a neuron far behind
does not win a resample; raise ``candidates`` to check).

Which phi_K cells mean anything: :func:`significant_cells` (Benjamini-Hochberg over the asymptotic
p-values, windows taken as independent) and :func:`phik_permutation_null` (pieces' latents shuffled
between pieces of the same size, which keeps the clustering of windows within pieces).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from musicneurons.analysis.correlations import DEFAULT_BINS, _table_statistics, bin_codes
from musicneurons.analysis.phik_curve import phik_from_chi2

DEFAULT_RESAMPLES = 200
TIE_BELOW = 0.8  # stability below which a role is reported as a tie
DEFAULT_LEVEL = 0.95  # confidence level of the percentile intervals
TOP = 3  # a neuron's group score: the mean of its TOP largest phi_K in the group


@dataclasses.dataclass(frozen=True)
class RoleStability:
    """Bootstrap view of one role (e.g. the pitch neuron).

    Attributes
    ----------
    rank : int
        1-based specificity rank of the full-sample winner.
    stability : float
        Share of resamples in which ``rank`` wins.
    shares : dict
        rank -> share of resamples it wins (the ranks that won at least once).
    score, score_ci : float, (float, float)
        The winner's group score in the full sample and its percentile interval over resamples.
    top_phik, top_phik_ci : float, (float, float)
        The winner's largest phi_K with a feature of the group, and its interval.
    top_feature : str
        The feature behind ``top_phik`` in the full sample.
    """

    rank: int
    stability: float
    shares: dict[int, float]
    score: float
    score_ci: tuple[float, float]
    top_phik: float
    top_phik_ci: tuple[float, float]
    top_feature: str

    @property
    def is_tie(self) -> bool:
        """True when another neuron wins in more than 1 - TIE_BELOW of the resamples."""
        return self.stability < TIE_BELOW


@dataclasses.dataclass(frozen=True)
class SourceBootstrap:
    """Result of :func:`bootstrap_sources`."""

    n_resamples: int
    n_sources: int
    level: float
    n_music: int
    n_music_ci: tuple[float, float]
    n_music_samples: np.ndarray  # (n_resamples,)
    roles: dict[str, RoleStability]


def _source_index(sources: object, n: int) -> tuple[np.ndarray, int]:
    labels = np.asarray(sources).ravel()
    if labels.size != n:
        msg = f"sources has {labels.size} entries but there are {n} windows"
        raise ValueError(msg)
    _, index = np.unique(labels.astype(str), return_inverse=True)
    return index.ravel(), int(index.max()) + 1 if index.size else 0


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(finite, [tail, 1 - tail])
    return float(lo), float(hi)


def _count_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of integer samples, widened to whole numbers."""
    lo, hi = _interval(samples.astype(np.float64), level)
    return float(np.floor(lo)), float(np.ceil(hi))


def resample_weights(n_sources: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each source is drawn per resample: (n_resamples, n_sources) counts, rows sum to n_sources."""
    return rng.multinomial(n_sources, np.full(n_sources, 1.0 / n_sources), size=n_resamples).astype(
        np.float64
    )


def _source_tables(codes_x: np.ndarray, codes_y: np.ndarray, source: np.ndarray, n_sources: int, bins: int):
    """Per-source contingency tables as a sparse (n_sources, k * m * bins * bins) matrix."""
    from scipy import sparse

    k, m = codes_x.shape[1], codes_y.shape[1]
    cx = codes_x.astype(np.int64)[:, :, None]  # (n, k, 1)
    cy = codes_y.astype(np.int64)[:, None, :]  # (n, 1, m)
    pair = (np.arange(k)[:, None] * m + np.arange(m)[None, :]) * bins * bins  # (k, m)
    flat = pair[None] + cx * bins + cy  # (n, k, m)
    ok = (cx >= 0) & (cy >= 0)
    rows = np.broadcast_to(source[:, None, None], flat.shape)[ok]
    table = sparse.coo_matrix(
        (np.ones(rows.size), (rows, flat[ok])), shape=(n_sources, k * m * bins * bins)
    ).tocsr()
    return table


def _phik_from_tables(tables: np.ndarray) -> np.ndarray:
    """phi_K of (..., bins, bins) count tables, NaN where a table has fewer than two rows or columns."""
    st = _table_statistics(tables)
    valid = (st["n_rows"] >= 2) & (st["n_cols"] >= 2)
    out = np.full(valid.shape, np.nan)
    out[valid] = phik_from_chi2(
        st["statistic"][valid], st["n"][valid], st["n_rows"][valid], st["n_cols"][valid]
    )
    return out


def _group_scores(phik: np.ndarray, top: int) -> np.ndarray:
    """(..., k features, m neurons) phi_K -> (..., m) mean of each neuron's ``top`` largest (NaN ignored)."""
    ordered = -np.sort(-np.where(np.isnan(phik), -np.inf, phik), axis=-2)[..., :top, :]
    finite = np.isfinite(ordered)
    count = finite.sum(axis=-2)
    total = np.where(finite, ordered, 0.0).sum(axis=-2)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def role_stability(
    features: np.ndarray,
    feature_names: Sequence[str],
    mu_ordered: np.ndarray,
    source: np.ndarray,
    weights: np.ndarray,
    *,
    candidates: int = 8,
    top: int = TOP,
    bins: int = DEFAULT_BINS,
    level: float = DEFAULT_LEVEL,
) -> RoleStability | None:
    """Bootstrap stability of the neuron with the best group score for one group of features.

    Parameters
    ----------
    features : ndarray, shape (n_windows, k)
        The group's features (NaN = missing).
    feature_names : sequence of str, length k
    mu_ordered : ndarray, shape (n_windows, m)
        Latent means of the competing neurons in specificity order (column j = rank j + 1).
    source : ndarray of int, shape (n_windows,)
        Source index of each window, 0..n_sources-1.
    weights : ndarray, shape (n_resamples, n_sources)
        From :func:`resample_weights`.

    Returns
    -------
    RoleStability, or None when no neuron has a defined score.
    """
    from musicneurons.analysis.correlations import phik_cross

    n_sources = weights.shape[1]
    codes_x, codes_y = bin_codes(features, bins=bins), bin_codes(mu_ordered, bins=bins)
    k = codes_x.shape[1]
    full_phik = phik_cross(features, mu_ordered, bins=bins)  # (k, m): the same bins as below
    m = full_phik.shape[1]
    full_scores = _group_scores(full_phik, top)
    if np.all(np.isnan(full_scores)):
        return None
    order = np.argsort(-np.where(np.isnan(full_scores), -np.inf, full_scores), kind="stable")
    chosen = order[: max(1, min(candidates, m))]
    winner = int(chosen[0])
    # resamples: only the candidates
    cand_tables = _source_tables(codes_x, codes_y[:, chosen], source, n_sources, bins)
    res = np.asarray((cand_tables.T @ weights.T).T).reshape(len(weights), k, len(chosen), bins, bins)
    phik = _phik_from_tables(res)  # (R, k, c)
    scores = _group_scores(phik, top)  # (R, c)
    wins = chosen[np.argmax(np.where(np.isnan(scores), -np.inf, scores), axis=1)]
    ranks, counts = np.unique(wins, return_counts=True)
    shares = {int(r) + 1: float(c) / len(weights) for r, c in zip(ranks, counts, strict=True)}
    best_feature = int(np.nanargmax(full_phik[:, winner]))
    top_phik = np.nanmax(np.where(np.isnan(phik[:, :, 0]), -np.inf, phik[:, :, 0]), axis=1)
    return RoleStability(
        rank=winner + 1,
        stability=shares.get(winner + 1, 0.0),
        shares=shares,
        score=float(full_scores[winner]),
        score_ci=_interval(scores[:, 0], level),
        top_phik=float(full_phik[best_feature, winner]),
        top_phik_ci=_interval(top_phik, level),
        top_feature=str(feature_names[best_feature]),
    )


def bootstrap_sources(
    sources: object,
    sigma: object,
    *,
    threshold: float,
    mu: object | None = None,
    features: Mapping[str, np.ndarray] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    n_neurons: int = 64,
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: np.random.Generator,
    level: float = DEFAULT_LEVEL,
    candidates: int = 8,
) -> SourceBootstrap:
    """Bootstrap over source files: the music-neuron count and the stability of each role.

    Parameters
    ----------
    sources : array-like, shape (n_windows,)
        The source file (any label) of each window.
    sigma : array-like, shape (n_windows, z_size)
        Posterior sigmas; the specificity order and the music neurons come from their means.
    threshold : float
        Music neuron: mean sigma below this.
    mu : array-like, shape (n_windows, z_size), optional
        Posterior means, needed for the roles.
    features : mapping, optional
        Feature name -> values (n_windows,), e.g. a DataFrame's columns.
    groups : mapping, optional
        Role name -> the feature names of its group, e.g. ``{"pitch_neuron": [P features], ...}``.
    n_neurons : int
        The roles are looked for among this many most specific neurons (the study's phi_K table).
    n_resamples : int
        Bootstrap resamples (200 by default).
    rng : numpy.random.Generator
    level : float
        Confidence level of the percentile intervals.
    candidates : int
        Neurons (best full-sample scores) that compete in the resamples.

    Returns
    -------
    SourceBootstrap
    """
    sig = np.asarray(sigma, dtype=np.float64)
    if sig.ndim != 2 or sig.shape[0] < 2:
        msg = f"sigma must have shape (n_windows >= 2, z_size), got {sig.shape}"
        raise ValueError(msg)
    source, n_sources = _source_index(sources, sig.shape[0])
    weights = resample_weights(n_sources, n_resamples, rng)
    counts = np.bincount(source, minlength=n_sources).astype(np.float64)
    sums = np.zeros((n_sources, sig.shape[1]))
    np.add.at(sums, source, sig)
    mean_sigma = (weights @ sums) / (weights @ counts)[:, None]
    samples = (mean_sigma < threshold).sum(axis=1)
    full_mean = sig.mean(axis=0)
    roles: dict[str, RoleStability] = {}
    if mu is not None and features is not None and groups:
        order = np.argsort(full_mean, kind="stable")[:n_neurons]
        mu_ordered = np.asarray(mu, dtype=np.float64)[:, order]
        for role, names in groups.items():
            names = [f for f in names if f in features]
            if not names:
                continue
            x = np.column_stack([np.asarray(features[f], dtype=np.float64) for f in names])
            result = role_stability(x, names, mu_ordered, source, weights, candidates=candidates, level=level)
            if result is not None:
                roles[role] = result
    return SourceBootstrap(
        n_resamples=n_resamples,
        n_sources=n_sources,
        level=level,
        n_music=int((full_mean < threshold).sum()),
        n_music_ci=_count_interval(samples, level),
        n_music_samples=samples,
        roles=roles,
    )


def significant_cells(p_values: object, *, alpha: float = 0.05) -> np.ndarray:
    """Benjamini-Hochberg: the p-values (e.g. of phi_K cells) significant at false-discovery rate ``alpha``.

    Use with :func:`musicneurons.analysis.correlations.phik_significance_cross`. Its asymptotic test takes
    windows as independent; windows of one piece are not, so read a significant cell as "not noise at
    this sample size", and a non-significant one (grey in a heatmap) as "indistinguishable from none".

    Parameters
    ----------
    p_values : array-like, any shape
        NaN entries are never significant and do not count as tests.

    Returns
    -------
    ndarray of bool, same shape
    """
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.ravel()
    tested = np.flatnonzero(~np.isnan(flat))
    out = np.zeros(flat.shape, dtype=bool)
    if tested.size:
        order = tested[np.argsort(flat[tested], kind="stable")]
        limits = alpha * np.arange(1, order.size + 1) / order.size
        passed = np.flatnonzero(flat[order] <= limits)
        if passed.size:
            out[order[: passed[-1] + 1]] = True
    return out.reshape(p.shape)


def bimodality_coefficient(values: object) -> float:
    """Sarle's bimodality coefficient (g^2 + 1) / (k + 3 (n-1)^2 / ((n-2)(n-3))); > 5/9 suggests two modes.

    ``g`` is the sample skewness and ``k`` the sample excess kurtosis (both bias-corrected, as SAS). A
    uniform distribution gives 5/9, a normal one 1/3. NaN with fewer than 4 values or no spread.
    """
    from scipy import stats

    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    n = x.size
    if n < 4 or np.ptp(x) == 0:
        return float("nan")
    g = stats.skew(x, bias=False)
    k = stats.kurtosis(x, bias=False)
    return float((g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


# ------------------------------------------------------------------------------ phi_K under no dependence
@dataclasses.dataclass(frozen=True)
class PhikNull:
    """phi_K between features and neurons when the pieces' latents are shuffled between pieces.

    Attributes
    ----------
    null : ndarray, shape (n_permutations, k, m)
        phi_K of every cell in each permutation.
    threshold : ndarray, shape (k,)
        Per feature, the ``level`` quantile of its null phi_K pooled over neurons and permutations.
    significant : ndarray of bool, shape (k, m)
        Observed phi_K above its feature's threshold.
    share_matched : float
        Share of the windows whose piece found a partner of the same size (the others sit out the null).
    """

    null: np.ndarray
    threshold: np.ndarray
    significant: np.ndarray
    share_matched: float


def source_permutation(sources: object, rng: np.random.Generator) -> np.ndarray:
    """Row order that gives every piece the rows of another piece with as many windows (-1: no partner).

    Pieces are shuffled among pieces of the same size, window order kept, so the clustering of windows
    within pieces survives in the null while any link between a piece's features and its latents is
    broken. A piece whose size no other piece has gets -1 (its rows sit out).
    """
    labels = np.asarray(sources).astype(str).ravel()
    _, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    index = index.ravel()
    rows_of = np.argsort(index, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    out = np.full(labels.size, -1, dtype=np.int64)
    for size in np.unique(counts):
        pieces = np.flatnonzero(counts == size)
        if pieces.size < 2:
            continue
        partners = rng.permutation(pieces)
        while np.any(partners == pieces):  # no piece keeps its own latents
            partners = rng.permutation(pieces)
        for a, b in zip(pieces, partners, strict=True):
            out[rows_of[starts[a] : starts[a + 1]]] = rows_of[starts[b] : starts[b + 1]]
    return out


def phik_permutation_null(
    x: object,
    y: object,
    sources: object,
    *,
    n_permutations: int = 10,
    level: float = 0.99,
    rng: np.random.Generator,
    bins: int = DEFAULT_BINS,
) -> PhikNull:
    """Which phi_K cells stand out from what pieces alone produce (a permutation null over source files).

    Windows of one piece resemble each other in both their features and their latents, so with few pieces
    phi_K between unrelated columns is far from 0 (on the 16-bar default corpus, 204 pieces: median
    ~0.4). Shuffling whole pieces' latents between pieces of the same size keeps that clustering and
    breaks any real link; a cell is significant when its phi_K exceeds the ``level`` quantile of its
    feature's null values (pooled over neurons and permutations).

    Parameters
    ----------
    x : array-like, shape (n_windows, k)
        Features.
    y : array-like, shape (n_windows, m)
        Latent means of the neurons shown.
    sources : array-like, shape (n_windows,)
        Source file of each window.
    n_permutations : int
        Shuffles (each one phi_K block; ~0.1-0.4 s for 60 x 64 cells on the default corpora).

    Returns
    -------
    PhikNull
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim == 1:
        xa = xa[:, None]
    if ya.ndim == 1:
        ya = ya[:, None]
    from musicneurons.analysis.correlations import phik_cross

    observed = phik_cross(xa, ya, bins=bins)
    nulls = []
    matched = 0.0
    for _ in range(n_permutations):
        order = source_permutation(sources, rng)
        keep = order >= 0
        matched = float(keep.mean())
        shuffled = np.full_like(ya, np.nan)
        shuffled[keep] = ya[order[keep]]
        nulls.append(phik_cross(xa, shuffled, bins=bins))
    null = np.stack(nulls) if nulls else np.full((0, *observed.shape), np.nan)
    pooled = null.transpose(1, 0, 2).reshape(observed.shape[0], -1)
    threshold = np.full(observed.shape[0], np.nan)
    for i, row in enumerate(pooled):
        finite = row[np.isfinite(row)]
        if finite.size:
            threshold[i] = np.quantile(finite, level)
    significant = np.isfinite(observed) & (
        observed > np.where(np.isnan(threshold), np.inf, threshold)[:, None]
    )
    return PhikNull(null=null, threshold=threshold, significant=significant, share_matched=matched)

"""DCI: Disentanglement, Completeness and Informativeness (Eastwood & Williams 2018, "A framework for the
quantitative evaluation of disentangled representations").

One regressor per factor predicts the factor from all latents; its importances fill column k of R (n_latents,
n_factors). Disentanglement D_j = 1 - H_K(R_j. / sum_k R_jk) (entropy in base K = n_factors), averaged with
weights rho_j = sum_k R_jk / sum R; completeness C_k = 1 - H_J(R_.k / sum_j R_jk) (base J = n_latents),
averaged with the factor's share of the importance; informativeness = the regressors' mean R^2 on held-out
samples. No mutual information is involved.
"""

from __future__ import annotations

import numpy as np

DCI_MODELS = ("gbt", "forest")


def _normalised_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy (base ``base``) of each row of non-negative weights ``p`` (rows sum to 1 or are all 0 -> 1)."""
    if base < 2:
        return np.zeros(p.shape[0])
    safe = np.where(p > 0, p, 1.0)
    return -(p * np.log(safe)).sum(axis=1) / np.log(base)


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) of an importance matrix R (n_latents, n_factors), R >= 0.

    An all-zero matrix scores (0, 0), like disentanglement_lib (which replaces it by a uniform matrix). A
    latent (factor) with no importance has weight 0. Known answers: ``diag`` -> (1, 1); two latents per factor
    -> completeness 1 - ln 2 / ln J; one latent for two factors -> disentanglement 1 - ln 2 / ln K.
    """
    r = np.abs(np.asarray(importance, dtype=np.float64))
    if r.ndim != 2:
        msg = f"importance must be (n_latents, n_factors), got shape {r.shape}"
        raise ValueError(msg)
    total = r.sum()
    if total <= 0:
        return 0.0, 0.0
    n_latents, n_factors = r.shape
    row = r.sum(axis=1)
    col = r.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_latent = 1 - _normalised_entropy(np.where(row[:, None] > 0, r / row[:, None], 0.0), n_factors)
        per_factor = 1 - _normalised_entropy(np.where(col[None, :] > 0, r / col[None, :], 0.0).T, n_latents)
    disentanglement = float(np.sum(row / total * per_latent))
    completeness = float(np.sum(col / total * per_factor))
    return disentanglement, completeness


FOREST_SPLIT_LATENTS = 32  # the forest tries at most this many latents per split


def _regressor(model: str, random_state: int, n_latents: int):
    if model == "gbt":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=random_state)
    if model == "forest":
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(
            n_estimators=20,
            max_depth=6,
            max_features=min(1.0, FOREST_SPLIT_LATENTS / max(n_latents, 1)),
            random_state=random_state,
        )
    msg = f"model must be one of {DCI_MODELS}, got {model!r}"
    raise ValueError(msg)


def importance_matrix(
    latents: np.ndarray,
    factors: np.ndarray,
    *,
    model: str = "gbt",
    random_state: int = 0,
    test_size: float = 1 / 3,
    fit_latents: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Importance matrix R (n_latents, n_factors) and held-out R^2 per factor (n_factors,).

    ``model``: ``"gbt"`` (disentanglement_lib's gradient-boosted trees, here 50 regression trees of depth 3)
    or ``"forest"`` (extremely randomised trees, 20 of depth <= 6, at most 32 latents tried per split:
    Eastwood & Williams' random-forest variant, many times faster). Importances are the trees' impurity
    decreases (``feature_importances_``). Factors are regressed as numbers (no discretisation).
    ``fit_latents`` (bool mask, n_latents) restricts the fits to
    those latents; the others get importance 0 (use it to skip latents that never vary).
    """
    from sklearn.model_selection import train_test_split

    z = np.asarray(latents, dtype=np.float64)
    v = np.asarray(factors, dtype=np.float64)
    cols = np.arange(z.shape[1]) if fit_latents is None else np.flatnonzero(fit_latents)
    train, test = train_test_split(np.arange(len(z)), test_size=test_size, random_state=random_state)
    importance = np.zeros((z.shape[1], v.shape[1]))
    r2 = np.zeros(v.shape[1])
    if cols.size == 0:
        return importance, r2
    for k in range(v.shape[1]):
        reg = _regressor(model, random_state, cols.size).fit(z[np.ix_(train, cols)], v[train, k])
        importance[cols, k] = reg.feature_importances_
        r2[k] = float(reg.score(z[np.ix_(test, cols)], v[test, k]))
    return importance, r2


def dci(
    latents: np.ndarray, factors: np.ndarray, *, model: str = "gbt", random_state: int = 0
) -> dict[str, float]:
    """DCI of ``latents`` (n, d) against ``factors`` (n, k): ``disentanglement``, ``completeness``,
    ``informativeness`` (mean held-out R^2, split 2/3 : 1/3). Trees as in :func:`importance_matrix`."""
    importance, r2 = importance_matrix(latents, factors, model=model, random_state=random_state)
    d, c = dci_from_importance(importance)
    return {"disentanglement": d, "completeness": c, "informativeness": float(np.mean(r2))}

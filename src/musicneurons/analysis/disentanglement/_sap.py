"""Separated Attribute Predictability (Kumar et al. 2018, "Variational inference of disentangled latent
concepts from unlabeled observations").

S_jk = how well latent j alone predicts factor k; SAP = mean over k of the gap between the two largest S_jk.
"""

from __future__ import annotations

import numpy as np


def sap_matrix_continuous(latents: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """S_jk = R^2 of the 1-D least-squares fit of factor k on latent j (the squared Pearson correlation), (d,
    k).

    A constant latent or factor scores 0.
    """
    z = np.asarray(latents, dtype=np.float64)
    v = np.asarray(factors, dtype=np.float64)
    zc = z - z.mean(axis=0)
    vc = v - v.mean(axis=0)
    cov = zc.T @ vc / len(z)
    var = np.outer(zc.var(axis=0), vc.var(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(var > 0, cov**2 / var, 0.0)
    return np.clip(r2, 0.0, 1.0)


def sap_matrix_discrete(
    latents: np.ndarray, factor_labels: np.ndarray, *, random_state: int = 0, test_size: float = 1 / 3
) -> np.ndarray:
    """S_jk = held-out accuracy of a linear SVM (``sklearn.svm.LinearSVC``, C = 0.01 as disentanglement_lib)
    on latent j alone predicting the labels of factor k, (d, k). Costs d * k fits: use on small problems."""
    from sklearn.model_selection import train_test_split
    from sklearn.svm import LinearSVC

    z = np.asarray(latents, dtype=np.float64)
    train, test = train_test_split(np.arange(len(z)), test_size=test_size, random_state=random_state)
    scores = np.zeros((z.shape[1], factor_labels.shape[1]))
    for k in range(factor_labels.shape[1]):
        y = factor_labels[:, k]
        if np.unique(y[train]).size < 2:
            continue
        for j in range(z.shape[1]):
            x = z[:, j : j + 1]
            x = (x - x[train].mean()) / (x[train].std() or 1.0)
            clf = LinearSVC(C=0.01, random_state=random_state).fit(x[train], y[train])
            scores[j, k] = float(np.mean(clf.predict(x[test]) == y[test]))
    return scores


def sap_from_matrix(score_matrix: np.ndarray) -> float:
    """Mean over factors (columns) of the gap between the two largest scores in the column."""
    s = np.asarray(score_matrix, dtype=np.float64)
    if s.shape[0] < 2:
        return float(np.mean(s[0])) if s.size else float("nan")
    top = -np.sort(-s, axis=0)
    return float(np.mean(top[0] - top[1]))


def sap(
    latents: np.ndarray,
    factors: np.ndarray,
    *,
    discrete: bool = False,
    n_bins: int = 20,
    random_state: int = 0,
) -> float:
    """SAP of ``latents`` (n, d) against ``factors`` (n, k).

    ``discrete=False`` (default): factors are taken as continuous (ordinal numbers, no discretisation) and
    S_jk is the R^2 of a 1-D linear fit, computed in closed form on all samples. ``discrete=True``
    (disentanglement_lib's default): factors are discretised (``discretize_factors``, ``n_bins``) and S_jk is
    the test accuracy of a 1-D linear SVM, one fit per (latent, factor). No mutual information is used.
    """
    if discrete:
        from musicneurons.analysis.disentanglement._mutual_information import discretize_factors

        labels = discretize_factors(factors, n_bins)
        return sap_from_matrix(sap_matrix_discrete(latents, labels, random_state=random_state))
    return sap_from_matrix(sap_matrix_continuous(latents, factors))

"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning deep disentangled embeddings with the
F-statistic loss").

Modularity: each latent should carry information about one factor only. With m_jk = I(z_j; v_k) and
theta_j = max_k m_jk, delta_j = (sum_k m_jk^2 - theta_j^2) / (theta_j^2 (K - 1)) and modularity =
mean_j (1 - delta_j), a latent with theta_j = 0 scoring 0. Explicitness: how linearly decodable each factor is
from all latents together, the mean one-vs-rest ROC-AUC of a logistic classifier.
"""

from __future__ import annotations

import warnings

import numpy as np

from musicneurons.analysis.disentanglement._mutual_information import (
    DEFAULT_BINS,
    discretize_factors,
    mutual_information,
)


def modularity_from_mi(mi: np.ndarray) -> float:
    """Modularity of a non-negative matrix m (n_latents, n_factors), usually mutual information.

    Known answers: ``diag`` -> 1; an unused latent among three -> 2/3; one latent sharing two of ten
    factors equally -> 1 - 1/9; all zero -> 0. With one factor every informative latent scores 1.
    """
    m = np.asarray(mi, dtype=np.float64)
    n_factors = m.shape[1]
    theta = m.max(axis=1)
    scores = np.zeros(m.shape[0])
    used = theta > 0
    if n_factors < 2:
        scores[used] = 1.0
        return float(scores.mean())
    delta = ((m[used] ** 2).sum(axis=1) - theta[used] ** 2) / (theta[used] ** 2 * (n_factors - 1))
    scores[used] = 1.0 - delta
    return float(scores.mean())


def modularity(latents: np.ndarray, factors: np.ndarray, *, n_bins: int = DEFAULT_BINS) -> float:
    """Modularity of ``latents`` (n, d) against ``factors`` (n, k), on the **binned** mutual information
    (disentanglement_lib's estimator: ``n_bins`` equal-width bins per latent, factors discretised by
    ``discretize_factors``)."""
    labels = discretize_factors(factors, n_bins)
    return modularity_from_mi(mutual_information(latents, labels, estimator="binned", n_bins=n_bins))


def explicitness(
    latents: np.ndarray,
    factors: np.ndarray,
    *,
    n_bins: int = DEFAULT_BINS,
    random_state: int = 0,
    test_size: float = 1 / 3,
) -> float:
    """Explicitness of ``latents`` (n, d) against ``factors`` (n, k): for each factor (discretised by
    ``discretize_factors``: its own levels up to ``n_bins``, else ``n_bins`` equal-width bins) a multinomial
    logistic regression on the standardised latents (lbfgs, at most 100 iterations) is fitted on 2/3 of the
    samples; on the other 1/3 every factor value present on both sides scores the ROC-AUC of its one-vs-rest
    probability; explicitness is the mean over factors of the mean over values. No mutual information is
    used."""
    from scipy.stats import rankdata
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    z = np.asarray(latents, dtype=np.float64)
    labels = discretize_factors(factors, n_bins)
    train, test = train_test_split(np.arange(len(z)), test_size=test_size, random_state=random_state)
    mean, std = z[train].mean(axis=0), z[train].std(axis=0)
    z = (z - mean) / np.where(std > 0, std, 1.0)
    per_factor = []
    for k in range(labels.shape[1]):
        y_train, y_test = labels[train, k], labels[test, k]
        if np.unique(y_train).size < 2:
            continue
        # one BLAS thread: these fits are small, and threads fighting over a busy machine cost 10x
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)  # capped at 100 iterations: it still ranks
            # few samples per level of a 20-level factor: sklearn suspects a regression target; it is classes
            warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
            clf = LogisticRegression(max_iter=100).fit(z[train], y_train)
            proba = clf.predict_proba(z[test])
        aucs = []
        for i, c in enumerate(clf.classes_):
            positive = y_test == c
            n_pos = int(positive.sum())
            if 0 < n_pos < len(y_test):  # ROC-AUC as the Mann-Whitney statistic (ties count 1/2)
                ranks = rankdata(proba[:, i])
                n_neg = len(y_test) - n_pos
                aucs.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
        if aucs:
            per_factor.append(float(np.mean(aucs)))
    return float(np.mean(per_factor)) if per_factor else float("nan")

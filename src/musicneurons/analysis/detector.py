"""Can the latents tell music from noise? AUROC of probes and scores, real windows against negatives.

Positives are real windows; negatives come from ``musicneurons.data.negatives`` (uniform random notes, real
windows with shuffled pitches or shuffled rhythm, random walks in a key), row i of a negative set made from
row i of the real set, so it carries that window's source piece. The methods:

- ``music_probe``, ``noise_probe``, ``random_dims_probe``: a logistic regression (standardised inputs) on mu
  of the music neurons, of the noise neurons, and of as many dimensions drawn at random as there are music
  neurons; ``features``: the same on the features (NaN filled with the training fold's median), a control
  that needs no model. Scored out of fold by ``StratifiedGroupKFold`` over source pieces, so the windows of a
  piece (and the negatives made from them) are never on both sides of a split.
- ``excited_count``, ``kl``, ``neg_elbo``: fixed scores, no fitting: the number of noise neurons with
  |mu| > 0.1 (the paper's Fig. 11 count), the KL term KL(q(z|x) || N(0, I)) and -ELBO = reconstruction loss +
  KL (nats). Each is negated so that "more music-like" is larger: AUROC > 0.5 means real windows score lower,
  as the paper's reading expects; below 0.5, the reverse.

AUROC is the Mann-Whitney statistic (``sklearn.metrics.roc_auc_score``), real = positive class. An AUROC of
1.0 against uniform random notes proves little (any summary of pitch or rhythm separates them); the shuffled
and random-walk negatives are the informative rungs.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from typing import Protocol

import numpy as np
import pandas as pd

from musicneurons.analysis.neurons import DEFAULT_ACTIVATION

log = logging.getLogger(__name__)

PROBES = ("music_probe", "noise_probe", "random_dims_probe", "features")
SCORES = ("excited_count", "kl", "neg_elbo")
METHODS = PROBES[:3] + SCORES + PROBES[3:]
ROC_GRID = np.linspace(0.0, 1.0, 51)  # false-positive rates at which ROC curves are tabulated


class EncodingModel(Protocol):
    """The part of ``musicneurons.model.inference.TrainedModel`` that :func:`window_set` needs."""

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def reconstruct(
        self, windows: np.ndarray, z: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclasses.dataclass(frozen=True)
class WindowSet:
    """What the detector reads of one set of windows (all rows aligned).

    Attributes
    ----------
    mu, sigma : ndarray, shape (n, z_size)
    groups : ndarray, shape (n,)
        Source piece of each window (negatives: of the real window they were made from).
    r_loss : ndarray, shape (n,), optional
        Reconstruction loss (summed cross-entropy, nats) at z = mu; needed for ``neg_elbo``.
    features : ndarray, shape (n, n_features), optional
        Needed for the ``features`` control.
    """

    mu: np.ndarray
    sigma: np.ndarray
    groups: np.ndarray
    r_loss: np.ndarray | None = None
    features: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class DetectorResult:
    """``table``: one row per (negative, method) with ``auroc``, ``kind`` (probe / score), ``n_positive``,
    ``n_negative``, ``n_splits``; ``roc``: ``negative``, ``method``, ``fpr``, ``tpr`` on :data:`ROC_GRID`."""

    table: pd.DataFrame
    roc: pd.DataFrame


def kl_divergence(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """KL(N(mu, sigma^2) || N(0, 1)) summed over dimensions, per row (nats)."""
    m = np.asarray(mu, dtype=np.float64)
    s2 = np.asarray(sigma, dtype=np.float64) ** 2
    return 0.5 * np.sum(m**2 + s2 - 1.0 - np.log(s2), axis=1)


def window_set(
    model: EncodingModel,
    windows: np.ndarray,
    groups: np.ndarray,
    *,
    qpm: float | np.ndarray = 120.0,
    with_features: bool = True,
) -> WindowSet:
    """Encode ``windows``, reconstruct them at z = mu (teacher forced) and compute their features."""
    _, mu, sigma = model.encode(windows)
    _, r_loss = model.reconstruct(windows, z=mu)
    features = None
    if with_features:
        from musicneurons.features.registry import compute_features

        features = compute_features(windows, qpm).to_numpy(dtype=np.float64)
    return WindowSet(np.asarray(mu), np.asarray(sigma), np.asarray(groups), np.asarray(r_loss), features)


def _probe():  # a scikit-learn pipeline
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=2000),
    )


def auroc_cv(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, n_splits: int = 5, random_state: int = 0
) -> tuple[float, np.ndarray, int]:
    """Out-of-fold AUROC of a logistic-regression probe, folds split by ``groups`` (StratifiedGroupKFold).

    Returns ``(auroc, out-of-fold probability of class 1 (n,), number of folds)``; the folds are at most the
    number of distinct groups.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from threadpoolctl import threadpool_limits

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    k = min(n_splits, np.unique(groups).size, int(np.bincount(y).min()))
    if k < 2:
        msg = f"need two groups and two windows per class for cross-validation, got {k} possible folds"
        raise ValueError(msg)
    scores = np.empty(len(y))
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
    for train, test in folds.split(x, y, groups):
        # one BLAS thread: small fits, and threads fighting over a busy machine cost many times over
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)  # an unconverged probe still ranks
            probe = _probe().fit(x[train], y[train])
        scores[test] = probe.predict_proba(x[test])[:, 1]
    return float(roc_auc_score(y, scores)), scores, k


def _roc_rows(negative: str, method: str, y: np.ndarray, score: np.ndarray) -> list[dict]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score)
    grid_tpr = np.interp(ROC_GRID, fpr, tpr)
    return [
        {"negative": negative, "method": method, "fpr": float(f), "tpr": float(t)}
        for f, t in zip(ROC_GRID, grid_tpr, strict=True)
    ]


def _inputs(real: WindowSet, fake: WindowSet, is_music: np.ndarray, random_dims: np.ndarray) -> dict:
    """method -> (matrix or score of the stacked rows real then fake, kind); methods without data left out."""
    mu = np.vstack([real.mu, fake.mu])
    sigma = np.vstack([real.sigma, fake.sigma])
    out: dict[str, tuple[np.ndarray, str]] = {}
    if is_music.any():
        out["music_probe"] = (mu[:, is_music], "probe")
        out["random_dims_probe"] = (mu[:, random_dims], "probe")
    if (~is_music).any():
        out["noise_probe"] = (mu[:, ~is_music], "probe")
        out["excited_count"] = (-(np.abs(mu[:, ~is_music]) > DEFAULT_ACTIVATION).sum(axis=1), "score")
    kl = kl_divergence(mu, sigma)
    out["kl"] = (-kl, "score")
    if real.r_loss is not None and fake.r_loss is not None:
        out["neg_elbo"] = (-(np.r_[real.r_loss, fake.r_loss] + kl), "score")
    if real.features is not None and fake.features is not None:
        out["features"] = (np.vstack([real.features, fake.features]), "probe")
    return out


def detector_auroc(
    real: WindowSet,
    negatives: dict[str, WindowSet],
    is_music: object,
    *,
    rng: np.random.Generator,
    n_splits: int = 5,
) -> DetectorResult:
    """AUROC of every method (module docstring) for real windows against each set of negatives.

    Parameters
    ----------
    real : WindowSet
    negatives : dict of str to WindowSet
        Name (e.g. ``musicneurons.data.negatives.NEGATIVES``' keys) -> negative windows.
    is_music : array-like of bool, shape (z_size,)
        Music neurons (``split_music_noise(sigma).is_music``).
    rng : numpy.random.Generator
        Draws the random dimensions (once, shared by every negative) and seeds the folds.
    n_splits : int
        Folds of the group-wise cross-validation (fewer when there are fewer source pieces).
    """
    from sklearn.metrics import roc_auc_score

    music = np.asarray(is_music, dtype=bool)
    random_dims = np.sort(rng.choice(music.size, size=int(music.sum()), replace=False))
    seed = int(rng.integers(2**31))
    rows, roc = [], []
    for name, fake in negatives.items():
        y = np.r_[np.ones(len(real.mu), np.int64), np.zeros(len(fake.mu), np.int64)]
        groups = np.r_[real.groups, fake.groups]
        for method, (x, kind) in _inputs(real, fake, music, random_dims).items():
            if kind == "probe":
                auroc, score, folds = auroc_cv(x, y, groups, n_splits=n_splits, random_state=seed)
            else:
                score, folds = np.asarray(x, dtype=np.float64), 0
                auroc = float(roc_auc_score(y, score))
            rows.append(
                {
                    "negative": name,
                    "method": method,
                    "kind": kind,
                    "auroc": auroc,
                    "n_positive": int(y.sum()),
                    "n_negative": int(len(y) - y.sum()),
                    "n_splits": folds,
                }
            )
            roc.extend(_roc_rows(name, method, y, score))
            log.debug("detector %s / %s: AUROC %.3f", name, method, auroc)
    return DetectorResult(pd.DataFrame(rows), pd.DataFrame(roc))


def run_detector(
    model: EncodingModel,
    windows: np.ndarray,
    groups: np.ndarray,
    is_music: object,
    *,
    rng: np.random.Generator,
    qpm: float | np.ndarray = 120.0,
    negatives: dict | None = None,
    n_splits: int = 5,
) -> DetectorResult:
    """The detector end to end: make each negative set from ``windows`` (row i from row i, same source piece
    in ``groups`` and same tempo), encode and reconstruct every set, compute features, and score them all
    with :func:`detector_auroc`. ``negatives``: name -> generator (default
    ``musicneurons.data.negatives.NEGATIVES``; the uniform notes need a multiple of 32 steps)."""
    from musicneurons.data.negatives import NEGATIVES

    w = np.asarray(windows)
    g = np.asarray(groups)
    makers = NEGATIVES if negatives is None else negatives
    real = window_set(model, w, g, qpm=qpm)
    fakes = {name: window_set(model, make(w, rng), g, qpm=qpm) for name, make in makers.items()}
    return detector_auroc(real, fakes, is_music, rng=rng, n_splits=n_splits)

"""``disentanglement_scores``: every common disentanglement metric of a set of latents against factors."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from musicneurons.analysis.disentanglement._ar_vae import interpretability, scc
from musicneurons.analysis.disentanglement._dci import dci_from_importance, importance_matrix
from musicneurons.analysis.disentanglement._mig import mig_from_mi
from musicneurons.analysis.disentanglement._modularity import explicitness, modularity_from_mi
from musicneurons.analysis.disentanglement._mutual_information import (
    DEFAULT_BINS,
    discretize_factors,
    entropies,
    mutual_information,
)
from musicneurons.analysis.disentanglement._sap import sap_from_matrix, sap_matrix_continuous
from musicneurons.analysis.neurons import DEFAULT_ACTIVE_VARIANCE

log = logging.getLogger(__name__)

MIN_SAMPLES = 10

ESTIMATOR_NOTES = {
    "mig": "binned MI: latents in 20 equal-width bins, factors discretised; gap / H(v_k)",
    "sap": "R^2 of a 1-D linear fit per (latent, factor), factors as numbers",
    "dci": "importances of one tree ensemble per factor (regression, factors as numbers), split 2/3 : 1/3",
    "modularity": "binned MI (as mig)",
    "explicitness": "one-vs-rest ROC-AUC of a logistic regression on all latents, discretised factors",
    "scc": "max |Spearman rho| per factor, rho = 0 when p > 0.05",
    "interpretability": "latent of highest binned MI per factor, R^2 of a 1-D linear fit",
    "active_units": "Var over samples of each latent > 0.01 (Burda et al.)",
}


def _inputs(latents: object, factors: object) -> tuple[np.ndarray, np.ndarray, list[str]]:
    z = np.asarray(latents, dtype=np.float64)
    names = [str(c) for c in getattr(factors, "columns", [])]
    v = np.asarray(factors, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if z.ndim != 2 or v.ndim != 2 or len(z) != len(v):
        msg = f"latents must be (n, d) and factors (n, k) with the same n, got {z.shape} and {v.shape}"
        raise ValueError(msg)
    if not np.isfinite(z).all():
        msg = "latents contain NaN or infinite values"
        raise ValueError(msg)
    if not names:
        names = [f"factor_{k}" for k in range(v.shape[1])]
    return z, v, names


def disentanglement_scores(
    latents: object,
    factors: object,
    *,
    random_state: int = 0,
    n_bins: int = DEFAULT_BINS,
    max_samples: int | None = 5000,
    dci_model: str = "gbt",
    fit_latents: str = "all",
    with_explicitness: bool = True,
) -> dict[str, Any]:
    """Every common disentanglement metric of ``latents`` against ``factors``.

    Parameters
    ----------
    latents : array-like, shape (n_samples, n_latents)
        Use the posterior means mu.
    factors : array-like or DataFrame, shape (n_samples, n_factors)
        Discrete or continuous factors (e.g. features). Rows with a NaN factor are dropped; constant factors
        are dropped (listed in ``dropped_factors``). A factor with at most ``n_bins`` distinct values keeps
        its levels where a metric needs classes; a continuous one is cut into ``n_bins`` equal-width bins.
    random_state : int
        Seeds the row subsample, the train/test splits, the trees.
    n_bins : int
        Bins per latent for the binned mutual information, and per continuous factor.
    max_samples : int, optional
        Use a random subset of at most this many rows (None: all).
    dci_model : {"gbt", "forest"}
        Trees behind the DCI importances (:func:`~musicneurons.analysis.disentanglement.importance_matrix`).
    fit_latents : {"all", "active"}
        ``"active"`` fits the DCI trees and the explicitness classifier on the active units only (the others
        get importance 0; the entropy
        bases still count every latent): much faster when most latents are unused.

    with_explicitness : bool
        False skips explicitness (NaN): its multinomial classifier is the slowest part with many latents.

    Returns
    -------
    dict
        ``mig`` (binned MI, Chen et al.), ``sap`` (R^2 of 1-D linear fits, Kumar et al.),
        ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness`` (mean held-out R^2) (Eastwood &
        Williams), ``modularity`` (binned MI) and ``explicitness`` (Ridgeway & Mozer), ``scc`` and
        ``interpretability`` (AR-VAE; with ``interpretability_dims`` and ``interpretability_r2`` per factor),
        ``active_units`` (Burda et al.: count of latents with Var > 0.01), and ``n_samples``, ``n_latents``,
        ``factor_names``, ``dropped_factors``, ``estimators`` (one line per metric saying how it was
        estimated). Floats and lists only, ready for JSON.
    """
    z, v, names = _inputs(latents, factors)
    keep_rows = np.isfinite(v).all(axis=1)
    z, v = z[keep_rows], v[keep_rows]
    rng = np.random.default_rng(random_state)
    if max_samples is not None and len(z) > max_samples:
        rows = np.sort(rng.choice(len(z), size=max_samples, replace=False))
        z, v = z[rows], v[rows]
    varying = v.std(axis=0) > 0
    dropped = [name for name, ok in zip(names, varying, strict=False) if not ok]
    v = v[:, varying]
    names = [name for name, ok in zip(names, varying, strict=False) if ok]
    if len(z) < MIN_SAMPLES or v.shape[1] == 0:
        msg = f"need >= {MIN_SAMPLES} rows with finite factors and one varying factor, got {v.shape}"
        raise ValueError(msg)
    active = z.var(axis=0) > DEFAULT_ACTIVE_VARIANCE
    labels = discretize_factors(v, n_bins)
    mi = mutual_information(z, labels, estimator="binned", n_bins=n_bins)
    if fit_latents not in ("all", "active"):
        msg = f"fit_latents must be 'all' or 'active', got {fit_latents!r}"
        raise ValueError(msg)
    fit_mask = active if fit_latents == "active" else None
    importance, r2 = importance_matrix(
        z,
        v,
        model=dci_model,
        random_state=random_state,
        fit_latents=fit_mask,
    )
    d, c = dci_from_importance(importance)
    fitted = z if fit_mask is None else z[:, fit_mask]
    # no latent to fit on: chance (an AUROC of 1/2); not asked for: NaN
    explicit = float("nan")
    if with_explicitness:
        explicit = (
            explicitness(fitted, v, n_bins=n_bins, random_state=random_state) if fitted.shape[1] else 0.5
        )
    interp, dims, interp_r2 = interpretability(z, v, n_bins=n_bins, mi=mi)
    return {
        "mig": mig_from_mi(mi, entropies(labels))[0],
        "sap": sap_from_matrix(sap_matrix_continuous(z, v)),
        "dci_disentanglement": d,
        "dci_completeness": c,
        "dci_informativeness": float(np.mean(r2)),
        "modularity": modularity_from_mi(mi),
        "explicitness": explicit,
        "scc": scc(z, v),
        "interpretability": interp,
        "interpretability_dims": [int(j) for j in dims],
        "interpretability_r2": [float(x) for x in interp_r2],
        "active_units": int(active.sum()),
        "n_samples": len(z),
        "n_latents": int(z.shape[1]),
        "factor_names": names,
        "dropped_factors": dropped,
        "estimators": {**ESTIMATOR_NOTES, "dci": f"{dci_model}: " + ESTIMATOR_NOTES["dci"]},
    }

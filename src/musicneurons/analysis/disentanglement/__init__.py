"""Disentanglement metrics over arrays (NumPy + scikit-learn), one module per family.

- :mod:`._mutual_information`: discretisation and the binned / nearest-neighbour MI estimators
- :mod:`._mig` (Chen et al.), :mod:`._sap` (Kumar et al.), :mod:`._dci` (Eastwood & Williams),
  :mod:`._modularity` (Ridgeway & Mozer: modularity, explicitness), :mod:`._ar_vae` (Pati & Lerch: SCC,
  interpretability), :mod:`._monotonicity` (latte)
- :func:`disentanglement_scores`: all of them at once, plus Burda et al.'s active units

Latents are ``(n_samples, n_latents)`` (use mu), factors ``(n_samples, n_factors)``. Each docstring says which
estimator it uses: binned and nearest-neighbour mutual information give different numbers.
"""

from musicneurons.analysis.disentanglement._ar_vae import interpretability, scc, spearman_significant
from musicneurons.analysis.disentanglement._dci import dci, dci_from_importance, importance_matrix
from musicneurons.analysis.disentanglement._mig import mig, mig_from_mi
from musicneurons.analysis.disentanglement._modularity import explicitness, modularity, modularity_from_mi
from musicneurons.analysis.disentanglement._monotonicity import change_share, monotonicity
from musicneurons.analysis.disentanglement._mutual_information import (
    discretize_factors,
    histogram_bins,
    mutual_information,
)
from musicneurons.analysis.disentanglement._sap import sap
from musicneurons.analysis.disentanglement._scores import disentanglement_scores

__all__ = [
    "change_share",
    "dci",
    "dci_from_importance",
    "discretize_factors",
    "disentanglement_scores",
    "explicitness",
    "histogram_bins",
    "importance_matrix",
    "interpretability",
    "mig",
    "mig_from_mi",
    "modularity",
    "modularity_from_mi",
    "monotonicity",
    "mutual_information",
    "sap",
    "scc",
    "spearman_significant",
]

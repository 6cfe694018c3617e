"""Figures of the causal probes and the music-vs-noise detector: tables in, ``Figure`` out.

- :func:`attribute_change_figure`: the attribute-change matrix (Spearman rho between a neuron's shift and each
  feature's change, greedy decodes) beside the phi_K of the same neurons (correlation on the corpus);
- :func:`detector_roc_figure`: ROC curves of every detector method, one panel per negative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from musicneurons.figures.features import order_features

METHOD_NAMES = {
    "music_probe": "probe on music neurons",
    "noise_probe": "probe on noise neurons",
    "random_dims_probe": "probe on random dims",
    "excited_count": "excited noise neurons (fewer = music)",
    "kl": "KL term (lower = music)",
    "neg_elbo": "-ELBO (lower = music)",
    "features": "probe on features (no model)",
}


def attribute_change_matrix(effects: pd.DataFrame, value: str = "spearman") -> pd.DataFrame:
    """Features (rows, P/R/M order) x neurons (columns, in ``effects`` order) of ``value``."""
    table = effects.pivot_table(index="feature", columns="neuron", values=value, sort=False, dropna=False)
    neurons = list(dict.fromkeys(effects["neuron"]))
    return table.loc[order_features(list(table.index)), neurons]


def attribute_change_figure(
    effects: pd.DataFrame,
    *,
    phik: pd.DataFrame | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Heatmap of the attribute-change matrix (Spearman rho of each feature's change against the shift of each
    neuron, -1..1), and beside it, when given, ``phik`` (features x the same neurons, 0..1).

    ``effects`` is ``InterventionResult.effects``; ``phik`` a DataFrame indexed by feature with the neurons as
    columns; ``labels`` name the columns (default: ``label`` and neuron number).
    """
    change = attribute_change_matrix(effects)
    neurons = list(change.columns)
    if labels is None:
        kinds = effects.drop_duplicates("neuron").set_index("neuron")["label"]
        labels = [f"{kinds[j]} {j}" for j in neurons]
    panels = 2 if phik is not None else 1
    n_rows = len(change)
    fig = Figure(figsize=(3.5 + 0.35 * len(neurons) * panels, 2 + 0.16 * n_rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, panels, sharey=True))
    im = axes[0].imshow(change.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    axes[0].set_title(
        "causal: Spearman ρ of the feature's change\nagainst the neuron's shift (greedy decodes)"
    )
    fig.colorbar(im, ax=axes[0], shrink=0.6, label="ρ")
    if phik is not None:
        shown = phik.reindex(index=change.index, columns=neurons)
        im2 = axes[1].imshow(shown.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
        axes[1].set_title("correlational: φ_K on the corpus\n(blank: not computed for that neuron)")
        fig.colorbar(im2, ax=axes[1], shrink=0.6, label="φ_K")
    for ax in axes:
        ax.set_xticks(range(len(neurons)), labels, rotation=90)
        ax.set_yticks(range(n_rows), list(change.index), fontsize=7)
    fig.suptitle(title or "Does moving a neuron change what it correlates with?")
    return fig


def detector_roc_figure(
    roc: pd.DataFrame, table: pd.DataFrame | None = None, *, title: str | None = None
) -> Figure:
    """ROC curves (``DetectorResult.roc``): one panel per negative, one curve per method, AUROC in the legend
    when ``table`` (``DetectorResult.table``) is given."""
    negatives = list(dict.fromkeys(roc["negative"]))
    fig = Figure(figsize=(3.6 * len(negatives), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(negatives), sharey=True))
    auroc = {} if table is None else table.set_index(["negative", "method"])["auroc"].to_dict()
    for ax, negative in zip(axes, negatives, strict=True):
        part = roc[roc["negative"] == negative]
        for method, curve in part.groupby("method", sort=False):
            name = METHOD_NAMES.get(str(method), str(method))
            value = auroc.get((negative, method))
            label = f"{name} ({value:.2f})" if value is not None else name
            ax.plot(curve["fpr"], curve["tpr"], label=label, lw=1.2)
        ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1)
        ax.set_title(f"real vs {negative.replace('_', ' ')}")
        ax.set_xlabel("false-positive rate")
        ax.legend(fontsize=6, loc="lower right")
    axes[0].set_ylabel("true-positive rate (real windows)")
    fig.suptitle(title or "Telling real windows from negatives, easy (left) to hard (right)")
    return fig

"""The figures of the stages beyond the paper (:mod:`musicneurons.study.beyond`), as rows of the figure table
(:data:`musicneurons.study.figure_plans.FIGURES`): name, heading, caption, inputs, draw, when, facts."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from musicneurons.figures import probes as FP


def _attribute_change(v: Any) -> Figure:
    effects = v.load("interventions")
    phik = v.load("phik")
    wide = phik.pivot_table(index="feature", columns="dim", values="phik") if phik is not None else None
    if wide is not None and not set(effects["neuron"]) <= set(wide.columns):
        wide = wide.reindex(columns=sorted(set(wide.columns) | set(effects["neuron"])))
    labels = [
        f"{label} {rank}"
        for label, rank in effects.drop_duplicates("neuron")[["label", "rank"]].itertuples(False)
    ]
    return FP.attribute_change_figure(effects, phik=wide, labels=labels)


def _detector_roc(v: Any) -> Figure:
    table = v.load("detector")
    return FP.detector_roc_figure(table, table.drop_duplicates(["negative", "method"]))


FIGURE_ROWS = (
    (
        "probe_attribute_change",
        "Causal probes — does moving a neuron change what it correlates with?",
        (
            "Left: Spearman ρ between the shift of each neuron's μ (−3…3 spreads of μ over the corpus, "
            "others fixed) and each feature's change in the greedy decodes of {n_probe} windows; music "
            "neurons by rank, then noise neurons (the control). Right: φ_K of the same neurons on the corpus "
            "(correlational). Features are not independent factors, and greedy decodes change in steps."
        ),
        ("interventions", "phik"),
        _attribute_change,
        lambda v: v.has("interventions"),
        lambda v: {"n_probe": int(v.load("interventions")["n_windows"].iloc[0])},
    ),
    (
        "detector_roc",
        "Music vs noise — ROC curves",
        (
            "Real windows against four kinds of negatives made from them (left to right, easy to hard): "
            "uniform random notes, shuffled pitches, shuffled rhythm, random walks in a key. Probes are "
            "logistic regressions scored out of fold, folds split by source piece; AUROC in the legend. "
            "AUROC 1.0 against uniform notes proves little."
        ),
        ("detector",),
        _detector_roc,
        lambda v: v.has("detector"),
        lambda v: {},
    ),
)

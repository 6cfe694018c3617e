"""Figures of the causal probes and the detector draw exactly the tables they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicneurons.figures.probes import attribute_change_figure, attribute_change_matrix, detector_roc_figure


def _effects() -> pd.DataFrame:
    rows = []
    for neuron, label in ((7, "music"), (3, "noise")):
        for k, feature in enumerate(("R15", "P12", "n_notes", "P2")):
            rows.append(
                {"neuron": neuron, "label": label, "feature": feature, "spearman": neuron / 10 - k / 5}
            )
    return pd.DataFrame(rows)


def test_attribute_change_matrix_orders_features_and_keeps_neuron_order() -> None:
    matrix = attribute_change_matrix(_effects())
    assert list(matrix.index) == ["P2", "P12", "R15", "n_notes"]  # P, R, M, then extras; P2 before P12
    assert list(matrix.columns) == [7, 3]
    assert matrix.loc["P12", 7] == 0.7 - 0.2


def test_attribute_change_figure_draws_the_matrix_beside_phik() -> None:
    phik = pd.DataFrame({7: [0.9, 0.1], 3: [0.0, 0.0]}, index=["P12", "R15"])
    fig = attribute_change_figure(_effects(), phik=phik)
    change_ax, phik_ax = fig.axes[0], fig.axes[1]  # the colour bars come after both heat maps
    np.testing.assert_allclose(
        change_ax.images[0].get_array(), attribute_change_matrix(_effects()).to_numpy()
    )
    drawn = np.ma.filled(phik_ax.images[0].get_array(), np.nan)
    assert drawn[1, 0] == 0.9  # P12 x neuron 7
    assert np.isnan(drawn[0, 0])  # P2 has no phi_K: left blank
    assert [t.get_text() for t in change_ax.get_xticklabels()] == ["music 7", "noise 3"]


def test_roc_figure_has_one_panel_per_negative_and_one_curve_per_method() -> None:
    grid = np.linspace(0, 1, 5)
    roc = pd.DataFrame(
        [
            {"negative": neg, "method": m, "fpr": f, "tpr": min(1.0, f * 2)}
            for neg in ("uniform", "random_walk")
            for m in ("music_probe", "kl")
            for f in grid
        ]
    )
    table = pd.DataFrame({"negative": ["uniform"], "method": ["kl"], "auroc": [0.75]})
    fig = detector_roc_figure(roc, table)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 3  # two methods and the chance diagonal
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "KL term (lower = music) (0.75)" in labels

"""Figures: each draws the data it is given (checked against hand-made inputs), labels it, saves PNG + SVG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from musicneurons.figures import features as figures_features
from musicneurons.figures import latent as figures
from musicneurons.figures.features import feature_group, order_features
from musicneurons.figures.saving import save_figure


def _labelled(fig: Figure) -> None:
    """Every visible axes of a figure names what its axes show."""
    assert fig.get_suptitle() or any(ax.get_title() for ax in fig.axes)
    plots = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert any(ax.get_ylabel() for ax in plots)
    assert any(ax.get_xlabel() for ax in plots)


def test_feature_groups_and_order() -> None:
    assert [feature_group(x) for x in ("P11", "r2", "M17", "m10", "pitch_range", "PX")] == list("PRMMXX")
    names = ["M1", "pitch_range", "R10", "P10", "R2", "P2", "m10", "M9"]
    assert order_features(names) == ["P2", "P10", "R2", "R10", "M1", "M9", "m10", "pitch_range"]


def test_save_figure_writes_png_and_svg_atomically(tmp_path: Path) -> None:
    fig = Figure()
    fig.subplots().plot([0, 1], [0, 1])
    paths = save_figure(fig, tmp_path / "sub" / "curve")
    assert [p.name for p in paths] == ["curve.png", "curve.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in paths[1].read_text()
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["curve.png", "curve.svg"]


def test_save_figure_gives_the_pixels_of_matplotlibs_own_layout_pass(tmp_path: Path) -> None:
    """save_figure runs the constrained layout once itself (no extra draw): the PNG must be the one that
    ``savefig``, laying the figure out in a draw of its own, writes; the figure keeps its layout engine."""
    from matplotlib.image import imread

    rng = np.random.default_rng(3)
    phik = pd.DataFrame(rng.uniform(size=(5, 12)), index=["P1", "P2", "R1", "R2", "M1"], columns=range(1, 13))
    counts = rng.integers(0, 10, size=(50, 2))
    sigma = rng.uniform(size=(50, 64))

    def panel() -> Figure:  # suptitle, colour bar, spanning grid cells: the layout engine's hard cases
        return figures_features.summary_figure(
            sigma, phik, counts, None, n_music=12, z_size=64, candidates=[4]
        )

    reference = panel()
    reference.savefig(tmp_path / "reference.png", dpi=150)
    reference.savefig(tmp_path / "reference_again.png", dpi=150)  # laid out again from the first layout
    fig = panel()
    engine = fig.get_layout_engine()
    save_figure(fig, tmp_path / "ours", formats=("png",))
    assert fig.get_layout_engine() is engine
    np.testing.assert_array_equal(imread(tmp_path / "ours.png"), imread(tmp_path / "reference.png"))
    save_figure(fig, tmp_path / "again", formats=("png", "svg"))
    np.testing.assert_array_equal(imread(tmp_path / "again.png"), imread(tmp_path / "reference_again.png"))


def test_pitch_names() -> None:
    assert [figures.pitch_name(p) for p in (60, 61, 69, 21, 108)] == ["C4", "C#4", "A4", "A0", "C8"]


def test_box_stats_are_quartiles_and_percentile_whiskers() -> None:
    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [5.0, 50.0]])
    q = figures.box_percentiles(values, (0, 100))
    assert list(q[2]) == [3.0, 30.0]  # medians
    assert list(q[:, 0]) == [1.0, 2.0, 3.0, 4.0, 5.0]  # whisker low, q1, median, q3, whisker high


def test_latent_boxplot_draws_one_box_per_dim_and_the_cut() -> None:
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=(200, 30)), rng.uniform(size=(200, 30))
    fig = figures.latent_boxplot_figure(mu, sigma, n_music=7, n_dims=20)
    top, bottom = fig.axes
    boxes = top.collections[0]  # one rectangle per dimension, from q1 to q3
    assert len(boxes.get_paths()) == len(bottom.collections[0].get_paths()) == 20
    q1, q3 = np.percentile(sigma[:, 3], [25, 75])
    np.testing.assert_allclose(
        boxes.get_paths()[3].vertices[:4], [[3.65, q1], [4.35, q1], [4.35, q3], [3.65, q3]]
    )
    assert boxes.get_facecolors()[6].tolist() != boxes.get_facecolors()[7].tolist()  # music | noise colours
    cut = [line for line in top.lines if line.get_linestyle() == "--"]
    assert len(cut) == 1
    assert cut[0].get_xdata()[0] == pytest.approx(7.5)
    _labelled(fig)


def test_latent_correlation_colours_are_centred_at_zero() -> None:
    corr = np.corrcoef(np.random.default_rng(1).normal(size=(12, 50)))
    fig = figures.latent_correlation_figure(corr, n_music=5)
    image = fig.axes[0].images[0]
    assert image.norm.vmin == -1
    assert image.norm.vmax == 1
    assert image.get_cmap().name.startswith("RdBu_r")
    np.testing.assert_array_equal(image.get_array(), corr)


def test_phik_heatmap_rows_are_grouped_pitch_rhythm_melody() -> None:
    phik = pd.DataFrame(
        [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]], index=["M1", "P10", "R1", "P2"], columns=[1, 2]
    )
    fig = figures_features.phik_heatmap_figure(phik, highlight=[2])
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0.7, 0.8], [0.3, 0.4], [0.5, 0.6], [0.1, 0.2]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["P2", "P10", "R1", "M1"]
    assert ax.images[0].norm.vmin == 0
    assert ax.images[0].norm.vmax == 1


def test_feature_correlation_figure_marks_undefined_features() -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.normal(size=(100, 3)), columns=["R1", "P1", "M1"])
    df["P2"] = 1.0  # constant: undefined correlation
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = df.corr()
    fig = figures_features.feature_correlation_figure(corr)
    assert "P2" in fig.axes[0].get_title()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["P1", "P2", "R1", "M1"]


def test_neuron_vs_features_draws_points_and_loess_curves() -> None:
    rng = np.random.default_rng(3)
    feats = pd.DataFrame({"R1": rng.normal(size=500), "P1": rng.normal(size=500)})
    neuron = feats["R1"].to_numpy() * 2
    curve = (np.array([-2.0, 0.0, 2.0]), np.array([-4.0, 0.0, 4.0]))
    fig = figures_features.neuron_vs_features_figure(
        neuron,
        feats,
        ["R1", "P1"],
        neuron_label="neuron 2",
        curves={"R1": curve},
        phik={"R1": 0.93},
        max_points=300,
    )
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2
    assert len(visible[0].collections[0].get_offsets()) == 300
    np.testing.assert_array_equal(visible[0].lines[0].get_ydata(), curve[1])
    assert "0.93" in visible[0].get_title()
    assert not visible[1].lines  # no curve given for P1
    _labelled(fig)


def test_neuron_histograms_are_densities_of_real_and_random() -> None:
    rng = np.random.default_rng(4)
    fig = figures.neuron_histograms_figure(rng.normal(size=(400, 6)), rng.normal(2, 1, size=(250, 6)))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4
    labels = [t.get_text() for t in visible[0].get_legend().get_texts()]
    assert labels == ["real music (n = 400)", "random notes (n = 250)"]
    _labelled(fig)


def test_activation_counts_legend_gives_medians() -> None:
    real = np.array([[30, 2], [31, 4], [35, 9]])
    rand = np.array([[33, 200], [34, 150], [36, 180], [36, 170]])
    fig = figures.activation_counts_figure(real, rand, n_music=37, z_size=512)
    left, right = fig.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == [
        "real music (median 31)",
        "random notes (median 35)",
    ]
    assert [t.get_text() for t in right.get_legend().get_texts()] == [
        "real music (median 4)",
        "random notes (median 175)",
    ]
    assert "of 475" in right.get_xlabel()


def test_ablation_curve_plots_the_given_points() -> None:
    k = np.array([0, 1, 2, 4, 8, 512])
    acc = np.array([0.6, 0.7, 0.75, 0.8, 0.9, 0.95])
    fig = figures.ablation_figure(k, acc, n_music=5, z_size=512, reference={"all dimensions": 0.95})
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), k)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), acc)
    _labelled(fig)


def test_latent_profile_and_summary_panels_render(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    sigma = np.sort(rng.uniform(0.05, 1, size=64))
    fig = figures.latent_profile_figure(
        rng.normal(size=64), sigma, rng.normal(size=64), n_music=10, n_dims=40
    )
    assert len(fig.axes[0].patches) == 40
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches], sigma[:40])
    phik = pd.DataFrame(rng.uniform(size=(5, 12)), index=["P1", "P2", "R1", "R2", "M1"], columns=range(1, 13))
    counts = rng.integers(0, 10, size=(50, 2))
    fig = figures_features.summary_figure(
        rng.uniform(size=(50, 64)), phik, counts, None, n_music=12, z_size=64, candidates=[4]
    )
    assert len(fig.axes) == 5  # sigma boxes, phi_K, its colour bar, two count panels
    save_figure(fig, tmp_path / "fig12")
    assert (tmp_path / "fig12.png").stat().st_size > 10_000


def test_twinkle_is_the_tune_and_the_piano_roll_draws_its_notes() -> None:
    from musicneurons.data.encoding import notes_from_classes
    from musicneurons.data.example_melodies import TWINKLE_2BAR, TWINKLE_16BAR

    c4, d4, e4, f4, g4, a4 = 60, 62, 64, 65, 67, 69
    first_two_bars = [
        (c4, 0, 4),
        (c4, 4, 8),
        (g4, 8, 12),
        (g4, 12, 16),
        (a4, 16, 20),
        (a4, 20, 24),
        (g4, 24, 32),
    ]

    assert notes_from_classes(TWINKLE_2BAR) == first_two_bars
    notes16 = notes_from_classes(TWINKLE_16BAR)
    assert len(TWINKLE_16BAR) == 256
    assert notes16[:7] == first_two_bars
    assert [p for p, _, _ in notes16[7:14]] == [f4, f4, e4, e4, d4, d4, c4]  # "how I wonder what you are"
    assert [p for p, _, _ in notes16[14:21]] == [g4, g4, f4, f4, e4, e4, d4]  # "up above the world so high"
    assert notes16[-1] == (c4, 248, 256)
    fig = figures.piano_roll_figure([TWINKLE_2BAR], ["Twinkle"])
    boxes = sorted(
        (round(r.get_y() + 0.4), r.get_x(), r.get_x() + r.get_width()) for r in fig.axes[0].patches
    )
    assert boxes == sorted(first_two_bars)
    assert "C4 (60)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_many_dimensions_are_drawn_as_bands_with_the_same_median() -> None:
    rng = np.random.default_rng(6)
    values = rng.normal(size=(300, 200))
    fig = figures.latent_boxplot_figure(values, np.abs(values), n_music=50, n_dims=200)
    top = fig.axes[0]
    assert not top.patches  # no boxes past figures.MAX_BOXES
    median = next(line for line in top.lines if line.get_label() == "median")
    np.testing.assert_allclose(median.get_ydata(), np.median(np.abs(values), axis=0))
    assert len(top.collections) == 2  # whisker band and quartile band

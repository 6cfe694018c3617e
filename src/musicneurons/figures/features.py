"""The paper's figures about music features: feature correlations, φ_K heat maps, neuron-vs-feature scatters.

Same rules as :mod:`musicneurons.figures.latent`: tables in, a matplotlib Figure out, no analysis and no
files (:mod:`musicneurons.figures.saving` writes them).
Feature columns are named by their music21 jSymbolic id (``P1`` ... ``M19``); the first letter gives the
group (P pitch, R rhythm, M melody) and any other column is an extra descriptor.

Paper numbering: Fig. 6 :func:`feature_correlation_figure`, Fig. 7 :func:`phik_heatmap_figure`,
Fig. 8-9 :func:`neuron_vs_features_figure`, Fig. 12 :func:`summary_figure` (the 16-bar panel).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from musicneurons.figures.latent import draw_activation_counts, draw_boxplots
from musicneurons.figures.style import CUT_COLOR, REAL_COLOR, diverging_cmap, legend_if_any

GROUPS = {"P": "pitch", "R": "rhythm", "M": "melody"}
GROUP_COLORS = {"P": "#1b9e77", "R": "#d95f02", "M": "#7570b3", "X": "0.4"}
HIGHLIGHT_COLOR = "#0096ff"  # outlines chosen neurons; absent from the φ_K colour map
_ID = re.compile(r"^([PRM])(\d+)$", re.IGNORECASE)


def feature_group(name: str) -> str:
    """``"P"``, ``"R"`` or ``"M"`` for a jSymbolic id such as ``P11`` or ``m10``; ``"X"`` for any other."""
    m = _ID.match(name)
    return m.group(1).upper() if m else "X"


def order_features(names: Sequence[str]) -> list[str]:
    """Feature names grouped P, R, M, then extras, each group in numeric id order (P2 before P10)."""

    def key(name: str) -> tuple[int, int, str]:
        m = _ID.match(name)
        group = feature_group(name)
        return ("PRMX".index(group), int(m.group(2)) if m else 0, name)

    return sorted(names, key=key)


def _group_spans(names: Sequence[str]) -> list[tuple[str, int, int]]:
    """Consecutive runs of one group: (group, first index, last index + 1)."""
    spans: list[tuple[str, int, int]] = []
    for i, name in enumerate(names):
        g = feature_group(name)
        if spans and spans[-1][0] == g:
            spans[-1] = (g, spans[-1][1], i + 1)
        else:
            spans.append((g, i, i + 1))
    return spans


def _color_tick_labels(labels: Sequence[Text], names: Sequence[str]) -> None:
    for label, name in zip(labels, names, strict=True):
        label.set_color(GROUP_COLORS[feature_group(name)])


# --------------------------------------------------------------------------- Fig. 6
def feature_correlation_figure(
    corr: pd.DataFrame, *, method: str = "Pearson", title: str | None = None
) -> Figure:
    """Fig. 6: correlation matrix between music features, grouped P | R | M, colour map centred at 0.

    ``corr`` is a square DataFrame whose index and columns are feature ids; NaN cells (a constant feature)
    are drawn light grey. With ``method="phi_K"`` the scale runs 0..1.
    """
    names = order_features([c for c in corr.columns if c in corr.index])
    values = corr.loc[names, names].to_numpy(dtype=float)
    n = len(names)
    size = min(16.0, max(7.0, 0.17 * n + 2.5))
    fig = Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = fig.subplots()
    if method.lower().replace("_", "") == "phik":
        from matplotlib import colormaps

        cmap = colormaps["YlOrRd"].copy()
        cmap.set_bad("0.9")
        im = ax.imshow(values, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    else:
        im = ax.imshow(values, cmap=diverging_cmap(), vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.6, label=f"{method} correlation")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    fontsize = 7 if n <= 60 else 5.5
    ax.set_xticklabels(names, rotation=90, fontsize=fontsize)
    ax.set_yticklabels(names, fontsize=fontsize)
    _color_tick_labels(ax.get_xticklabels(), names)
    _color_tick_labels(ax.get_yticklabels(), names)
    for _, start, _ in _group_spans(names)[1:]:
        ax.axvline(start - 0.5, color="black", linewidth=0.8)
        ax.axhline(start - 0.5, color="black", linewidth=0.8)
    groups = ", ".join(f"{g} = {GROUPS[g]}" for g in "PRM" if any(feature_group(x) == g for x in names))
    undefined = [name for name in names if np.isnan(values[names.index(name)]).all()]
    note = f"\ngrey: undefined on this corpus (constant feature: {', '.join(undefined)})" if undefined else ""
    ax.set_title(title or f"{method} correlations between music features ({groups}){note}")
    return fig


# --------------------------------------------------------------------------- Fig. 7
def draw_phik_heatmap(
    ax: Axes,
    phik: pd.DataFrame,
    *,
    n_music: int | None = None,
    highlight: Sequence[int] = (),
    ytick_fontsize: float = 6.5,
) -> AxesImage:
    """Heat map of φ_K with features as rows (grouped P, R, M) and neurons as columns (labels = ranks)."""
    from matplotlib import colormaps

    names = order_features(list(phik.index))
    values = phik.loc[names].to_numpy(dtype=float)
    cols = list(phik.columns)
    cmap = colormaps["magma_r"].copy()
    cmap.set_bad("0.85")
    im = ax.imshow(values, cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=ytick_fontsize)
    _color_tick_labels(ax.get_yticklabels(), names)
    step = 1 if len(cols) <= 45 else 5 if len(cols) <= 150 else 10
    ticks = [i for i in range(len(cols)) if i == 0 or (i + 1) % step == 0 or cols[i] in highlight]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(cols[i]) for i in ticks], fontsize=6.5, rotation=90 if len(cols) > 45 else 0)
    for label, i in zip(ax.get_xticklabels(), ticks, strict=True):
        if cols[i] in highlight:
            label.set_color(HIGHLIGHT_COLOR)
            label.set_fontweight("bold")
    for _, start, _ in _group_spans(names)[1:]:
        ax.axhline(start - 0.5, color="white", linewidth=1.5)
    for g, start, stop in _group_spans(names):
        if stop - start >= 3:  # name each group on the right edge
            ax.text(
                1.004,
                1 - (start + stop) / 2 / len(names),
                GROUPS.get(g, "extra"),
                transform=ax.transAxes,
                rotation=270,
                ha="left",
                va="center",
                color=GROUP_COLORS[g],
                fontsize=9,
                fontweight="bold",
            )
    for c in highlight:
        if c in cols:
            i = cols.index(c)
            ax.add_patch(_column_box(i, len(names)))
    if n_music is not None and n_music in cols and n_music != cols[-1]:
        ax.axvline(cols.index(n_music) + 0.5, color=CUT_COLOR, linestyle="--", linewidth=1.2)
    ax.set_xlabel("neuron (rank by mean σ; 1 = most specific)")
    return im


def _column_box(i: int, n_rows: int) -> Rectangle:
    return Rectangle((i - 0.5, -0.5), 1, n_rows, fill=False, edgecolor=HIGHLIGHT_COLOR, linewidth=1.6)


def phik_heatmap_figure(
    phik: pd.DataFrame,
    *,
    n_music: int | None = None,
    highlight: Sequence[int] = (),
    title: str | None = None,
    significant: pd.DataFrame | None = None,
) -> Figure:
    """Fig. 7: φ_K between every music feature (rows) and the first music neurons (columns, by rank).

    ``phik`` is a DataFrame indexed by feature id with integer neuron ranks (1 = most specific) as columns.
    ``highlight`` outlines some neurons (e.g. the pitch and rhythm neurons). A dashed line marks the cut if
    it falls inside the shown columns. ``significant`` (same index and columns, bool) pales the cells that
    are not significant.
    """
    n_rows, n_cols = phik.shape
    fig = Figure(figsize=(min(18.0, 4 + 0.2 * n_cols), min(16.0, 2 + 0.14 * n_rows)), layout="constrained")
    ax = fig.subplots()
    im = draw_phik_heatmap(ax, phik, n_music=n_music, highlight=highlight)
    if significant is not None:
        rows = order_features(list(phik.index))
        keep = significant.reindex(index=rows, columns=list(phik.columns)).fillna(False).to_numpy(dtype=bool)
        veil = np.zeros((*keep.shape, 4))
        veil[~keep] = (1.0, 1.0, 1.0, 0.75)
        ax.imshow(veil, aspect="auto", interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.6, label="φ_K (0 = independent, 1 = fully dependent)")
    undefined = phik.index[phik.isna().all(axis=1)].tolist()
    note = (
        f"\ngrey: constant on this corpus, so undefined ({', '.join(order_features(undefined))})"
        if undefined
        else ""
    )
    if significant is not None:
        note += "\npale: not above the φ_K that pieces shuffled between pieces give (99th percentile)"
    ax.set_title(title or f"φ_K between {n_rows} music features and the first {n_cols} neurons{note}")
    return fig


# --------------------------------------------------------------------------- Fig. 8-9
def neuron_vs_features_figure(
    neuron: np.ndarray,
    features: pd.DataFrame,
    columns: Sequence[str],
    *,
    neuron_label: str,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    phik: Mapping[str, float] | None = None,
    names: Mapping[str, str] | None = None,
    max_points: int = 5000,
    rng: np.random.Generator | None = None,
    what: str = "music features",
    title: str | None = None,
) -> Figure:
    """Fig. 8-9: scatter of one neuron's μ against several features, each with its LOESS curve in red.

    Parameters
    ----------
    neuron : array, shape (n_windows,)
        μ of one neuron for every window.
    features : DataFrame, one row per window (same order as ``neuron``)
    columns : feature ids to show, one panel each.
    curves : feature id -> (x, y) of the LOESS fit, drawn in red.
    phik : feature id -> φ_K with this neuron, shown in the panel title.
    names : feature id -> human-readable name.
    max_points : at most this many points are drawn (a random subset, chosen with ``rng``); curves use all.
    what : the features in words, for the title (e.g. "rhythm features").
    """
    neuron = np.asarray(neuron, dtype=float)
    k = len(columns)
    ncols = min(3, k) if k else 1
    nrows = max(1, int(np.ceil(k / ncols)))
    fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharey=True)).ravel()
    idx = np.arange(len(neuron))
    if len(idx) > max_points:
        idx = np.sort((rng or np.random.default_rng(0)).choice(len(neuron), max_points, replace=False))
    for ax, col in zip(axes, columns, strict=False):
        x = features[col].to_numpy(dtype=float)[idx]
        ok = np.isfinite(x)
        ax.scatter(x[ok], neuron[idx][ok], s=3, alpha=0.25, color=REAL_COLOR, linewidths=0, rasterized=True)
        if curves and col in curves:
            cx, cy = curves[col]
            ax.plot(cx, cy, color=CUT_COLOR, linewidth=2, label="LOESS")
        head = f"{col} ({GROUPS.get(feature_group(col), 'extra')})"
        if phik and col in phik and np.isfinite(phik[col]):
            head += f": φ_K = {phik[col]:.2f}"
        ax.set_title(head, fontsize=9, color=GROUP_COLORS[feature_group(col)])
        ax.set_xlabel(names[col] if names and col in names else f"{col} value", fontsize=8)
        if list(axes).index(ax) % ncols == 0:
            ax.set_ylabel(f"μ of {neuron_label}")
        ax.grid(alpha=0.3)
    for ax in axes[k:]:
        ax.set_visible(False)
    shown = (
        f"{min(len(neuron), max_points):,} of {len(neuron):,} windows shown"
        if len(neuron) > max_points
        else f"{len(neuron):,} windows"
    )
    fig.suptitle(title or f"{neuron_label} against {what} (red: LOESS fit; {shown})")
    return fig


# --------------------------------------------------------------------------- Fig. 12
def summary_figure(
    sigma: np.ndarray,
    phik: pd.DataFrame,
    counts_real: np.ndarray,
    counts_random: np.ndarray | None,
    *,
    n_music: int,
    z_size: int,
    candidates: Sequence[int] = (),
    threshold: float = 0.1,
    n_box: int | None = None,
    title: str = "16-bar model: music neurons, what they encode, and how many a window excites",
) -> Figure:
    """Fig. 12: the 2-bar story in one panel for another model (the paper's 16-bar case).

    Top: σ boxplots with the music/noise cut; middle: φ_K features × music neurons with the melody-neuron
    ``candidates`` (ranks) outlined; bottom: activation counts for music and noise neurons.
    ``sigma`` (n_windows, z_size) in specificity order; ``counts_*`` as in
    :func:`musicneurons.figures.latent.activation_counts_figure`.
    """
    n_box = n_box or min(z_size, max(100, int(np.ceil((n_music + 20) / 10)) * 10))
    fig = Figure(figsize=(15, 14), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[1.0, 2.4, 1.0])
    ax_box = fig.add_subplot(grid[0, :])
    draw_boxplots(ax_box, sigma[:, :n_box], n_music=n_music, ylabel="σ (posterior std)")
    ax_box.axhline(1, color="0.4", linestyle=":", linewidth=0.8)
    legend_if_any(ax_box, loc="lower right", fontsize=8)
    ax_box.set_title(
        f"(a) σ across {len(sigma):,} windows, first {n_box} dimensions", loc="left", fontsize=10
    )
    ax_phik = fig.add_subplot(grid[1, :])
    im = draw_phik_heatmap(ax_phik, phik, n_music=n_music, highlight=candidates, ytick_fontsize=5.5)
    fig.colorbar(im, ax=ax_phik, shrink=0.7, label="φ_K")
    note = (
        f"; outlined in blue: melody-neuron candidates {', '.join(map(str, candidates))}"
        if len(candidates)
        else "; no neuron correlates more with melody than with pitch and rhythm"
    )
    ax_phik.set_title(
        f"(b) φ_K between music features and the first {phik.shape[1]} neurons{note}", loc="left", fontsize=10
    )
    rand = None if counts_random is None else np.asarray(counts_random)
    real = np.asarray(counts_real)
    for j, (what, total) in enumerate((("music", n_music), ("noise", z_size - n_music))):
        ax = fig.add_subplot(grid[2, j])
        draw_activation_counts(
            ax,
            real[:, j],
            None if rand is None else rand[:, j],
            n_total=total,
            what=what,
            threshold=threshold,
        )
        ax.set_title(f"({'cd'[j]}) excited {what} neurons per window", loc="left", fontsize=10)
    fig.suptitle(title)
    return fig

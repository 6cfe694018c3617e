"""What every figure shares: the colours of real music, random notes and the music/noise cut, and small axis
helpers (the neuron-rank axis, the cut line, density histograms drawn as outlines)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap

REAL_COLOR = "#1f77b4"  # real music: blue in every figure
RANDOM_COLOR = "#ff7f0e"  # random note sequences: orange in every figure
CUT_COLOR = "#d62728"  # the music/noise cut, dashed red as in the paper


def rank_axis(ax: Axes, n: int, *, label: bool = True) -> None:
    """x axis of a per-neuron plot: ranks 1..n, ticks every 10 (every 20 past 150)."""
    step = 10 if n <= 150 else 20 if n <= 300 else 50
    ticks = np.arange(0, n + 1, step)
    ticks[0] = 1
    ax.set_xticks(ticks)
    ax.set_xlim(0.3, n + 0.7)
    if label:
        ax.set_xlabel("latent dimension, ordered by mean σ over the corpus (1 = most specific)")


def cut_line(ax: Axes, n_music: int | None, n_shown: int, *, label: bool = False) -> None:
    """Dashed vertical line between the music and the noise neurons, if the cut is among the shown dims."""
    if n_music is None or n_music >= n_shown:
        return
    text = f"music | noise cut ({n_music} music neurons)" if label else None
    ax.axvline(n_music + 0.5, label=text, color=CUT_COLOR, linestyle="--", linewidth=1.2)


def legend_if_any(ax: Axes, **kwargs: object) -> None:
    """A legend, only when something on ``ax`` has a label."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def diverging_cmap() -> Colormap:
    """RdBu reversed (red = positive) with NaN drawn light grey."""
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r"].copy()
    cmap.set_bad("0.9")
    return cmap


def density_stairs(ax: Axes, values: np.ndarray, edges: np.ndarray, *, color: str, label: str) -> None:
    """A density histogram as a filled step outline (one artist each: fast, and small in SVG)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    counts, _ = np.histogram(values, bins=edges)
    total = len(values) * np.diff(edges)  # values beyond the edges are not drawn but still count
    density = np.divide(counts, total, out=np.zeros(len(counts)), where=total > 0)
    ax.stairs(density, edges, fill=True, alpha=0.35, color=color, label=label)
    ax.stairs(density, edges, color=color, linewidth=1.2)

"""The paper's figures about the latent space: one function per figure, arrays in, matplotlib Figure out.

No function here computes an analysis or writes a file: :mod:`musicneurons.study` computes the tables, and
:func:`musicneurons.figures.saving.save_figure` writes a figure as PNG (and SVG). Latent arrays are passed
already **in specificity order** (column 0 = the dimension with the smallest mean posterior sigma over the
corpus), so "neuron 1" means the same thing in every figure. Figures are built with
:class:`matplotlib.figure.Figure` directly, never through pyplot, so nothing global changes and any backend
works. Figures about music features live in :mod:`musicneurons.figures.features`.

Paper numbering: Fig. 2 :func:`piano_roll_figure`, Fig. 3 :func:`latent_profile_figure`, Fig. 4
:func:`latent_boxplot_figure`, Fig. 5 :func:`latent_correlation_figure`, Fig. 10
:func:`neuron_histograms_figure`, Fig. 11 :func:`activation_counts_figure`, and the ablation curve
:func:`ablation_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from musicneurons.constants import STEPS_PER_BAR, STEPS_PER_QUARTER
from musicneurons.figures.style import (
    CUT_COLOR,
    RANDOM_COLOR,
    REAL_COLOR,
    cut_line,
    density_stairs,
    diverging_cmap,
    legend_if_any,
    rank_axis,
)

MAX_BOXES = 150  # draw_boxplots switches from boxes to bands beyond this many dimensions
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI number: 60 -> ``C4``, 69 -> ``A4``."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


# --------------------------------------------------------------------------- Fig. 2
def draw_piano_roll(
    ax: Axes, window: np.ndarray, *, color: str = REAL_COLOR, pitch_range: tuple[int, int] | None = None
) -> None:
    """Draw one window of 90-class indices as a piano roll on ``ax`` (x in 16th-note steps, y MIDI pitch)."""
    from musicneurons.data.encoding import notes_from_classes

    window = np.asarray(window)
    n_steps = window.shape[-1]
    notes = notes_from_classes(window)
    for pitch, start, end in notes:
        ax.add_patch(
            Rectangle(
                (start, pitch - 0.4), end - start, 0.8, facecolor=color, edgecolor="black", linewidth=0.6
            )
        )
    pitches = [p for p, _, _ in notes]
    lo, hi = pitch_range if pitch_range else (min(pitches, default=60), max(pitches, default=72))
    lo, hi = lo - 2, hi + 2
    ax.set_ylim(lo - 0.5, hi + 0.5)
    ax.set_xlim(0, n_steps)
    span = hi - lo
    step = 1 if span <= 16 else 2 if span <= 30 else 12
    yticks = (
        [p for p in range(lo, hi + 1) if (p - lo) % step == 0]
        if step < 12
        else range(12 * (lo // 12 + 1), hi + 1, 12)
    )
    ax.set_yticks(list(yticks))
    ax.set_yticklabels([f"{pitch_name(p)} ({p})" for p in yticks], fontsize=7)
    bar_len = STEPS_PER_BAR
    ax.set_xticks(np.arange(0, n_steps + 1, bar_len if n_steps > 64 else STEPS_PER_QUARTER))
    for x in range(0, n_steps + 1, STEPS_PER_QUARTER):
        major = x % bar_len == 0
        ax.axvline(x, color="0.3" if major else "0.85", linewidth=1.0 if major else 0.5, zorder=0)
    ax.set_ylabel("pitch")


def piano_roll_figure(
    windows: Sequence[np.ndarray], titles: Sequence[str], *, suptitle: str | None = None
) -> Figure:
    """Fig. 2: piano rolls of windows (e.g. an input melody and a decoded sample), stacked, same pitch axis.

    Parameters
    ----------
    windows : sequence of int arrays, each shape (T,)
        90-class indices (0 hold, 1 note-off, k >= 2 MIDI pitch k + 19).
    titles : sequence of str
        One title per window.
    """
    from musicneurons.data.encoding import notes_from_classes

    if len(windows) != len(titles):
        msg = f"piano_roll_figure: {len(windows)} windows but {len(titles)} titles"
        raise ValueError(msg)
    pitches = [p for w in windows for p, _, _ in notes_from_classes(np.asarray(w))]
    prange = (min(pitches, default=60), max(pitches, default=72))
    n_steps = max(np.asarray(w).shape[-1] for w in windows)
    fig = Figure(figsize=(max(7.0, min(16.0, n_steps / 5)), 2.6 * len(windows) + 0.4), layout="constrained")
    axes = fig.subplots(len(windows), 1, sharex=True, squeeze=False)[:, 0]
    colors = [REAL_COLOR, "#2ca02c", "#9467bd", "#8c564b"]
    for i, (ax, window, title) in enumerate(zip(axes, windows, titles, strict=True)):
        draw_piano_roll(ax, window, color=colors[i % len(colors)], pitch_range=prange)
        ax.set_title(title, fontsize=10, loc="left")
    axes[-1].set_xlabel("time (16th-note steps; thick lines = bar lines, thin = beats)")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


# --------------------------------------------------------------------------- Fig. 3
def latent_profile_figure(
    mu: np.ndarray,
    sigma: np.ndarray,
    z: np.ndarray,
    *,
    n_music: int | None = None,
    n_dims: int = 100,
    title: str = "Latent encoding of one melody",
) -> Figure:
    """Fig. 3: one melody's σ, μ and a posterior sample z over the ``n_dims`` most specific dimensions.

    ``mu``, ``sigma``, ``z``: shape (z_size,), already in specificity order.
    """
    n = min(n_dims, len(mu))
    x = np.arange(1, n + 1)
    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    axes[2].sharey(axes[1])  # μ and the sample z on one scale
    panels = (
        (sigma, "σ (posterior std)", "#2ca02c"),
        (mu, "μ (posterior mean)", REAL_COLOR),
        (z, "z = μ + σ·ε (a sample)", "#9467bd"),
    )
    for ax, (values, label, color) in zip(axes, panels, strict=True):
        ax.bar(x, np.asarray(values)[:n], width=0.8, color=color)
        ax.axhline(0, color="0.4", linewidth=0.6)
        ax.set_ylabel(label)
        cut_line(ax, n_music, n, label=ax is axes[0])
        ax.grid(axis="y", alpha=0.3)
        rank_axis(ax, n, label=ax is axes[-1])
    axes[0].axhline(1, color="0.4", linestyle=":", linewidth=0.8)
    axes[0].set_ylim(0, max(1.1, float(np.max(np.asarray(sigma)[:n])) * 1.05))
    legend_if_any(axes[0], loc="lower right", fontsize=8)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- Fig. 4
def _box_stats(values: np.ndarray, whis: tuple[float, float]) -> list[dict[str, float]]:
    """Box statistics per column (median, quartiles, whiskers at the ``whis`` percentiles)."""
    q = np.nanpercentile(values, [whis[0], 25, 50, 75, whis[1]], axis=0)
    return [
        {"whislo": q[0, j], "q1": q[1, j], "med": q[2, j], "q3": q[3, j], "whishi": q[4, j], "fliers": []}
        for j in range(values.shape[1])
    ]


def draw_boxplots(
    ax: Axes, values: np.ndarray, *, n_music: int | None, ylabel: str, whis: tuple[float, float] = (5, 95)
) -> None:
    """Boxplots of each column of ``values`` (n_samples, n_dims) at x = 1..n_dims, with the cut line.

    Past ``MAX_BOXES`` columns, boxes would be a black smear: the same statistics are drawn as bands
    (quartiles dark, whiskers light) around a median line.
    """
    n = values.shape[1]
    if n > MAX_BOXES:
        q = np.nanpercentile(values, [whis[0], 25, 50, 75, whis[1]], axis=0)
        x = np.arange(1, n + 1)
        ax.fill_between(
            x,
            q[0],
            q[4],
            step="mid",
            color="#c6dbef",
            linewidth=0,
            label=f"{whis[0]:g}th–{whis[1]:g}th percentile",
        )
        ax.fill_between(x, q[1], q[3], step="mid", color="#6baed6", linewidth=0, label="quartiles")
        ax.step(x, q[2], where="mid", color="black", linewidth=0.8, label="median")
        cut_line(ax, n_music, n, label=True)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        rank_axis(ax, n)
        return
    colors = ["#9ecae1" if n_music is not None and j < n_music else "0.8" for j in range(n)]
    bp = ax.bxp(
        _box_stats(values, whis),
        positions=np.arange(1, n + 1),
        widths=0.7,
        showfliers=False,
        patch_artist=True,
        manage_ticks=False,
        medianprops={"color": "black", "linewidth": 0.8},
        whiskerprops={"linewidth": 0.6},
        capprops={"linewidth": 0.6},
        boxprops={"linewidth": 0.5},
    )
    for patch, c in zip(bp["boxes"], colors, strict=True):
        patch.set_facecolor(c)
    cut_line(ax, n_music, n, label=True)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    rank_axis(ax, n)


def latent_boxplot_figure(
    mu: np.ndarray,
    sigma: np.ndarray,
    *,
    n_music: int | None,
    n_dims: int = 100,
    title: str | None = None,
) -> Figure:
    """Fig. 4: boxplots of σ (top) and μ (bottom) across the corpus for the first ``n_dims`` dimensions.

    ``mu``, ``sigma``: shape (n_windows, z_size) in specificity order. Boxes span the quartiles, whiskers the
    5th to 95th percentiles; music neurons are shaded blue, noise neurons grey.
    """
    n = min(n_dims, mu.shape[1])
    fig = Figure(figsize=(12, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    draw_boxplots(top, sigma[:, :n], n_music=n_music, ylabel="σ (posterior std)")
    top.axhline(1, color="0.4", linestyle=":", linewidth=0.8)
    top.set_xlabel("")
    draw_boxplots(bottom, mu[:, :n], n_music=n_music, ylabel="μ (posterior mean)")
    legend_if_any(top, loc="lower right", fontsize=8)
    fig.suptitle(
        title
        or f"σ and μ of {len(mu):,} windows over the {n} most specific dimensions "
        "(boxes: quartiles; whiskers: 5th–95th percentile)"
    )
    return fig


# --------------------------------------------------------------------------- Fig. 5
def latent_correlation_figure(corr: np.ndarray, *, n_music: int | None, title: str | None = None) -> Figure:
    """Fig. 5: Pearson correlation matrix of μ between dimensions (square array, specificity order).

    The colour map is centred at 0 (blue negative, red positive); dashed lines mark the music/noise cut.
    """
    corr = np.asarray(corr, dtype=float)
    n = corr.shape[0]
    fig = Figure(figsize=(8.2, 7), layout="constrained")
    ax = fig.subplots()
    cmap = diverging_cmap()
    im = ax.imshow(
        corr, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest", extent=(0.5, n + 0.5, n + 0.5, 0.5)
    )
    if n_music is not None and n_music < n:
        for line in (ax.axvline, ax.axhline):
            line(n_music + 0.5, color="black", linestyle="--", linewidth=1)
    fig.colorbar(im, ax=ax, shrink=0.8, label="Pearson correlation of μ")
    ticks = [1, *range(10, n + 1, 10)]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlabel("latent dimension (specificity order)")
    ax.set_ylabel("latent dimension (specificity order)")
    ax.set_title(
        title
        or f"Correlations of μ between the {n} most specific dimensions"
        + (
            f"\n(dashed: music | noise cut at {n_music})"
            if n_music is not None and n_music < n
            else f"\n(all {n} are music neurons)"
            if n_music is not None
            else ""
        )
    )
    return fig


# --------------------------------------------------------------------------- Fig. 10
def neuron_histograms_figure(
    mu_real: np.ndarray,
    mu_random: np.ndarray,
    *,
    labels: Sequence[str] | None = None,
    n_neurons: int = 4,
    bins: int = 60,
    title: str = (
        "Excitation μ of the first neurons: real music vs random note sequences "
        "(0.2% extreme values off-axis)"
    ),
) -> Figure:
    """Fig. 10: histograms of μ for the first ``n_neurons`` neurons, real vs random (density-normalised).

    ``mu_real`` (n_real, >= n_neurons), ``mu_random`` (n_random, >= n_neurons), specificity order.
    ``labels`` names each panel (default "neuron 1", ...), e.g. with what the neuron tracks.
    """
    k = min(n_neurons, mu_real.shape[1])
    labels = list(labels) if labels is not None else [f"neuron {i + 1}" for i in range(k)]
    ncols = 2 if k > 1 else 1
    nrows = int(np.ceil(k / ncols))
    fig = Figure(figsize=(5.2 * ncols, 3.4 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for j, ax in enumerate(axes):
        if j >= k:
            ax.set_visible(False)
            continue
        both = np.concatenate([mu_real[:, j], mu_random[:, j]])
        both = both[np.isfinite(both)]
        lo, hi = np.percentile(both, [0.1, 99.9]) if both.size else (-1.0, 1.0)  # the rarest 0.2% is off-axis
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        for values, color, name in (
            (mu_real[:, j], REAL_COLOR, f"real music (n = {len(mu_real):,})"),
            (mu_random[:, j], RANDOM_COLOR, f"random notes (n = {len(mu_random):,})"),
        ):
            density_stairs(ax, values, edges, color=color, label=name)
        ax.set_title(labels[j], fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_xlabel("μ")
        ax.set_ylabel("density")
        if j == 0:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- Fig. 11
def draw_activation_counts(
    ax: Axes,
    counts_real: np.ndarray,
    counts_random: np.ndarray | None,
    *,
    n_total: int,
    what: str,
    threshold: float,
) -> None:
    """Histogram of per-window counts of neurons with |μ| > threshold on ``ax`` (integer bins)."""
    if n_total == 0:
        ax.text(
            0.5,
            0.5,
            f"no {what} neurons in this model at this σ threshold",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )
        ax.set_xlabel(f"number of {what} neurons with |μ| > {threshold:g} (of 0)")
        ax.set_ylabel("fraction of windows")
        return
    series = [(np.asarray(counts_real), REAL_COLOR, "real music")]
    if counts_random is not None:
        series.append((np.asarray(counts_random), RANDOM_COLOR, "random notes"))
    hi = max(int(np.max(c)) if c.size else 0 for c, _, _ in series)
    lo = min(int(np.min(c)) if c.size else 0 for c, _, _ in series)
    width = max(1, int(np.ceil((hi - lo + 1) / 60)))
    edges = np.arange(lo - 0.5, hi + width + 0.5, width)
    for values, color, name in series:
        density_stairs(ax, values, edges, color=color, label=f"{name} (median {np.median(values):.0f})")
    ax.set_xlabel(f"number of {what} neurons with |μ| > {threshold:g} (of {n_total})")
    ax.set_ylabel("fraction of windows")
    ax.legend(fontsize=8)


def activation_counts_figure(
    counts_real: np.ndarray,
    counts_random: np.ndarray | None,
    *,
    n_music: int,
    z_size: int,
    threshold: float = 0.1,
    title: str | None = None,
) -> Figure:
    """Fig. 11: per-window counts of excited music and noise neurons, real music vs random notes.

    ``counts_real`` (n_real, 2) and ``counts_random`` (n_random, 2): column 0 counts music neurons,
    column 1 noise neurons with |μ| > ``threshold``.
    """
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    rand = np.asarray(counts_random) if counts_random is not None else None
    real = np.asarray(counts_real)
    draw_activation_counts(
        left,
        real[:, 0],
        None if rand is None else rand[:, 0],
        n_total=n_music,
        what="music",
        threshold=threshold,
    )
    draw_activation_counts(
        right,
        real[:, 1],
        None if rand is None else rand[:, 1],
        n_total=z_size - n_music,
        what="noise",
        threshold=threshold,
    )
    left.set_title("music neurons")
    right.set_title("noise neurons")
    fig.suptitle(title or f"How many neurons does a window excite (|μ| > {threshold:g})?")
    return fig


# --------------------------------------------------------------------------- ablation
def ablation_figure(
    k: np.ndarray,
    accuracy: np.ndarray,
    *,
    n_music: int | None,
    z_size: int,
    reference: dict[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Reconstruction accuracy when only the ``k`` most specific dimensions keep their μ (the rest set to 0).

    ``reference`` draws horizontal lines, e.g. ``{"all dimensions": 0.91, "always hold": 0.68}``.
    """
    k = np.asarray(k)
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(k, accuracy, marker="o", markersize=3.5, color=REAL_COLOR, label="keep k dims, zero the rest")
    for i, (name, value) in enumerate((reference or {}).items()):
        ax.axhline(
            value,
            color=("0.3", "0.6", "0.75")[i % 3],
            linestyle=":",
            linewidth=1,
            label=f"{name}: {value:.3f}",
        )
    if n_music is not None:
        ax.axvline(
            n_music + 0.5,
            color=CUT_COLOR,
            linestyle="--",
            linewidth=1.2,
            label=f"music | noise cut ({n_music})",
        )
    ax.set_xscale("symlog", linthresh=1, linscale=0.4)
    ticks = [t for t in (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if t <= z_size]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlim(left=0)
    ax.set_xlabel("k: number of most specific dimensions that keep their μ")
    ax.set_ylabel("teacher-forced reconstruction accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "How many dimensions does the decoder need?")
    return fig

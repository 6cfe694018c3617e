"""A one-image glimpse of a report (for a README): sentences above up to four already drawn figures."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure


def report_preview_figure(
    sentences: Sequence[str],
    panels: Sequence[tuple[str, Path]],
    *,
    title: str = "musicneurons study — report/index.html",
) -> Figure:
    """``title`` and ``sentences`` (wrapped) on top, then up to four ``(panel title, PNG file)`` in a grid."""
    from matplotlib.image import imread

    fig = Figure(figsize=(12, 11), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[0.75, 1, 1])
    text_ax = fig.add_subplot(grid[0, :])
    text_ax.axis("off")
    lines = [title, ""]
    for s in sentences:
        lines += [*textwrap.wrap(s, 135), ""]
    text_ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=9, transform=text_ax.transAxes)
    for i, (heading, png) in enumerate(panels[:4]):
        ax = fig.add_subplot(grid[1 + i // 2, i % 2])
        ax.imshow(imread(png))
        ax.set_title(heading, fontsize=9)
        ax.axis("off")
    return fig

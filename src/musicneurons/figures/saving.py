"""Writing figures to disk: PNG always, SVG on request, each written to a temporary name and renamed.

The output is deterministic: the same figure gives the same bytes (no date in the SVG, a fixed salt for its
element ids), whichever process draws it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from musicneurons.atomic_files import atomic_write

FORMATS = ("png", "svg")
DPI = 150
SVG_SALT = "musicneurons"  # ids inside an SVG derive from this, not from a random uuid


def save_figure(
    fig: Figure,
    path_without_ext: str | os.PathLike[str],
    *,
    dpi: int = DPI,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write ``fig`` as ``PATH.png`` and ``PATH.svg`` (or the given ``formats``), each atomically.

    Returns the paths written, in the order of ``formats``. The layout is computed once, before the first
    format, and reused for every format (see :func:`lay_out`). The figure is left open; close it with
    ``plt.close`` only if pyplot made it.
    """
    base = Path(path_without_ext)
    written = []
    engine = fig.get_layout_engine()
    try:
        with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
            lay_out(fig, dpi)
            for ext in formats:
                metadata = {"Date": None} if ext == "svg" else None
                final = base.with_name(f"{base.name}.{ext}")
                atomic_write(
                    final,
                    lambda tmp, ext=ext, md=metadata: fig.savefig(tmp, format=ext, dpi=dpi, metadata=md),
                )
                written.append(final)
    finally:
        fig.set_layout_engine(engine)
    return written


def lay_out(fig: Figure, dpi: float) -> None:
    """Run the figure's layout engine once, at ``dpi``, then take it off the figure (until the caller puts it
    back with ``fig.set_layout_engine``).

    With a layout engine (even a placeholder), ``savefig`` lays the figure out in a draw of its own, every
    artist walked with drawing disabled, before the draw that renders. This runs only the engine, on the Agg
    renderer that the PNG's draw then reuses (the text extents measured here stay cached for it), and leaves
    no engine, so each format is drawn once. Same positions, so the same pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    engine = fig.get_layout_engine()
    if engine is None:
        return
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    shown = fig.dpi
    fig.dpi = dpi
    try:
        engine.execute(fig)
    finally:
        fig.dpi = shown
    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)  # None, not "none": a placeholder engine would still cost a draw

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

    Returns the paths written, in the order of ``formats``. The layout is computed once, for the first
    format, and reused for the others. The figure is left open; close it with ``plt.close`` only if pyplot
    made it.
    """
    base = Path(path_without_ext)
    written = []
    engine = fig.get_layout_engine()
    try:
        with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
            for ext in formats:
                metadata = {"Date": None} if ext == "svg" else None
                final = base.with_name(f"{base.name}.{ext}")
                atomic_write(
                    final,
                    lambda tmp, ext=ext, md=metadata: fig.savefig(tmp, format=ext, dpi=dpi, metadata=md),
                )
                written.append(final)
                fig.set_layout_engine("none")  # the first save's layout holds; redoing it doubles the cost
    finally:
        fig.set_layout_engine(engine)
    return written

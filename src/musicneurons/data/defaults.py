"""The embedded default study corpus: held-out melody windows shipped inside the package.

``src/musicneurons/assets/corpus/windows_<bars>bar.npz`` holds windows from the music21-bundled
public-domain melodies that were held out from training the embedded models: the ``study`` split written by
:func:`musicneurons.data.music21_corpus.build_training_corpus` (see docs/training.md). Arrays, row-aligned,
no pickles:

- ``windows`` int8 (n, T): 90-class indices (0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = MIDI pitch k + 19),
  16 steps per 4/4 bar, T = 32 (2 bars) or 256 (16 bars);
- ``qpm`` float32 (n,): tempo of each window (seconds per step = 60 / qpm / 4);
- ``window_id`` int32 (n,), and provenance strings / ints: ``source`` (the MIDI file, relative to the built
  corpus), ``collection``, ``score_file`` (inside music21's corpus folder), ``title``, ``time_signature``
  (as written), ``tune_index``, ``window_start`` (step of the window in its melody's piece).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from musicneurons.arrays import check_windows

CORPUS_DIR = Path(__file__).resolve().parent.parent / "assets" / "corpus"
WINDOW_STEPS = {2: 32, 16: 256}


def corpus_path(bars: int = 2) -> Path:
    """Path of the embedded ``windows_<bars>bar.npz``; ``bars`` is 2 or 16."""
    if bars not in WINDOW_STEPS:
        msg = f"bars must be 2 or 16, got {bars!r}"
        raise ValueError(msg)
    return CORPUS_DIR / f"windows_{bars}bar.npz"


@lru_cache(maxsize=2)
def _load(bars: int) -> dict[str, np.ndarray]:
    path = corpus_path(bars)
    if not path.exists():
        msg = f"the embedded {bars}-bar corpus is missing: expected {path}"
        raise FileNotFoundError(msg)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for a in arrays.values():
        a.setflags(write=False)  # shared by every caller through the cache
    return arrays


def default_windows(bars: int = 2) -> np.ndarray:
    """The embedded held-out windows, int8 of shape (n, 32) for ``bars=2`` or (n, 256) for ``bars=16``.

    Row i matches row i of :func:`default_corpus` (tempo and provenance). Returns a fresh writable copy.
    """
    windows = _load(bars)["windows"]
    return check_windows(windows, steps=WINDOW_STEPS[bars], name=str(corpus_path(bars))).copy()


def default_corpus(bars: int = 2) -> pd.DataFrame:
    """One row per embedded window: ``window_id``, ``source``, ``qpm``, provenance columns and ``window``.

    ``window`` holds each window's class indices as an int8 array (the same values as
    :func:`default_windows` row by row).
    """
    arrays = _load(bars)
    table = pd.DataFrame({k: v for k, v in arrays.items() if k != "windows"})
    front = ["window_id", "source", "qpm"]
    table = table[front + [c for c in table.columns if c not in front]]
    table["qpm"] = table["qpm"].astype(np.float64)
    table["window"] = list(arrays["windows"].copy())
    return table

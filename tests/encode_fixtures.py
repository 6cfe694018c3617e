"""Shared by the encode and study tests: tiny saved models, window tables in ``extract``'s schema, a few
Nottingham tunes copied into a MIDI folder, and those tunes extracted and encoded by a tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from musicneurons.model.checkpoints import save_model
from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig

TINY = MusicVAEConfig(z_size=8, enc_rnn_size=(16,), dec_rnn_size=(16,), max_seq_len=32)
#: the random-weight 2-bar model of the small end-to-end studies
TINY_STUDY = MusicVAEConfig(z_size=24, enc_rnn_size=(16,), dec_rnn_size=(16,), max_seq_len=32)


def copy_nottingham(corpora_dir: Path, folder: Path, n: int) -> Path:
    """``folder`` holding the first ``n`` Nottingham melody files of ``corpora_dir`` (sorted by name)."""
    folder.mkdir(parents=True)
    for path in sorted((corpora_dir / "nottingham" / "melody").glob("*.mid"))[:n]:
        shutil.copy(path, folder / path.name)
    return folder


def encoded_nottingham(corpora_dir: Path, root: Path, n: int) -> tuple[np.ndarray, pd.DataFrame, Path]:
    """The first ``n`` Nottingham tunes as 2-bar windows in ``root/windows`` and their latents by a tiny
    study model (``root/model``) in ``root/latents`` (parts of 16 rows): ``(windows, their table, model
    folder)``."""
    from musicneurons.data.corpus import extract_corpus, read_windows
    from musicneurons.encode import encode_corpus

    midi = copy_nottingham(corpora_dir, root / "midi", n)
    extract_corpus(midi, bars=2, out=root / "windows", jobs=1)
    windows, frame = read_windows(root / "windows")
    model = save_tiny_model(root / "model", config=TINY_STUDY)
    encode_corpus(root / "windows", model, root / "latents", devices=["cpu"], part_rows=16)
    return windows, frame, model


def save_tiny_model(folder: Path, seed: int = 0, config: MusicVAEConfig = TINY) -> Path:
    """A randomly initialised 2-bar MusicVAE (z = 8 unless ``config`` says otherwise) saved in our format."""
    torch.manual_seed(seed)
    return save_model(MusicVAE(config), folder)


def random_windows(n: int, rng: np.random.Generator, steps: int = 32) -> np.ndarray:
    """int8 (n, steps) class indices 0..89."""
    return rng.integers(0, 90, size=(n, steps)).astype(np.int8)


def write_windows(
    path: Path, windows: np.ndarray, ids: np.ndarray | None = None, row_group: int = 50
) -> Path:
    """A table with ``extract``'s key columns (window_id, source, window), in row groups of ``row_group``."""
    n, steps = windows.shape
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    offsets = pa.array(np.arange(0, (n + 1) * steps, steps, dtype=np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(windows.reshape(-1), type=pa.int8()))
    table = pa.table({"window_id": ids, "source": [f"piece{i // 7}.mid" for i in range(n)], "window": column})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group)
    return path

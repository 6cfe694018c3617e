"""The study at scale: a seeded analysis subset, and per-dimension numbers streamed over every window.

A corpus of millions of windows does not fit the per-window analyses (φ_K, correlations, LOESS, attribute
vectors, bootstrap, probes ...), whose cost grows with the number of windows, nor in memory as one μ and one σ
array (4 GB per million windows at z = 512, float32). So when a part studies more windows than
``StudyConfig.analysis_windows``:

* :func:`analysis_subset` draws the rows those analyses use: a uniform random subset of that size, without
  replacement, in corpus order, fixed by the study seed (its own generator, ``stage_rng(seed, "analysis")``);
* :func:`latent_stats` streams μ and σ of **every** studied window in chunks (from an ``encode`` folder,
  :func:`stored_chunks`, or by running the model, :func:`encoded_chunks`) and keeps only per-dimension sums
  (mean σ, mean and variance of μ: the music/noise split and the active units) and, per window, which
  dimensions it excites (|μ| above the threshold, one bit per dimension), from which
  :func:`excited_counts` gives Fig. 11's counts of every window once the split is known.

Memory: one chunk of μ and σ, plus ``z_size / 8 + 25`` bytes per window (the excitation bits, the window id
and the id lookup), 89 bytes at z = 512; the analysis subset is bounded by the cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from musicneurons.analysis.sampling import seeded_subset

if TYPE_CHECKING:
    from musicneurons.model.inference import TrainedModel

CHUNK = 8192  # windows per chunk when streaming latents


def analysis_subset(n: int, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Rows (sorted) of the windows the per-window analyses use: all ``n`` when ``cap`` is 0, None or at least
    ``n``; otherwise ``cap`` rows drawn uniformly without replacement by ``rng``
    (:func:`musicneurons.analysis.sampling.seeded_subset`, with 0 meaning no cap)."""
    return seeded_subset(n, cap or None, rng)


def stored_chunks(
    folder: str | Path, window_ids: np.ndarray, chunk: int = CHUNK
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(rows, mu, sigma)`` chunks of an ``encode`` latents folder, restricted to ``window_ids``.

    ``rows`` are positions in ``window_ids``; every id must occur exactly once in the folder (raises
    UserError naming the folder otherwise). Reads one record batch of ``chunk`` rows at a time.
    """
    import pyarrow.parquet as pq

    from musicneurons.errors import UserError

    folder = Path(folder)
    ids = np.asarray(window_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    seen = np.zeros(len(ids), dtype=bool)
    paths = sorted(folder.glob("part-*.parquet"))
    if not paths:
        msg = f"{folder}: no part-*.parquet latents here (write them with `musicneurons encode`)"
        raise UserError(msg)
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=chunk, columns=["window_id", "mu", "sigma"]
        ):
            batch_ids = batch.column("window_id").to_numpy()
            pos = np.minimum(np.searchsorted(sorted_ids, batch_ids), max(len(ids) - 1, 0))
            hit = sorted_ids[pos] == batch_ids if len(ids) else np.zeros(len(batch_ids), dtype=bool)
            if not hit.any():
                continue
            rows = order[pos[hit]]
            if seen[rows].any() or np.unique(rows).size != rows.size:
                msg = f"{folder}: a window_id occurs in more than one part (mixed jobs?)"
                raise UserError(msg)
            seen[rows] = True
            z_size = batch.schema.field("mu").type.list_size
            arrays = []
            for name in ("mu", "sigma"):
                values = batch.column(name).flatten().to_numpy(zero_copy_only=False)
                arrays.append(values.astype(np.float32, copy=False).reshape(-1, z_size)[hit])
            yield rows, arrays[0], arrays[1]
    if not seen.all():
        msg = f"{folder}: {int((~seen).sum())} of the {len(ids)} windows asked for have no latents here"
        raise UserError(msg)


def encoded_chunks(
    model: TrainedModel, windows: Iterable[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(rows, mu, sigma)`` chunks from ``(rows, windows)`` chunks (int8 (k, T)), encoded by ``model``."""
    for rows, chunk in windows:
        _, mu, sigma = model.encode(chunk, rng=rng)
        yield rows, mu, sigma


def latent_stats(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    window_ids: np.ndarray,
    *,
    threshold: float,
) -> dict[str, np.ndarray]:
    """Per-dimension numbers of every window from ``(rows, mu, sigma)`` chunks, and per-window excitation.

    Returns ``n`` (windows), ``mean_sigma``, ``mean_mu``, ``var_mu`` (population variance, float64, per
    dimension), ``excited`` (uint8 ``(n, ceil(z / 8))``: bit j of row i set when |μ_ij| > ``threshold``,
    :func:`numpy.packbits` order) and ``window_id`` (the ids, in row order). Means and variances are merged
    chunk by chunk (Chan et al.'s pairwise update), so they equal those of the whole arrays to rounding.
    """
    n = len(window_ids)
    count = 0
    mean_mu = mean_sigma = m2_mu = None
    excited = None
    for rows, mu, sigma in chunks:
        mu64, sigma64 = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
        k = len(rows)
        if k == 0:
            continue
        if excited is None:
            z_size = mu64.shape[1]
            excited = np.zeros((n, (z_size + 7) // 8), dtype=np.uint8)
            mean_mu, mean_sigma, m2_mu = np.zeros(z_size), np.zeros(z_size), np.zeros(z_size)
        excited[rows] = np.packbits(np.abs(mu) > threshold, axis=1)
        chunk_mean = mu64.mean(axis=0)
        chunk_m2 = ((mu64 - chunk_mean) ** 2).sum(axis=0)
        total = count + k
        delta = chunk_mean - mean_mu
        m2_mu += chunk_m2 + delta**2 * count * k / total
        mean_mu += delta * k / total
        mean_sigma += (sigma64.sum(axis=0) - k * mean_sigma) / total
        count = total
    if excited is None or count != n:
        msg = f"latents streamed for {count} windows, expected {n}"
        raise ValueError(msg)
    return {
        "n": np.array(n),
        "mean_sigma": mean_sigma,
        "mean_mu": mean_mu,
        "var_mu": m2_mu / n,
        "excited": excited,
        "window_id": np.asarray(window_ids),
    }


def excited_counts(excited: np.ndarray, is_music: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, ...]:
    """Per window, how many music and how many noise dimensions it excites, from :func:`latent_stats`'s
    ``excited`` bits and the split (``is_music`` per dimension, model order); one chunk unpacked at a time."""
    is_music = np.asarray(is_music, dtype=bool)
    music = np.empty(len(excited), dtype=np.int64)
    noise = np.empty(len(excited), dtype=np.int64)
    for start in range(0, len(excited), chunk):
        bits = np.unpackbits(excited[start : start + chunk], axis=1, count=len(is_music)).astype(bool)
        music[start : start + chunk] = bits[:, is_music].sum(axis=1)
        noise[start : start + chunk] = bits[:, ~is_music].sum(axis=1)
    return music, noise

"""Latent ablation: how well a model still reconstructs when only its k most specific dimensions keep mu.

The journal version of the paper (Barenboim et al., Neural Computing and Applications 2024) reports that
several hundred of MusicVAE's 512 latent dimensions can be set to zero with minimal loss of reconstruction
accuracy. :func:`ablation_curve` measures that curve for any model following the ``TrainedModel`` contract
(``musicneurons.model.inference``): z keeps mu on the first ``k`` dimensions of ``order`` (most specific
first, e.g. ``split_music_noise(sigma).order``) and is 0 (the prior mean) elsewhere, the decoder is run
teacher-forced on the same windows, and the step accuracy and reconstruction loss are recorded.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


class ReconstructingModel(Protocol):
    """The part of ``musicneurons.model.inference.TrainedModel`` that the ablation needs."""

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def reconstruct(
        self, windows: np.ndarray, z: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


def ablated_latents(mu: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Copy of ``mu`` (n, z_size) with every dimension outside ``order[:k]`` set to 0."""
    z = np.zeros_like(mu)
    keep = np.asarray(order[:k], dtype=np.int64)
    z[:, keep] = mu[:, keep]
    return z


def ablation_curve(
    model: ReconstructingModel,
    windows: object,
    order: object,
    *,
    ks: object | None = None,
    mu: object | None = None,
) -> pd.DataFrame:
    """Reconstruction accuracy when only the ``k`` most specific latent dimensions keep their mu.

    Parameters
    ----------
    model : TrainedModel (or any object with ``encode`` and ``reconstruct`` as in the contract)
        ``reconstruct(windows, z=z)`` must return ``(logits (n, T, 90), r_loss (n,))``.
    windows : ndarray of int8, shape (n_windows, T)
        90-class melody windows (0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = MIDI pitch k + 19).
    order : sequence of int, shape (z_size,)
        Latent dimensions, most specific first (``NeuronSplit.order``).
    ks : sequence of int, optional
        Numbers of kept dimensions to test, each in 0..z_size; default 1..z_size (one decoder pass over all
        windows per k, so pass a coarser grid for big corpora).
    mu : ndarray, shape (n_windows, z_size), optional
        Posterior means of ``windows``; computed with ``model.encode`` when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per k: ``k``, ``accuracy`` (fraction of steps whose argmax class equals the input class,
        teacher-forced), ``r_loss`` (mean over windows of the summed cross-entropy, in nats).
    """
    w = np.asarray(windows)
    if w.ndim != 2:
        msg = f"windows must have shape (n_windows, T), got {w.shape}"
        raise ValueError(msg)
    m = np.asarray(model.encode(w)[1] if mu is None else mu, dtype=np.float32)
    if m.shape[0] != w.shape[0]:
        msg = f"mu has {m.shape[0]} rows but there are {w.shape[0]} windows"
        raise ValueError(msg)
    z_size = m.shape[1]
    dims = np.asarray(order, dtype=np.int64).ravel()
    if sorted(dims.tolist()) != list(range(z_size)):
        msg = f"order must be a permutation of 0..{z_size - 1} (z_size {z_size}), got {dims.size} entries"
        raise ValueError(msg)
    k_values = np.arange(1, z_size + 1) if ks is None else np.asarray(ks, dtype=np.int64).ravel()
    if k_values.size and (k_values.min() < 0 or k_values.max() > z_size):
        msg = f"every k must be in 0..{z_size}, got {k_values.min()}..{k_values.max()}"
        raise ValueError(msg)
    targets = w.astype(np.int64)
    rows = []
    for k in k_values:
        logits, r_loss = model.reconstruct(w, z=ablated_latents(m, dims, int(k)))
        accuracy = float(np.mean(np.argmax(np.asarray(logits), axis=-1) == targets))
        rows.append({"k": int(k), "accuracy": accuracy, "r_loss": float(np.mean(r_loss))})
        log.debug("ablation k=%d: accuracy %.4f", k, accuracy)
    return pd.DataFrame(rows, columns=["k", "accuracy", "r_loss"])

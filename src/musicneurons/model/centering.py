"""Move the mean of the posterior to the origin: an exact reparametrisation of a trained MusicVAE.

A latent dimension that the decoder ignores should settle at the prior, mu = 0 and sigma = 1. With small
batches and a short CPU budget it can keep a constant offset instead (mean mu of 0.3-0.4 over every
window in our 16-bar run): the KL gradient that would remove it is tiny next to the noise of the
reconstruction gradient, so Adam moves it by ~1e-5 per step. A constant offset c carries no information
and can be removed exactly: subtract c from the ``mu`` layer's bias and add ``W_z @ c`` to the bias of
every decoder layer that reads z (the hierarchical decoder's conductor initial state; the flat decoder's
initial state and its first LSTM layer, whose input ends with z). The decoder then sees the same
numbers for every window, so reconstructions and sampled logits are unchanged (up to float rounding),
while the KL to N(0, I) can only fall.
"""

from __future__ import annotations

import numpy as np
import torch

from musicneurons.model.lstm import lstm_layers, lstm_parameters
from musicneurons.model.musicvae import HierarchicalLstmDecoder, MusicVAE

__all__ = ["center_latents", "fold_latent_offsets", "mean_mu"]


@torch.no_grad()
def mean_mu(model: MusicVAE, windows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Mean over ``windows`` (n, T) of the posterior mean mu, float64 (z_size,)."""
    model.eval()
    total = np.zeros(model.config.z_size, dtype=np.float64)
    for start in range(0, len(windows), batch_size):
        x = torch.from_numpy(np.asarray(windows[start : start + batch_size], dtype=np.int64))
        mu, _ = model.encode(x)
        total += mu.double().sum(dim=0).numpy()
    return total / max(len(windows), 1)


@torch.no_grad()
def fold_latent_offsets(model: MusicVAE, offsets: np.ndarray) -> None:
    """Shift the posterior mean by ``-offsets`` (z_size,) and compensate in the decoder, in place.

    After the call, ``encode`` gives ``mu - offsets`` and the decoder maps ``z - offsets`` to what it
    mapped ``z`` to before.
    """
    c = torch.as_tensor(np.asarray(offsets, dtype=np.float64))
    if c.shape != (model.config.z_size,):
        msg = f"offsets must have shape ({model.config.z_size},), got {tuple(c.shape)}"
        raise ValueError(msg)
    model.mu.bias.sub_(c.to(model.mu.bias.dtype))
    decoder = model.decoder
    if isinstance(decoder, HierarchicalLstmDecoder):
        _add_input_shift(decoder.conductor_initial_state.weight, decoder.conductor_initial_state.bias, c)
    else:  # the flat decoder
        core = decoder.core
        _add_input_shift(core.initial_state.weight, core.initial_state.bias, c)
        w_ih, _, b_ih, _ = lstm_parameters(lstm_layers(core.rnn.layers)[0])
        # the first layer's input is concat(one-hot previous class, z): z is the last z_size columns
        _add_input_shift(w_ih[:, core.num_classes :], b_ih, c)


def _add_input_shift(weight: torch.Tensor, bias: torch.Tensor, c: torch.Tensor) -> None:
    """bias += weight @ c (in float64, then rounded once): the layer now reads z - c as it read z."""
    bias.copy_((bias.double() + weight.double() @ c).to(bias.dtype))


def center_latents(model: MusicVAE, windows: np.ndarray) -> np.ndarray:
    """Fold the mean mu over ``windows`` (use the training windows) into the model; returns that mean."""
    offsets = mean_mu(model, windows)
    fold_latent_offsets(model, offsets)
    return offsets

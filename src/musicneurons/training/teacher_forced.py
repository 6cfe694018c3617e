"""The training step's teacher-forced decoder: the first decoder layer on :class:`LstmSequence`.

Same results as ``MusicVAE.decode_teacher_forced`` (to float rounding; tested in float64). The first decoder
layer reads [one-hot(previous class), cond], cond being z or a bar's conductor output, constant over the
sequence: here the one-hot part is a row lookup and cond is projected once per sequence, and only the
recurrence runs per step. The upper decoder layers (plain inputs) and the encoder keep ``nn.LSTM``'s fused
oneDNN kernel, which runs a recurrence about twice as fast per flop as per-step matmuls on the CPUs measured
(docs/training.md). The parameters are read by their names in the checkpoint format
(``decoder.core.rnn.layers.0.weight_ih_l0``...). Used in fp32 on the CPU without scheduled sampling
(the default presets); the loop takes the model's own path otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from musicneurons.model.lstm import lstm_layers, lstm_parameters
from musicneurons.model.musicvae import CategoricalLstmDecoder, FlatLstmDecoder, MusicVAE
from musicneurons.training.recurrence import LstmSequence


def _lstm(pre: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor) -> Tensor:
    """h (T, B, H) of one layer from its pre-activations (T, B, 4H) and initial (h, c), each (B, H)."""
    hs, _ = LstmSequence.apply(pre, state[0], state[1], w_hh)
    return hs


def categorical_teacher_forced(
    core: CategoricalLstmDecoder, cond: Tensor, targets: Tensor, first: Tensor | None
) -> Tensor:
    """Logits (N, T, C) of a ``CategoricalLstmDecoder`` fed the true previous class (``first`` at t = 0)."""
    n = targets.shape[0]
    classes = core.num_classes
    if first is None:
        first = torch.full((n,), classes, dtype=torch.long, device=targets.device)  # the zero input
    prev = torch.cat([first.long().unsqueeze(0), targets[:, :-1].long().t()])  # (T, N)
    state = core.rnn.split_state(torch.tanh(core.initial_state(cond)))
    layers = lstm_layers(core.rnn.layers)
    w_ih, w_hh, b_ih, b_hh = lstm_parameters(layers[0])
    table = torch.cat([w_ih[:, :classes].t(), w_ih.new_zeros(1, w_ih.shape[0])])  # row `classes`: zero input
    pre = F.embedding(prev, table) + F.linear(cond, w_ih[:, classes:], b_ih + b_hh)  # (T, N, 4H)
    out = _lstm(pre, state[0], w_hh).transpose(0, 1)  # (N, T, H)
    for layer, (h, c) in zip(layers[1:], state[1:], strict=True):  # plain inputs: nn.LSTM's fused kernel
        out, _ = layer(out, (h.unsqueeze(0), c.unsqueeze(0)))
    return core.output_projection(out)


def decode_teacher_forced(model: MusicVAE, z: Tensor, targets: Tensor) -> Tensor:
    """Decoder logits (B, T, C), the true previous class being the input at every step (teacher forcing)."""
    decoder = model.decoder
    if isinstance(decoder, FlatLstmDecoder):  # the model's config has no level_lengths
        return categorical_teacher_forced(decoder.core, z, targets, None)
    batch, steps = targets.shape
    spb = decoder.steps_per_bar
    n_bars = steps // spb
    if n_bars * spb != steps:
        msg = f"the hierarchical decoder needs a multiple of {spb} steps, got {steps}"
        raise ValueError(msg)
    e = decoder.conductor_outputs(z, n_bars).reshape(batch * n_bars, -1)
    first = torch.full((batch, n_bars), decoder.num_classes, dtype=torch.long, device=targets.device)
    first[:, 1:] = targets[:, spb - 1 : -1 : spb].long()  # bar i starts from the last class of bar i - 1
    logits = categorical_teacher_forced(
        decoder.core, e, targets.reshape(batch * n_bars, spb), first.reshape(-1)
    )
    return logits.reshape(batch, steps, -1)

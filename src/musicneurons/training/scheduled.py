"""The training step's decoder under scheduled sampling: a step loop without autograd, one backward pass.

With scheduled sampling (Magenta's ``ScheduledOutputTrainingHelper``) the decoder's input at step t + 1 is,
per example with probability p, a class sampled from its own softmax at step t, so the decoder runs step by
step. Recorded by autograd, each step costs a dozen small graph nodes per layer and, in the backward pass,
separate small matmuls for every weight gradient. :class:`ScheduledDecode` runs the same forward loop with
the same operations as ``CategoricalLstmDecoder`` (so the logits and the sampled classes are bit-identical to
the model's and the random draws are consumed in the same order), keeps what the backward pass needs, and
differentiates through time by hand: per step one matmul per layer, and every weight gradient as one matmul
over all steps at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from musicneurons.model.lstm import lstm_layers, lstm_parameters
from musicneurons.model.musicvae import CategoricalLstmDecoder, FlatLstmDecoder, MusicVAE

Choose = Callable[[int, Tensor], Tensor]  # (step t, logits_t (N, C)) -> the input classes of step t + 1, (N,)


def _cell(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(h, c, activations [sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)]) as the model's LSTM cell computes."""
    i, f, g, o = gates.chunk(4, dim=1)
    acts = torch.cat([torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)], dim=1)
    si, sf, tg, so = acts.chunk(4, dim=1)
    c = sf * c + si * tg
    h = so * torch.tanh(c)
    return h, c, acts


def _cell_backward(dh: Tensor, dc: Tensor, acts: Tensor, c_prev: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """Gradients on the gate pre-activations and on c_{t-1}, from those on h_t and c_t (dc: via c only)."""
    si, sf, tg, so = acts.chunk(4, dim=1)
    tanh_c = torch.tanh(c)
    dc = dc + dh * so * (1 - tanh_c * tanh_c)
    d_gates = torch.cat(
        [
            dc * tg * si * (1 - si),
            dc * c_prev * sf * (1 - sf),
            dc * si * (1 - tg * tg),
            dh * tanh_c * so * (1 - so),
        ],
        dim=1,
    )
    return d_gates, dc * sf


class ScheduledDecode(torch.autograd.Function):
    """Logits (T, N, C) of a stacked LSTM decoder whose next input is ``choose(t, logits_t)``, (N,) classes.

    ``first`` (N,): the input classes of step 0; ``steps``: T; ``n_layers``: the decoder's LSTM layers.
    Tensor inputs: ``cond_pre`` (N, 4H0) = cond's projection + layer 0's biases; ``table`` (C + 1, 4H0) =
    layer 0's one-hot weights (row C: the zero input); ``w_hh0`` (4H0, H0); per layer l >= 1 ``w_l``
    (4H_l, H_{l-1} + H_l) = [W_ih, W_hh] and ``b_l``; then ``w_out``, ``b_out``; then (h, c) per layer.
    """

    @staticmethod
    def forward(
        ctx: Any, first: Tensor, choose: Choose, steps: int, n_layers: int, *tensors: Tensor
    ) -> Tensor:
        cond_pre, table, w_hh0 = tensors[:3]
        upper = [(tensors[3 + 2 * k], tensors[4 + 2 * k]) for k in range(n_layers - 1)]
        w_out, b_out = tensors[2 * n_layers + 1 : 2 * n_layers + 3]
        init = tensors[2 * n_layers + 3 :]
        state = [(init[2 * k], init[2 * k + 1]) for k in range(n_layers)]
        hs = [[h] for h, _ in state]  # per layer: h_{-1}, h_0, ..., h_{T-1}
        cs = [[c] for _, c in state]
        acts: list[list[Tensor]] = [[] for _ in range(n_layers)]
        prevs, all_logits = [], []
        prev = first
        for t in range(steps):
            prevs.append(prev)
            gates = torch.addmm(cond_pre + table[prev], hs[0][-1], w_hh0.t())
            h, c, a = _cell(gates, cs[0][-1])
            hs[0].append(h)
            cs[0].append(c)
            acts[0].append(a)
            x = h
            for k, (w, b) in enumerate(upper, start=1):
                h, c, a = _cell(F.linear(torch.cat([x, hs[k][-1]], dim=1), w, b), cs[k][-1])
                hs[k].append(h)
                cs[k].append(c)
                acts[k].append(a)
                x = h
            logits = F.linear(x, w_out, b_out)
            all_logits.append(logits)
            prev = choose(t, logits)
        ctx.n_layers = n_layers
        ctx.n_classes = table.shape[0]
        saved = [torch.stack(prevs), w_hh0, w_out, *(w for w, _ in upper)]
        for k in range(n_layers):
            saved += [torch.stack(hs[k]), torch.stack(cs[k]), torch.stack(acts[k])]
        ctx.save_for_backward(*saved)
        return torch.stack(all_logits)

    @staticmethod
    def backward(ctx: Any, grad_logits: Tensor) -> tuple[Tensor | None, ...]:
        n_layers = ctx.n_layers
        prevs, w_hh0, w_out, *rest = ctx.saved_tensors
        w_upper = rest[: n_layers - 1]
        layers = [
            rest[n_layers - 1 + 3 * k : n_layers + 2 + 3 * k] for k in range(n_layers)
        ]  # (hs, cs, acts)
        steps, batch, _ = grad_logits.shape
        dh_top = grad_logits @ w_out  # (T, N, H_top): the output projection's share, all steps at once
        d_gates = [torch.empty_like(acts) for _, _, acts in layers]
        dh_next = [
            torch.zeros_like(hs[0]) for hs, _, _ in layers
        ]  # recurrent gradient on h_t from step t + 1
        dc_next = [torch.zeros_like(hs[0]) for hs, _, _ in layers]
        for t in range(steps - 1, -1, -1):
            dh_from_above = dh_top[t]
            for k in range(n_layers - 1, -1, -1):
                _, cs, acts = layers[k]
                dg, dc_next[k] = _cell_backward(
                    dh_from_above + dh_next[k], dc_next[k], acts[t], cs[t], cs[t + 1]
                )
                d_gates[k][t] = dg
                if k == 0:
                    dh_next[0] = dg @ w_hh0
                else:
                    d_in = dg @ w_upper[k - 1]  # [d x (layer k - 1's h_t), d h_{t-1} of layer k]
                    below = layers[k - 1][0].shape[-1]
                    dh_from_above, dh_next[k] = d_in[:, :below], d_in[:, below:]
        grads: list[Tensor | None] = [None, None, None, None]  # first, choose, steps, n_layers
        dg0 = d_gates[0]
        grads.append(dg0.sum(0))  # cond_pre
        d_table = dg0.new_zeros(ctx.n_classes, dg0.shape[-1])
        d_table.index_add_(0, prevs.reshape(-1), dg0.reshape(-1, dg0.shape[-1]))
        grads.append(d_table)
        flat = [dg.reshape(steps * batch, -1) for dg in d_gates]
        hs0 = layers[0][0]
        grads.append(flat[0].t() @ hs0[:-1].reshape(steps * batch, -1))  # w_hh0
        for k in range(1, n_layers):
            inputs = torch.cat([layers[k - 1][0][1:], layers[k][0][:-1]], dim=2).reshape(steps * batch, -1)
            grads += [flat[k].t() @ inputs, flat[k].sum(0)]  # w_k, b_k
        top = layers[-1][0][1:].reshape(steps * batch, -1)
        g_out = grad_logits.reshape(steps * batch, -1)
        grads += [g_out.t() @ top, g_out.sum(0)]
        for k in range(n_layers):  # the initial (h, c): what reached step -1
            grads += [dh_next[k], dc_next[k]]
        return tuple(grads)


def _choose(use_sample: Tensor, targets: Tensor, generator: torch.Generator | None) -> Choose:
    """The model's scheduled-sampling choice: per example, a temperature-1 sample (Gumbel-max, the model's
    draws in the model's order) where ``use_sample[:, t]``, else the true class ``targets[:, t]``."""
    tiny = torch.finfo(torch.float32).tiny

    def choose(t: int, logits: Tensor) -> Tensor:
        u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=torch.float32)
        gumbel = -torch.log(-torch.log(u.clamp_min(tiny)))
        sampled = (logits.float() / 1.0 + gumbel).argmax(dim=-1)
        return torch.where(use_sample[:, t], sampled, targets[:, t].long())

    return choose


def _categorical(
    core: CategoricalLstmDecoder,
    cond: Tensor,
    targets: Tensor,
    p: float,
    generator: torch.Generator | None,
    first: Tensor | None,
) -> Tensor:
    """``CategoricalLstmDecoder.teacher_forced`` with sampling probability p > 0: logits (N, T, C)."""
    from musicneurons.training.teacher_forced import categorical_teacher_forced

    n, steps = targets.shape
    u = torch.rand((n, steps), generator=generator, device=targets.device)
    use_sample = u < p  # [:, t] decides the input of step t + 1
    if steps < 2 or not bool(use_sample[:, :-1].any()):
        return categorical_teacher_forced(core, cond, targets, first)
    classes = core.num_classes
    if first is None:
        first = torch.full((n,), classes, dtype=torch.long, device=targets.device)
    layers = lstm_layers(core.rnn.layers)
    w_ih, w_hh, b_ih, b_hh = lstm_parameters(layers[0])
    table = torch.cat([w_ih[:, :classes].t(), w_ih.new_zeros(1, w_ih.shape[0])])
    cond_pre = F.linear(cond, w_ih[:, classes:], b_ih + b_hh)
    tensors = [cond_pre, table, w_hh]
    for layer in layers[1:]:
        w_ih, w_hh, b_ih, b_hh = lstm_parameters(layer)
        tensors += [torch.cat([w_ih, w_hh], dim=1), b_ih + b_hh]
    tensors += [core.output_projection.weight, core.output_projection.bias]
    for h, c in core.rnn.split_state(torch.tanh(core.initial_state(cond))):
        tensors += [h, c]
    choose = _choose(use_sample, targets, generator)
    logits = ScheduledDecode.apply(first.long(), choose, steps, len(layers), *tensors)
    return logits.transpose(0, 1)


def decode_scheduled(
    model: MusicVAE, z: Tensor, targets: Tensor, p: float, generator: torch.Generator | None
) -> Tensor:
    """``MusicVAE.decode_teacher_forced(z, targets, p, generator)`` for p > 0, fp32: logits (B, T, C)."""
    decoder = model.decoder
    if isinstance(decoder, FlatLstmDecoder):  # the model's config has no level_lengths
        return _categorical(decoder.core, z, targets, p, generator, None)
    batch, steps = targets.shape
    spb = decoder.steps_per_bar
    n_bars = steps // spb
    e = decoder.conductor_outputs(z, n_bars).reshape(batch * n_bars, -1)
    first = torch.full((batch, n_bars), decoder.num_classes, dtype=torch.long, device=targets.device)
    first[:, 1:] = targets[:, spb - 1 : -1 : spb].long()
    logits = _categorical(
        decoder.core, e, targets.reshape(batch * n_bars, spb), p, generator, first.reshape(-1)
    )
    return logits.reshape(batch, steps, -1)

"""LSTM building blocks of the MusicVAE: the stacked LSTM, its one-matmul-per-step form for decoding, the
autocast path for ``nn.LSTM`` and the cache of weights prepared for inference (bf16 casts, concatenations).

Numerics only; ``musicvae.py`` assembles the encoder and decoders from these. Gate order is PyTorch's
(i, f, g, o); ``convert.py`` reorders TF's (i, j, f, o) once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

T = TypeVar("T")


def glorot_uniform_(tensor: Tensor, fan_in: int, fan_out: int, generator: torch.Generator | None) -> None:
    """Fill ``tensor`` from U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (TF's glorot_uniform)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        tensor.uniform_(-limit, limit, generator=generator)


def lstm_cell(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM update from pre-activations in PyTorch gate order (i, f, g, o); returns (h, c)."""
    gates = gates.to(c.dtype)  # bf16 matmul outputs: keep the cell state in the state's precision
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def full_precision(t: Tensor) -> Tensor:
    """Undo autocast's half precision (bf16/fp16 -> fp32) for states and logits; fp32 and fp64 pass
    through."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def compute_dtype(device: torch.device, param_dtype: torch.dtype) -> torch.dtype:
    """The dtype matmuls run in: the autocast dtype inside ``torch.autocast``, else the parameters' dtype."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return param_dtype


def lstm_layers(modules: nn.ModuleList) -> list[nn.LSTM]:
    """The one-layer ``nn.LSTM`` s held in a ModuleList, typed as such."""
    return [cast(nn.LSTM, m) for m in modules]


def lstm_parameters(layer: nn.LSTM, suffix: str = "l0") -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(weight_ih, weight_hh, bias_ih, bias_hh) of one direction (``l0``, ``l0_reverse``) of an LSTM layer."""
    names = (f"weight_ih_{suffix}", f"weight_hh_{suffix}", f"bias_ih_{suffix}", f"bias_hh_{suffix}")
    w_ih, w_hh, b_ih, b_hh = (cast(Tensor, getattr(layer, name)) for name in names)
    return w_ih, w_hh, b_ih, b_hh


def _weights_version(module: nn.Module) -> tuple[tuple[int, int, str], ...]:
    """Changes whenever a parameter changes: in place (optimizer step, ``load_state_dict``, centering) through
    its version counter, or replaced or moved (``.to()``) through its storage address."""
    return tuple((p.data_ptr(), p._version, str(p.device)) for p in module.parameters())


def prepared(owner: nn.Module, tag: Hashable, build: Callable[[], T]) -> T:
    """``build()`` once per ``owner``, ``tag`` and version of ``owner``'s parameters, then reused.

    For weights derived from the parameters (cast to bf16, concatenated, transposed): inference calls share
    them instead of redoing the work each call. Under autograd nothing is cached (the derivation must be part
    of each step's graph). The cache lives in the module's ``__dict__`` (not in its ``state_dict``) and holds
    one entry per tag: a change of weights replaces it.
    """
    if torch.is_grad_enabled():
        return build()
    key = (tag, torch.is_inference_mode_enabled())
    version = _weights_version(owner)
    cache: dict[Hashable, tuple[Any, Any]] = owner.__dict__.setdefault("_prepared_weights", {})
    hit = cache.get(key)
    if hit is not None and hit[0] == version:
        return cast(T, hit[1])
    value = build()
    cache[key] = (version, value)
    return value


def clear_prepared(module: nn.Module) -> None:
    """Drop every weight prepared by :func:`prepared` in ``module`` and its submodules (to free the memory, or
    to time the unprepared path)."""
    for sub in module.modules():
        sub.__dict__.pop("_prepared_weights", None)


def run_lstm(
    layer: nn.LSTM, x: Any, hx: tuple[Tensor, Tensor] | None = None
) -> tuple[Any, tuple[Tensor, Tensor]]:
    """``layer(x, hx)``, also inside ``torch.autocast``: PyTorch's CPU autocast cannot run ``nn.LSTM`` (oneDNN
    rejects fp32 weights with bf16 inputs), so there the weights and inputs are cast to the autocast dtype and
    the layer runs with autocast off. Gradients still flow to the fp32 parameters; outside autograd the cast
    weights are prepared once and reused (:func:`prepared`).
    """
    device_type = lstm_parameters(layer)[0].device.type
    if not torch.is_autocast_enabled(device_type):
        return cast(tuple[Any, tuple[Tensor, Tensor]], layer(x, hx))
    dtype = torch.get_autocast_dtype(device_type)
    with torch.autocast(device_type, enabled=False):
        params = prepared(
            layer, ("cast", dtype), lambda: {n: p.to(dtype) for n, p in layer.named_parameters()}
        )
        x = x.to(dtype)
        if hx is not None:
            hx = (hx[0].to(dtype), hx[1].to(dtype))
        out = torch.func.functional_call(layer, params, (x, hx))
        return cast(tuple[Any, tuple[Tensor, Tensor]], out)


State = list[tuple[Tensor, Tensor]]  # per layer (h, c), each (B, H)


class LstmStack(nn.Module):
    """Stacked unidirectional LSTM layers (Magenta's ``MultiRNNCell`` of ``LSTMBlockCell``).

    Layer l + 1 reads layer l's h. Each layer is a one-layer ``nn.LSTM`` so layer sizes may differ; whole
    sequences run through the fused ``nn.LSTM`` kernels, single steps through :class:`FusedSteps` with one
    matmul per layer.
    """

    def __init__(self, input_size: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_sizes = hidden_sizes
        sizes = (input_size, *hidden_sizes)
        self.layers = nn.ModuleList(
            nn.LSTM(sizes[k], sizes[k + 1], batch_first=True) for k in range(len(hidden_sizes))
        )

    @property
    def state_size(self) -> int:
        """Width of the flattened state [c0, h0, c1, h1, ...]."""
        return 2 * sum(self.hidden_sizes)

    def split_state(self, flat: Tensor) -> State:
        """Split (B, state_size) in Magenta's order [c0, h0, c1, h1, ...] into per-layer (h, c)."""
        state: State = []
        start = 0
        for size in self.hidden_sizes:
            c = flat[:, start : start + size]
            h = flat[:, start + size : start + 2 * size]
            state.append((h.contiguous(), c.contiguous()))
            start += 2 * size
        return state

    def forward(self, x: Tensor, state: State) -> Tensor:
        """Run a whole sequence x (B, T, input_size) from ``state``; returns the top layer's h, (B, T,
        H_top)."""
        out = x
        for layer, (h, c) in zip(lstm_layers(self.layers), state, strict=True):
            out, _ = run_lstm(layer, out, (h.unsqueeze(0).to(out.dtype), c.unsqueeze(0).to(out.dtype)))
        return out

    def reset_parameters_magenta(self, generator: torch.Generator | None = None) -> None:
        """Magenta's initialisation: glorot-uniform over the TF kernel [in + H, 4H], zero bias, forget bias
        1."""
        for layer in lstm_layers(self.layers):
            reset_lstm_magenta(layer, "l0", generator)


def reset_lstm_magenta(layer: nn.LSTM, suffix: str, generator: torch.Generator | None) -> None:
    """Magenta's initialisation of one LSTM direction: glorot-uniform over the TF kernel [in + H, 4H], zero
    bias, forget bias 1 (``LSTMBlockCell``'s ``forget_bias=1.0``, folded into ``bias_ih``)."""
    w_ih, w_hh, b_ih, b_hh = lstm_parameters(layer, suffix)
    hs = layer.hidden_size
    fan_in, fan_out = layer.input_size + hs, 4 * hs
    glorot_uniform_(w_ih, fan_in, fan_out, generator)
    glorot_uniform_(w_hh, fan_in, fan_out, generator)
    with torch.no_grad():
        b_ih.zero_()
        b_hh.zero_()
        b_ih[hs : 2 * hs] = 1.0


class FusedSteps:
    """Weights for step-by-step decoding, one matmul per layer per step (built once per model, dtype and
    weights version through :func:`prepared`).

    Layer 0's input is [one-hot(prev class), cond]: the cond part is constant over a sequence, so it is
    projected once per sequence (:meth:`project`), and the one-hot part is a row lookup (row ``num_classes``
    is the zero start input). Layers above read [h_below, h_own] against ``cat(weight_ih, weight_hh)``; the
    output projection maps the top h to logits.
    """

    def __init__(self, stack: LstmStack, num_classes: int, dtype: torch.dtype, projection: nn.Linear) -> None:
        first, *rest = (lstm_parameters(layer) for layer in lstm_layers(stack.layers))
        w_ih, w_hh, b_ih, b_hh = first
        table = w_ih[:, :num_classes].t()  # (num_classes, 4H): one-hot @ W^T is a row lookup
        self.table = torch.cat([table, table.new_zeros(1, table.shape[1])]).to(dtype)
        self.w_cond = w_ih[:, num_classes:].to(dtype)
        self.bias0 = (b_ih + b_hh).to(dtype)
        self.w_hh0 = w_hh.to(dtype)
        self.upper = [
            (torch.cat([w_ih_l, w_hh_l], dim=1).to(dtype), (b_ih_l + b_hh_l).to(dtype))
            for w_ih_l, w_hh_l, b_ih_l, b_hh_l in rest
        ]
        self.w_out = projection.weight.to(dtype)
        self.b_out = projection.bias.to(dtype)
        self.dtype = dtype

    def output(self, top: Tensor) -> Tensor:
        """Logits (B, C) in the compute dtype from the top layer's h (B, H)."""
        return F.linear(top.to(self.dtype), self.w_out, self.b_out)

    def project(self, cond: Tensor) -> Tensor:
        """Layer 0's constant pre-activation from cond (B, cond_size), bias included: (B, 4H)."""
        return F.linear(cond.to(self.dtype), self.w_cond, self.bias0)

    def step(self, prev: Tensor, state: State, cond_pre: Tensor) -> tuple[Tensor, State]:
        """Advance every layer by one step; ``prev`` (B,) holds class indices (``num_classes`` = zero
        input)."""
        h, c = state[0]
        gates = torch.addmm(cond_pre + self.table[prev], h.to(self.dtype), self.w_hh0.t())
        h, c = lstm_cell(gates, c)
        new_state = [(h, c)]
        x = h
        for (w, b), (h_l, c_l) in zip(self.upper, state[1:], strict=True):
            gates = F.linear(torch.cat([x, h_l], dim=1).to(self.dtype), w, b)
            h_l, c_l = lstm_cell(gates, c_l)
            new_state.append((h_l, c_l))
            x = h_l
        return x, new_state


def sample_classes(logits: Tensor, temperature: float, generator: torch.Generator | None) -> Tensor:
    """Draw one class per row from softmax(logits / temperature) (Gumbel-max); temperature 0 means argmax."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=torch.float32)
    gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(torch.float32).tiny)))
    return (logits.float() / temperature + gumbel).argmax(dim=-1)

"""MusicVAE (Roberts et al., ICML 2018) in PyTorch, with the exact semantics of Magenta's TensorFlow model.

The model, no I/O: every module from the encoder and decoders up to :class:`MusicVAE`. Its architecture is a
:class:`~musicneurons.model.config.MusicVAEConfig` (Magenta's presets in ``registry.py``); the LSTM stack and
its fast paths are in ``lstm.py``. Weights from Magenta checkpoints are mapped onto these modules by
``convert.py``; this file knows nothing about TensorFlow names.

Data layout. A melody window is a LongTensor ``(B, T)`` of 90-class indices (0 = NO_EVENT, 1 = NOTE_OFF, k >=
2 = MIDI pitch k + 19). The encoder reads its one-hot form; the decoder's input at step t is the one-hot of
class t - 1 (a zero vector at t = 0), concatenated with z (flat decoder) or with the bar's conductor output
(hierarchical decoder).

LSTM parameters are stored in PyTorch's layout (``nn.LSTM``: gate order i, f, g, o) with Magenta's constant
``forget_bias=1.0`` folded into ``bias_ih`` (``convert.py`` reorders TF's i, j, f, o gates once). States
follow Magenta's ``z_to_initial_state`` layout ``tanh(Dense(z))`` split as [c0, h0, c1, h1, ...]
(magenta/models/music_vae/lstm_utils.py ``initial_cell_state_from_embedding``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from musicneurons.model.config import MusicVAEConfig
from musicneurons.model.lstm import (
    FusedSteps,
    LstmStack,
    State,
    compute_dtype,
    full_precision,
    glorot_uniform_,
    lstm_layers,
    lstm_parameters,
    prepared,
    reset_lstm_magenta,
    run_lstm,
    sample_classes,
)
from musicneurons.model.registry import PRESETS

# the architecture and its presets are read with the model
__all__ = [
    "PRESETS",
    "BidirectionalLstmEncoder",
    "CategoricalLstmDecoder",
    "FlatLstmDecoder",
    "HierarchicalLstmDecoder",
    "MusicVAE",
    "MusicVAEConfig",
    "reconstruction_loss",
]


# --------------------------------------------------------------------------- encoder


class BidirectionalLstmEncoder(nn.Module):
    """Magenta's ``BidirectionalLstmEncoder``: stacked bidirectional LSTM over the one-hot window.

    The output is concat(h_fw_final, h_bw_final) of the last layer (h only, never c), where the backward
    direction reads each sequence from its own last valid step back to step 0.
    """

    def __init__(self, num_classes: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.num_classes = num_classes
        sizes = (num_classes, *(2 * h for h in hidden_sizes))
        self.layers = nn.ModuleList(
            nn.LSTM(sizes[k], hidden_sizes[k], batch_first=True, bidirectional=True)
            for k in range(len(hidden_sizes))
        )

    @property
    def output_size(self) -> int:
        return 2 * lstm_layers(self.layers)[-1].hidden_size

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Encoder output (B, 2 * H_last) of class indices x (B, T); ``lengths`` (B,) limits each sequence."""
        batch, steps = x.shape
        layers = lstm_layers(self.layers)
        dtype = lstm_parameters(layers[0])[0].dtype
        onehot = F.one_hot(x.long(), self.num_classes).to(dtype)  # (B, T, C)
        if lengths is not None:
            lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()
            if lengths.shape != (batch,) or int(lengths.min()) < 1 or int(lengths.max()) > steps:
                msg = f"lengths must be (B,) = ({batch},) with values in 1..{steps}, got {lengths.tolist()}"
                raise ValueError(msg)
            if int(lengths.min()) == steps:
                lengths = None  # all full length: the unpacked path is faster and identical
        out: Tensor | nn.utils.rnn.PackedSequence = onehot
        if lengths is not None:
            out = nn.utils.rnn.pack_padded_sequence(onehot, lengths, batch_first=True, enforce_sorted=False)
        for layer in layers:
            out, (h_n, _) = run_lstm(layer, out)
        # h_n: (2, B, H) = final fw state (after step len-1), final bw state (after step 0)
        return torch.cat([h_n[0], h_n[1]], dim=-1)

    def reset_parameters_magenta(self, generator: torch.Generator | None = None) -> None:
        """Glorot-uniform kernels, zero biases plus forget bias 1 (as Magenta's ``LSTMBlockCell``)."""
        for layer in lstm_layers(self.layers):
            for suffix in ("l0", "l0_reverse"):
                reset_lstm_magenta(layer, suffix, generator)


# --------------------------------------------------------------------------- decoders


def _previous_classes(targets: Tensor, first: Tensor | None, zero_class: int) -> Tensor:
    """Input classes for teacher forcing: targets shifted right by one, ``first`` (or the zero input) at t =
    0."""
    if first is None:
        first = torch.full_like(targets[:, 0], zero_class)
    return torch.cat([first.long().unsqueeze(1), targets[:, :-1].long()], dim=1)


def _onehot_or_zero(classes: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """One-hot (..., num_classes) of class indices, where index ``num_classes`` gives the zero vector."""
    return F.one_hot(classes, num_classes + 1)[..., :num_classes].to(dtype)


class CategoricalLstmDecoder(nn.Module):
    """Magenta's ``CategoricalLstmDecoder`` conditioned on a vector ``cond`` (z, or a conductor output).

    Initial state = split(tanh(initial_state(cond))); input at each step = concat(one-hot(prev class), cond);
    logits = output_projection(h_top). Start inputs are class indices where ``num_classes`` means the zero
    vector.
    """

    def __init__(self, num_classes: int, cond_size: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.rnn = LstmStack(num_classes + cond_size, hidden_sizes)
        self.initial_state = nn.Linear(cond_size, self.rnn.state_size)
        self.output_projection = nn.Linear(hidden_sizes[-1], num_classes)

    def _state(self, cond: Tensor) -> State:
        return self.rnn.split_state(full_precision(torch.tanh(self.initial_state(cond))))

    def teacher_forced(
        self,
        cond: Tensor,
        targets: Tensor,
        sampling_probability: float = 0.0,
        generator: torch.Generator | None = None,
        first: Tensor | None = None,
    ) -> Tensor:
        """Logits (N, T, C) for targets (N, T), the true previous class being the input (``first`` at t = 0).

        With ``sampling_probability`` p > 0, each example's input for step t + 1 is, with probability p, a
        class sampled from the model's own softmax at step t (temperature 1) instead of targets[:, t]
        (Magenta's ``ScheduledOutputTrainingHelper``). The draws come from ``generator``.
        """
        n, steps = targets.shape
        if not 0.0 <= sampling_probability <= 1.0:
            msg = f"sampling_probability must be in [0, 1], got {sampling_probability}"
            raise ValueError(msg)
        use_sample = None
        if sampling_probability > 0 and steps > 1:
            u = torch.rand((n, steps), generator=generator, device=targets.device)
            use_sample = u < sampling_probability  # [:, t] decides the input of step t + 1
            if not bool(use_sample[:, :-1].any()):
                use_sample = None  # nothing sampled: the fused whole-sequence path gives the same logits
        if use_sample is None:
            dtype = self.initial_state.weight.dtype
            prev = _previous_classes(targets, first, self.num_classes)
            x = _onehot_or_zero(prev, self.num_classes, dtype)
            x = torch.cat([x, cond.unsqueeze(1).expand(n, steps, cond.shape[-1]).to(dtype)], dim=-1)
            return self.output_projection(self.rnn(x, self._state(cond)))

        def choose(t: int, logits: Tensor) -> Tensor:
            sampled = sample_classes(logits.detach(), 1.0, generator)
            return torch.where(use_sample[:, t], sampled, targets[:, t].long())

        logits, _ = self._run_steps(cond, steps, first, choose)
        return logits

    def sample(
        self,
        cond: Tensor,
        length: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        first: Tensor | None = None,
        fused: FusedSteps | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Free-running decode: (classes (N, length), logits (N, length, C)); ``first`` (N,) = start class.

        ``fused`` (from :meth:`prepare_steps`) lets repeated calls share the prepared weights.
        """

        def choose(t: int, logits: Tensor) -> Tensor:
            return sample_classes(logits, temperature, generator)

        logits, classes = self._run_steps(cond, length, first, choose, fused)
        return classes, logits

    def prepare_steps(self, device: torch.device) -> FusedSteps:
        """Weights for step-by-step decoding in the compute dtype (the autocast dtype inside autocast), output
        projection included; prepared once and reused until the weights change (outside autograd)."""
        dtype = compute_dtype(device, self.initial_state.weight.dtype)
        return prepared(
            self,
            ("steps", dtype),
            lambda: FusedSteps(self.rnn, self.num_classes, dtype, self.output_projection),
        )

    def _run_steps(
        self, cond: Tensor, steps: int, first: Tensor | None, choose: Any, fused: FusedSteps | None = None
    ) -> tuple[Tensor, Tensor]:
        """Step loop shared by sampling and scheduled sampling; ``choose(t, logits_t)`` gives the next
        input."""
        n = cond.shape[0]
        fused = self.prepare_steps(cond.device) if fused is None else fused
        cond_pre = fused.project(cond)
        state = self._state(cond)
        if first is None:
            prev = torch.full((n,), self.num_classes, dtype=torch.long, device=cond.device)
        else:
            prev = first.long().to(cond.device)
        all_logits, all_classes = [], []
        for t in range(steps):
            top, state = fused.step(prev, state, cond_pre)
            logits = full_precision(fused.output(top))
            prev = choose(t, logits)
            all_logits.append(logits)
            all_classes.append(prev)
        return torch.stack(all_logits, dim=1), torch.stack(all_classes, dim=1)

    def reset_parameters_magenta(self, generator: torch.Generator | None = None) -> None:
        """Glorot-uniform kernels and zero biases, as Magenta's default-initialised layers."""
        self.rnn.reset_parameters_magenta(generator)
        for dense in (self.initial_state, self.output_projection):
            glorot_uniform_(dense.weight, dense.in_features, dense.out_features, generator)
            with torch.no_grad():
                dense.bias.zero_()


class HierarchicalLstmDecoder(nn.Module):
    """Magenta's ``HierarchicalLstmDecoder`` with two levels and ``disable_autoregression=True``.

    A conductor LSTM, started from split(tanh(conductor_initial_state(z))) and fed a constant 1-wide zero
    input, emits one embedding e_i per bar. Bar i is decoded by the core :class:`CategoricalLstmDecoder`
    conditioned on e_i alone (state reset from e_i every bar); its first input is the last class of bar i - 1
    (zero for bar 0).
    """

    def __init__(
        self, num_classes: int, z_size: int, hidden_sizes: tuple[int, ...], level_lengths: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.level_lengths = level_lengths
        self.conductor = LstmStack(1, hidden_sizes)
        self.conductor_initial_state = nn.Linear(z_size, self.conductor.state_size)
        self.core = CategoricalLstmDecoder(num_classes, hidden_sizes[-1], hidden_sizes)

    @property
    def steps_per_bar(self) -> int:
        return self.level_lengths[-1]

    def conductor_outputs(self, z: Tensor, n_bars: int) -> Tensor:
        """Bar embeddings (B, n_bars, H) from z (B, Z): the conductor never sees the decoded notes."""
        state = self.conductor.split_state(full_precision(torch.tanh(self.conductor_initial_state(z))))
        dtype = self.conductor_initial_state.weight.dtype
        zeros = torch.zeros(z.shape[0], n_bars, 1, dtype=dtype, device=z.device)
        return self.conductor(zeros, state)

    def _n_bars(self, steps: int) -> int:
        if steps % self.steps_per_bar or steps == 0:
            msg = f"the hierarchical decoder needs a multiple of {self.steps_per_bar} steps, got {steps}"
            raise ValueError(msg)
        return steps // self.steps_per_bar

    def teacher_forced(
        self,
        z: Tensor,
        targets: Tensor,
        sampling_probability: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Logits (B, T, C). The bars run as one batch of B * n_bars sequences: bar i starts from e_i and from
        the true last class of bar i - 1 (the zero input for bar 0), exactly Magenta's per-bar teacher
        forcing.
        """
        batch, steps = targets.shape
        n_bars = self._n_bars(steps)
        spb = self.steps_per_bar
        e = self.conductor_outputs(z, n_bars).reshape(batch * n_bars, -1)
        first = torch.full((batch, n_bars), self.num_classes, dtype=torch.long, device=targets.device)
        first[:, 1:] = targets[:, spb - 1 : -1 : spb].long()
        logits = self.core.teacher_forced(
            e, targets.reshape(batch * n_bars, spb), sampling_probability, generator, first=first.reshape(-1)
        )
        return logits.reshape(batch, steps, self.num_classes)

    def sample(
        self, z: Tensor, length: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Bar by bar: bar i starts from the last sampled class of bar i - 1."""
        n_bars = self._n_bars(length)
        e = self.conductor_outputs(z, n_bars)
        fused = self.core.prepare_steps(z.device)  # once for all bars
        first = None
        classes, logits = [], []
        for i in range(n_bars):
            bar_classes, bar_logits = self.core.sample(
                e[:, i], self.steps_per_bar, temperature, generator, first=first, fused=fused
            )
            classes.append(bar_classes)
            logits.append(bar_logits)
            first = bar_classes[:, -1]
        return torch.cat(classes, dim=1), torch.cat(logits, dim=1)

    def reset_parameters_magenta(self, generator: torch.Generator | None = None) -> None:
        """Glorot-uniform kernels and zero biases (forget bias 1 in the LSTMs), as Magenta initialises
        them."""
        self.conductor.reset_parameters_magenta(generator)
        dense = self.conductor_initial_state
        glorot_uniform_(dense.weight, dense.in_features, dense.out_features, generator)
        with torch.no_grad():
            dense.bias.zero_()
        self.core.reset_parameters_magenta(generator)


class FlatLstmDecoder(nn.Module):
    """Magenta's flat ``CategoricalLstmDecoder`` conditioned on z (wraps the generic decoder with cond =
    z)."""

    def __init__(self, num_classes: int, z_size: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.core = CategoricalLstmDecoder(num_classes, z_size, hidden_sizes)

    def teacher_forced(
        self,
        z: Tensor,
        targets: Tensor,
        sampling_probability: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        return self.core.teacher_forced(z, targets, sampling_probability, generator)

    def sample(
        self, z: Tensor, length: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        return self.core.sample(z, length, temperature, generator)

    def reset_parameters_magenta(self, generator: torch.Generator | None = None) -> None:
        self.core.reset_parameters_magenta(generator)


# --------------------------------------------------------------------------- the model


class MusicVAE(nn.Module):
    """MusicVAE: bidirectional LSTM encoder -> (mu, sigma) -> flat or hierarchical categorical LSTM decoder.

    Parameters ---------- config : MusicVAEConfig
        Architecture.
    generator : torch.Generator, optional
        Source of the initial random weights (Magenta's initialisers: glorot-uniform kernels, N(0, 0.001) for
        ``mu`` and ``sigma``, zero biases, LSTM forget bias 1). Ignored when weights are loaded afterwards.

    Examples --------
    >>> model = MusicVAE(MusicVAEConfig(z_size=8, enc_rnn_size=(16,), dec_rnn_size=(16,), max_seq_len=32))
    >>> x = torch.zeros(2, 32, dtype=torch.long)
    >>> mu, sigma = model.encode(x)
    >>> model.decode_teacher_forced(mu, x).shape
    torch.Size([2, 32, 90])
    """

    def __init__(self, config: MusicVAEConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = BidirectionalLstmEncoder(config.num_classes, config.enc_rnn_size)
        self.mu = nn.Linear(self.encoder.output_size, config.z_size)
        self.sigma = nn.Linear(self.encoder.output_size, config.z_size)
        if config.level_lengths is None:
            self.decoder: FlatLstmDecoder | HierarchicalLstmDecoder = FlatLstmDecoder(
                config.num_classes, config.z_size, config.dec_rnn_size
            )
        else:
            self.decoder = HierarchicalLstmDecoder(
                config.num_classes, config.z_size, config.dec_rnn_size, config.level_lengths
            )
        if not self.mu.weight.is_meta:  # on the meta device (shapes only) there is nothing to initialise
            self.reset_parameters_magenta(generator)

    def reset_parameters_magenta(self, generator: torch.Generator | None = None) -> None:
        """Re-initialise every weight the way Magenta's graph does (see the class docstring)."""
        self.encoder.reset_parameters_magenta(generator)
        for dense in (self.mu, self.sigma):
            with torch.no_grad():
                dense.weight.normal_(0.0, 0.001, generator=generator)
                dense.bias.zero_()
        self.decoder.reset_parameters_magenta(generator)

    def encoder_output(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """concat(h_fw_final, h_bw_final) of the last encoder layer, (B, 2 * H_last): the input of mu and
        sigma."""
        return self.encoder(x, lengths)

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Posterior (mu, sigma), each (B, z_size), of class indices x (B, T); sigma = softplus(Dense(h)).

        ``lengths`` (B,) makes the encoder read only the first ``lengths[b]`` steps of row b.
        """
        h = self.encoder(x, lengths)
        return self.mu(h), F.softplus(self.sigma(h))

    def decode_teacher_forced(
        self,
        z: Tensor,
        targets: Tensor,
        sampling_probability: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Decoder logits (B, T, 90) with the true previous class as input at every step.

        ``sampling_probability`` p: per example and step, with probability p the next input is instead a class
        sampled (temperature 1) from the model's own softmax, as Magenta's scheduled sampling. ``generator``
        drives those draws and must live on the model's device.
        """
        return self.decoder.teacher_forced(z, targets, sampling_probability, generator)

    def sample(
        self, z: Tensor, length: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Free-running decode of z (B, Z): (classes LongTensor (B, length), logits (B, length, 90)).

        Each step draws from softmax(logits / temperature) and feeds the draw back; ``temperature=0`` takes
        the argmax. Logits are returned before the temperature is applied.
        """
        if length < 1:
            msg = f"length must be >= 1, got {length}"
            raise ValueError(msg)
        return self.decoder.sample(z, length, temperature, generator)


def reconstruction_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Magenta's r_loss: softmax cross-entropy summed over steps, (B,), from logits (B, T, C) and targets (B,
    T)."""
    ce = F.cross_entropy(full_precision(logits).transpose(1, 2), targets.long(), reduction="none")  # (B, T)
    return ce.sum(dim=1)

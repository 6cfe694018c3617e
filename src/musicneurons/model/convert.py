"""Magenta MusicVAE TensorFlow checkpoint -> :class:`MusicVAE` weights, through one explicit table.

:func:`conversion_table` lists, for a config, every (TF variable, state-dict key, transform, TF shape) row;
:func:`convert_state` applies it strictly: every state-dict key must be filled, every TF variable except the
training bookkeeping (``global_step``, ``beta1_power``, ``beta2_power``, ``*/Adam``, ``*/Adam_1``) must be
used, and every shape must match, otherwise :class:`CheckpointMismatchError` names the tensors and both
shapes.

TF conventions handled here (shared/docs/magenta_facts.md sections 3-5):

- Dense kernels are [in, out]; ``nn.Linear.weight`` is [out, in] (transpose).
- ``LSTMBlockCell`` kernels are [in + H, 4H] with gate blocks (i, j, f, o), rows [:in] for x and [in:] for h;
  PyTorch wants weight_ih [4H, in] and weight_hh [4H, H] with gates (i, f, g = j, o). TF adds
  ``forget_bias=1.0`` at run time; here it is folded into ``bias_ih`` and ``bias_hh`` is zero.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicneurons import __version__
from musicneurons.errors import UserError
from musicneurons.model.checkpoints import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    CheckpointMismatchError,
    build_with_weights,
    save_model,
)
from musicneurons.model.config import MusicVAEConfig
from musicneurons.model.musicvae import MusicVAE
from musicneurons.model.registry import PRESETS
from musicneurons.model.tf import open_checkpoint

log = logging.getLogger(__name__)

FORGET_BIAS = 1.0  # LSTMBlockCell's default forget_bias, added to the f gate at run time in TF

# --------------------------------------------------------------------------- transforms (TF array -> tensor)
# Each returns a new C-ordered float32 tensor that owns its memory; the copies run in torch, whose blocked
# transposes are several times faster than NumPy's strided ones on 100 MB kernels.

TF_GATES_TO_TORCH = (
    0,
    2,
    1,
    3,
)  # torch gate k (i, f, g, o) is TF gate block TF_GATES_TO_TORCH[k] of (i, j, f, o)


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing ``a``'s memory, read-only views of memory-mapped files included (only read from)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the given NumPy array is not writable"
        return torch.from_numpy(np.asarray(a, dtype=np.float32))


def _empty(*shape: int) -> torch.Tensor:
    """Uninitialised float32 memory from NumPy, which asks the kernel for huge pages on large arrays: writing
    500 MB of weights then takes a few hundred page faults instead of ~130,000."""
    return torch.from_numpy(np.empty(shape, dtype=np.float32))


def _transposed(src: torch.Tensor, blocks: tuple[int, ...]) -> torch.Tensor:
    """[n, k * m] -> [k * m, n]: the transpose of ``src`` with its column blocks of width m reordered so that
    output row block b is input column block ``blocks[b]``.

    Rows are copied in slabs of 128 into a small buffer first: a transposed read straight from a memory-mapped
    file strides across 4 KB pages and thrashes the TLB (about 3x slower).
    """
    n, width = src.shape
    m = width // len(blocks)
    out = _empty(width, n)
    slab = 128
    buf = _empty(min(slab, n), width)
    for r in range(0, n, slab):
        rows = min(slab, n - r)
        buf[:rows].copy_(src[r : r + rows])
        for b, block in enumerate(blocks):
            out[b * m : (b + 1) * m, r : r + rows].copy_(buf[:rows, block * m : (block + 1) * m].t())
    return out


def _gate_rows(rows: np.ndarray) -> torch.Tensor:
    """Kernel rows [n, 4H], gate column blocks (i, j, f, o) -> [4H, n], gate row blocks (i, f, j, o)."""
    return _transposed(_tensor(rows), TF_GATES_TO_TORCH)


def lstm_weight_ih(kernel: np.ndarray) -> torch.Tensor:
    """TF LSTM kernel [in + H, 4H] -> ``weight_ih`` [4H, in] (input rows, gates reordered, transposed)."""
    hidden = kernel.shape[1] // 4
    return _gate_rows(kernel[: kernel.shape[0] - hidden])


def lstm_weight_hh(kernel: np.ndarray) -> torch.Tensor:
    """TF LSTM kernel [in + H, 4H] -> ``weight_hh`` [4H, H] (recurrent rows, gates reordered, transposed)."""
    hidden = kernel.shape[1] // 4
    return _gate_rows(kernel[kernel.shape[0] - hidden :])


def lstm_bias_ih(bias: np.ndarray) -> torch.Tensor:
    """TF LSTM bias [4H] -> ``bias_ih`` [4H]: gates reordered, forget bias folded in."""
    blocks = _tensor(bias).chunk(4)
    i, f, g, o = (blocks[block] for block in TF_GATES_TO_TORCH)
    return torch.cat([i, f + FORGET_BIAS, g, o])


def lstm_bias_hh(bias: np.ndarray) -> torch.Tensor:
    """``bias_hh`` [4H] is all zeros: TF has one bias, carried entirely by ``bias_ih``."""
    return torch.zeros(bias.shape, dtype=torch.float32)


def dense_weight(kernel: np.ndarray) -> torch.Tensor:
    """TF Dense kernel [in, out] -> ``nn.Linear.weight`` [out, in]."""
    return _transposed(_tensor(kernel), (0,))


def identity(a: np.ndarray) -> torch.Tensor:
    """Dense biases carry over unchanged (copied)."""
    return _tensor(a).clone()


@dataclass(frozen=True)
class Row:
    """One line of the conversion table."""

    tf_name: str
    key: str
    transform: Callable[[np.ndarray], torch.Tensor]
    tf_shape: tuple[int, ...]


IGNORED_SUFFIXES = ("/Adam", "/Adam_1")
IGNORED_NAMES = ("global_step", "beta1_power", "beta2_power")


def is_ignored(tf_name: str) -> bool:
    """Training bookkeeping that carries no model weight (optimizer slots, step counters)."""
    return tf_name in IGNORED_NAMES or tf_name.endswith(IGNORED_SUFFIXES)


# --------------------------------------------------------------------------- the table


def _lstm_rows(tf_scope: str, key_prefix: str, suffix: str, input_size: int, hidden: int) -> list[Row]:
    kernel_shape = (input_size + hidden, 4 * hidden)
    kernel, bias = f"{tf_scope}/kernel", f"{tf_scope}/bias"
    return [
        Row(kernel, f"{key_prefix}.weight_ih_{suffix}", lstm_weight_ih, kernel_shape),
        Row(kernel, f"{key_prefix}.weight_hh_{suffix}", lstm_weight_hh, kernel_shape),
        Row(bias, f"{key_prefix}.bias_ih_{suffix}", lstm_bias_ih, (4 * hidden,)),
        Row(bias, f"{key_prefix}.bias_hh_{suffix}", lstm_bias_hh, (4 * hidden,)),
    ]


def _dense_rows(tf_scope: str, key_prefix: str, in_size: int, out_size: int) -> list[Row]:
    return [
        Row(f"{tf_scope}/kernel", f"{key_prefix}.weight", dense_weight, (in_size, out_size)),
        Row(f"{tf_scope}/bias", f"{key_prefix}.bias", identity, (out_size,)),
    ]


def _decoder_stack_rows(tf_cell: str, key_prefix: str, input_size: int, sizes: tuple[int, ...]) -> list[Row]:
    """A MultiRNNCell: ``tf_cell`` has a ``{l}`` placeholder for the layer index."""
    rows = []
    for layer, hidden in enumerate(sizes):
        in_size = input_size if layer == 0 else sizes[layer - 1]
        rows += _lstm_rows(tf_cell.format(l=layer), f"{key_prefix}.layers.{layer}", "l0", in_size, hidden)
    return rows


def conversion_table(config: MusicVAEConfig) -> list[Row]:
    """Every (TF variable, state-dict key, transform, TF shape) row for ``config`` (Magenta's variable
    names)."""
    c, z, enc, dec = config.num_classes, config.z_size, config.enc_rnn_size, config.dec_rnn_size
    rows: list[Row] = []
    # encoder: stack_bidirectional_dynamic_rnn(scope="encoder"), one single-layer MultiRNNCell per direction
    for layer, hidden in enumerate(enc):
        in_size = c if layer == 0 else 2 * enc[layer - 1]
        for direction, suffix in (("fw", "l0"), ("bw", "l0_reverse")):
            scope = f"encoder/cell_{layer}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0/lstm_cell"
            rows += _lstm_rows(scope, f"encoder.layers.{layer}", suffix, in_size, hidden)
    rows += _dense_rows("encoder/mu", "mu", 2 * enc[-1], z)
    rows += _dense_rows("encoder/sigma", "sigma", 2 * enc[-1], z)
    state = 2 * sum(dec)
    if config.level_lengths is None:
        # flat CategoricalLstmDecoder: dynamic_decode(scope="decoder"); input = [one-hot, z]
        rows += _dense_rows("decoder/z_to_initial_state", "decoder.core.initial_state", z, state)
        rows += _decoder_stack_rows(
            "decoder/multi_rnn_cell/cell_{l}/lstm_cell", "decoder.core.rnn", c + z, dec
        )
        rows += _dense_rows("decoder/output_projection", "decoder.core.output_projection", dec[-1], c)
    else:
        # conductor: cells called with explicit scopes (no multi_rnn_cell segment); input = 1-wide zero
        rows += _dense_rows(
            "decoder/hierarchical_level_0/initial_state", "decoder.conductor_initial_state", z, state
        )
        rows += _decoder_stack_rows(
            "decoder/hierarchical_level_0/cell_{l}/lstm_cell", "decoder.conductor", 1, dec
        )
        # core decoder inside variable_scope("core_decoder"); conditioned on the conductor output (dec[-1]
        # wide)
        e = dec[-1]
        core = "core_decoder/decoder"
        rows += _dense_rows(f"{core}/z_to_initial_state", "decoder.core.initial_state", e, state)
        rows += _decoder_stack_rows(
            f"{core}/multi_rnn_cell/cell_{{l}}/lstm_cell", "decoder.core.rnn", c + e, dec
        )
        rows += _dense_rows(f"{core}/output_projection", "decoder.core.output_projection", dec[-1], c)
    return rows


# --------------------------------------------------------------------------- applying it


def table_problems(shapes: dict[str, tuple[int, ...]], config: MusicVAEConfig) -> list[str]:
    """Every missing or unused TF variable and every shape that disagrees, from the variables' shapes
    alone."""
    rows = conversion_table(config)
    used = {row.tf_name for row in rows}
    missing = sorted({row.tf_name for row in rows if row.tf_name not in shapes})
    problems = [
        f"missing TF variable {name} (config needs shape {_shape_of(rows, name)})" for name in missing
    ]
    unused = sorted(name for name in shapes if name not in used and not is_ignored(name))
    problems += [f"unused TF variable {name} with shape {tuple(shapes[name])}" for name in unused]
    seen: set[str] = set()
    for row in rows:
        if row.tf_name in shapes and row.tf_name not in seen:
            seen.add(row.tf_name)
            shape = tuple(shapes[row.tf_name])
            if shape != row.tf_shape:
                problems.append(f"{row.tf_name}: checkpoint has shape {shape}, config needs {row.tf_shape}")
    return problems


def convert_state(tensors: dict[str, np.ndarray], config: MusicVAEConfig) -> dict[str, torch.Tensor]:
    """Map TF variables ``{name: array}`` onto a state dict for ``MusicVAE(config)``, strictly.

    Raises ------ CheckpointMismatchError
        Naming every missing or unused TF variable and every shape that disagrees (checkpoint vs config).
    """
    problems = table_problems({name: tuple(a.shape) for name, a in tensors.items()}, config)
    if problems:
        msg = f"checkpoint does not fit {config}: " + "; ".join(problems)
        raise CheckpointMismatchError(msg)
    with _one_thread():
        return {row.key: row.transform(np.asarray(tensors[row.tf_name])) for row in conversion_table(config)}


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run the many small slab copies on one thread: each copy is too small to share, and with OpenMP's
    default spin-waiting on shared cores their thread hand-offs made loading a 538 MB bundle 5-10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _shape_of(rows: list[Row], tf_name: str) -> tuple[int, ...]:
    return next(row.tf_shape for row in rows if row.tf_name == tf_name)


def _lstm_hidden(shapes: dict[str, tuple[int, ...]], scope: str) -> int | None:
    shape = shapes.get(f"{scope}/kernel")
    return None if shape is None or len(shape) != 2 else shape[1] // 4


def _layers(shapes: dict[str, tuple[int, ...]], pattern: str) -> tuple[int, ...]:
    sizes: list[int] = []
    while (hidden := _lstm_hidden(shapes, pattern.format(l=len(sizes)))) is not None:
        sizes.append(hidden)
    return tuple(sizes)


def infer_config(shapes: dict[str, tuple[int, ...]]) -> MusicVAEConfig:
    """Architecture from TF variable shapes.

    Shapes do not record the window length: hierarchical decoders get ``level_lengths=(16, 16)`` (256 steps),
    flat decoders 256 steps with a 2-layer encoder (Magenta's flat-mel_16bar) and 32 steps with a 1-layer
    encoder (cat-mel_2bar_*). Pass a preset or config to :func:`convert_checkpoint` to override this.
    """
    enc = _layers(shapes, "encoder/cell_{l}/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell")
    if not enc or len(shapes.get("encoder/mu/kernel", ())) != 2:
        msg = "not a MusicVAE checkpoint: no encoder/cell_0/bidirectional_rnn/fw/... or encoder/mu variables"
        raise CheckpointMismatchError(msg)
    first = shapes["encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"]
    num_classes = first[0] - enc[0]
    z_size = shapes["encoder/mu/kernel"][1]
    if "decoder/hierarchical_level_1/initial_state/kernel" in shapes:
        msg = "hierarchical decoders with more than two levels are not supported"
        raise CheckpointMismatchError(msg)
    if "decoder/hierarchical_level_0/initial_state/kernel" in shapes:
        dec = _layers(shapes, "decoder/hierarchical_level_0/cell_{l}/lstm_cell")
        return MusicVAEConfig(z_size, enc, dec, 256, level_lengths=(16, 16), num_classes=num_classes)
    dec = _layers(shapes, "decoder/multi_rnn_cell/cell_{l}/lstm_cell")
    if not dec:
        msg = "no decoder/multi_rnn_cell/cell_0 or decoder/hierarchical_level_0 variables: unknown decoder"
        raise CheckpointMismatchError(msg)
    return MusicVAEConfig(z_size, enc, dec, 256 if len(enc) > 1 else 32, num_classes=num_classes)


def preset_name(config: MusicVAEConfig) -> str | None:
    """The ``PRESETS`` name equal to ``config``, if any."""
    return next((name for name, preset in PRESETS.items() if preset == config), None)


def convert_checkpoint(
    path: str | Path, *, preset: str | MusicVAEConfig | None = None, verify: bool = True
) -> tuple[MusicVAE, dict[str, Any]]:
    """Read a Magenta checkpoint (``.tar``, directory or prefix) into a float32 :class:`MusicVAE` on the CPU.

    Parameters ---------- path : str or path
        The checkpoint.
    preset : str or MusicVAEConfig, optional
        Architecture (a ``PRESETS`` name or a config); inferred from the tensor shapes when omitted.
    verify : bool
        Check every tensor's crc32c (on by default; a fraction of a second with ``google-crc32c``, about 5 s
        for a 700 MB checkpoint without it).

    Returns ------- (module, metadata)
        metadata holds the source path, the TF ``global_step``, the preset name (if the config is a preset)
        and the converter version.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            msg = f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}"
            raise UserError(msg)
        preset = PRESETS[preset]
    with open_checkpoint(path) as bundle:
        shapes = {name: entry.shape for name, entry in bundle.entries.items()}
        config = preset if preset is not None else infer_config(shapes)
        problems = table_problems(shapes, config)  # before reading a byte of tensor data
        if problems:
            msg = f"{path} does not fit {config}: " + "; ".join(problems)
            raise CheckpointMismatchError(msg)
        # tensors are views of the memory-mapped files: each transform writes the one copy that is kept
        needed = {row.tf_name for row in conversion_table(config)}
        views = {name: bundle.read(name, verify=verify, copy=False) for name in sorted(needed)}
        state = convert_state(views, config)
        del views
        step = (
            _global_step(bundle.read("global_step", verify=verify))
            if "global_step" in bundle.entries
            else None
        )
        prefix = bundle.prefix
    module = build_with_weights(config, state)
    name = preset_name(config)
    log.info("converted %s (%s, global_step %s)", path, name or config, step)
    metadata = {
        "source": str(path),
        "source_prefix": Path(prefix).name,
        "global_step": step,
        "preset": name,
        "converter": f"musicneurons {__version__}",
    }
    return module, metadata


def _global_step(value: np.ndarray) -> int | None:
    """TF's step counter (a scalar), or None when the variable holds something else."""
    return int(value.reshape(-1)[0]) if value.size == 1 else None


def convert(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    preset: str | MusicVAEConfig | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert a Magenta checkpoint to ``out_dir/weights.safetensors`` + ``out_dir/config.json``.

    Refuses to replace an existing conversion unless ``overwrite``.
    """
    out = Path(out_dir)
    if not overwrite and ((out / CONFIG_FILE).exists() or (out / WEIGHTS_FILE).exists()):
        msg = f"{out} already holds a model; pass overwrite=True (--overwrite) to replace it"
        raise FileExistsError(msg)
    module, metadata = convert_checkpoint(checkpoint, preset=preset)
    return save_model(module, out, metadata)

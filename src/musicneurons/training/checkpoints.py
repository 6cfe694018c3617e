"""Resumable training state, stored without pickle: ``out/checkpoint-<step>/`` and ``out/latest``.

A checkpoint folder holds

- ``weights.safetensors`` + ``config.json``: the model (the format of :mod:`musicneurons.model.checkpoints`);
- ``optimizer.safetensors``: Adam's moments, tensors ``m/<parameter name>`` and ``v/<parameter name>``;
- ``state.json``: the scalars: ``step``, ``elapsed_s`` and ``optimizer`` (Adam's step count per parameter,
  ``lr``, ``betas``, ``eps``).

Nothing in a checkpoint is unpickled, so a run folder received from someone else cannot run code on resume.
Runs written before this format kept the optimiser in a pickled ``optimizer.pt``: it is read with
``torch.load(weights_only=True)`` (plain tensors and numbers only) and refused with a clear error otherwise.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from musicneurons.atomic_files import atomic_write
from musicneurons.errors import UserError
from musicneurons.model.musicvae import MusicVAE
from musicneurons.training.optim import TFAdam

log = logging.getLogger(__name__)

LATEST = "latest"  # a text file naming the newest complete checkpoint folder
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"
LEGACY_OPTIMIZER_FILE = "optimizer.pt"  # pickled optimiser state of older runs; loaded with weights_only=True
_TMP_PREFIX = ".checkpoint-"


def has_checkpoint(out: Path) -> bool:
    """True when ``out`` holds a run that can be resumed."""
    return (out / LATEST).exists()


def remove_stray_temporaries(out: Path) -> None:
    """Delete half-written checkpoint folders left by a kill or a full disk (``out/.checkpoint-*.tmp``)."""
    for tmp in out.glob(f"{_TMP_PREFIX}*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


def optimizer_state(model: MusicVAE, opt: TFAdam) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Adam's state as (tensors ``m/<name>`` and ``v/<name>``, JSON-ready scalars), by parameter name."""
    names = {id(p): name for name, p in model.named_parameters()}
    tensors: dict[str, torch.Tensor] = {}
    steps: dict[str, int] = {}
    for p, state in opt.state.items():
        name = names[id(p)]
        tensors[f"m/{name}"] = state["m"].detach().cpu().contiguous()
        tensors[f"v/{name}"] = state["v"].detach().cpu().contiguous()
        steps[name] = int(state["step"])
    (group,) = opt.param_groups
    scalars = {"adam_step": steps, "lr": group["lr"], "betas": list(group["betas"]), "eps": group["eps"]}
    return tensors, scalars


def load_optimizer_state(
    model: MusicVAE, opt: TFAdam, tensors: dict[str, torch.Tensor], scalars: dict[str, Any], source: Path
) -> None:
    """Inverse of :func:`optimizer_state`; every name and shape is checked, errors name ``source``."""
    params = dict(model.named_parameters())
    steps = scalars.get("adam_step")
    if not isinstance(steps, dict) or set(steps) - set(params):
        msg = f"{source}: optimizer.adam_step must map parameter names of the model to step counts"
        raise UserError(msg)
    (group,) = opt.param_groups
    group.update(lr=float(scalars["lr"]), betas=tuple(float(b) for b in scalars["betas"]))
    group["eps"] = float(scalars["eps"])
    opt.state.clear()
    for name, t in steps.items():
        p = params[name]
        moments = {}
        for key in ("m", "v"):
            tensor = tensors.get(f"{key}/{name}")
            if tensor is None or tuple(tensor.shape) != tuple(p.shape):
                got = "missing" if tensor is None else f"shape {tuple(tensor.shape)}"
                msg = f"{source}: tensor {key}/{name} is {got}, the model needs shape {tuple(p.shape)}"
                raise UserError(msg)
            moments[key] = tensor.to(device=p.device, dtype=p.dtype)
        opt.state[p] = {"step": int(t), **moments}


def save_checkpoint(
    out: Path, model: MusicVAE, opt: TFAdam, step: int, elapsed: float, meta: dict[str, Any]
) -> Path:
    """Write ``out/checkpoint-<step>/`` (weights, config, optimiser, state), then point ``out/latest`` at it.

    The folder is written under a temporary name and renamed, so a kill leaves the previous checkpoint intact;
    older checkpoints are removed once ``latest`` names the new one.
    """
    from safetensors.torch import save_file

    from musicneurons.model.checkpoints import save_model

    ckpt = out / f"checkpoint-{step:08d}"
    tmp = out / f"{_TMP_PREFIX}{step:08d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, metadata=meta)
    tensors, scalars = optimizer_state(model, opt)
    save_file(tensors, str(tmp / OPTIMIZER_FILE))
    state = {"step": step, "elapsed_s": elapsed, "optimizer": scalars}
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=1))
    if ckpt.exists():
        shutil.rmtree(ckpt)
    tmp.rename(ckpt)
    atomic_write(out / LATEST, lambda path: path.write_text(ckpt.name))
    for old in out.glob("checkpoint-*"):
        if old != ckpt:
            shutil.rmtree(old, ignore_errors=True)
    return ckpt


def _read_state(path: Path) -> tuple[int, float, dict[str, Any] | None]:
    """(step, elapsed seconds, optimiser scalars or None for an older run) from ``state.json``."""
    try:
        doc = json.loads(path.read_text())
        step, elapsed = int(doc["step"]), float(doc["elapsed_s"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"{path}: not a training state ({type(exc).__name__}: {exc})"
        raise UserError(msg) from exc
    scalars = doc.get("optimizer")
    if scalars is not None and not isinstance(scalars, dict):
        raise UserError(f"{path}: 'optimizer' must be an object")
    return step, elapsed, scalars


def _load_legacy_optimizer(path: Path, opt: TFAdam) -> None:
    """Load a pickled ``optimizer.pt`` of an older run, allowing plain tensors and numbers only."""
    import pickle

    if not path.exists():
        msg = f"{path.parent}: no {OPTIMIZER_FILE} (nor an older {LEGACY_OPTIMIZER_FILE}): cannot resume"
        raise UserError(msg)
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        opt.load_state_dict(state)
    except (pickle.UnpicklingError, RuntimeError, ValueError, KeyError, TypeError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"{path}: refused: not a plain optimiser state (only tensors and numbers are loaded): {first}"
        raise UserError(msg) from exc
    log.warning("%s: optimiser state of an older run (pickle, loaded with weights_only=True)", path)


def load_checkpoint(out: Path, model: MusicVAE, opt: TFAdam) -> tuple[int, float]:
    """Load the checkpoint named by ``out/latest`` into ``model`` and ``opt``; returns (step, elapsed s)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from musicneurons.model.checkpoints import load_folder

    ckpt = out / (out / LATEST).read_text().strip()
    if not ckpt.is_dir() or ckpt.parent != out:
        msg = f"{out / LATEST} names {ckpt.name!r}, which is not a checkpoint folder in {out}"
        raise UserError(msg)
    step, elapsed, scalars = _read_state(ckpt / STATE_FILE)
    weights, _ = load_folder(ckpt)  # checked: config, shapes, checksums; errors name the file
    model.load_state_dict(weights.state_dict())
    try:
        if scalars is not None:
            tensors = load_file(str(ckpt / OPTIMIZER_FILE))
    except (SafetensorError, OSError, RuntimeError) as exc:
        msg = f"{ckpt}: unreadable checkpoint ({type(exc).__name__}: {exc})"
        raise UserError(msg) from exc
    if scalars is None:
        _load_legacy_optimizer(ckpt / LEGACY_OPTIMIZER_FILE, opt)
    else:
        load_optimizer_state(model, opt, tensors, scalars, ckpt / OPTIMIZER_FILE)
    return step, elapsed


def trim_log(path: Path, step: int) -> int:
    """Keep the lines of ``log.jsonl`` up to ``step`` (the checkpoint resumed from); returns how many were
    dropped. Lines written after that checkpoint (before a kill) would otherwise appear twice."""
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            keep = int(record["step"]) <= step
        except (ValueError, KeyError, TypeError):
            keep = False  # a line cut short by a kill
        if keep:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        atomic_write(path, lambda tmp: tmp.write_text("".join(f"{line}\n" for line in kept)))
    return dropped

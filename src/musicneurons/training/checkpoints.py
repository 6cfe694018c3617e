"""Resumable training state: ``out/checkpoint-<step>/`` (weights, config, optimiser, step), ``out/latest``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from musicneurons.model.musicvae import MusicVAE
from musicneurons.training.optim import TFAdam

LATEST = "latest"  # a text file naming the newest complete checkpoint folder


def has_checkpoint(out: Path) -> bool:
    """True when ``out`` holds a run that can be resumed."""
    return (out / LATEST).exists()


def save_checkpoint(out: Path, model: MusicVAE, opt: TFAdam, step: int, elapsed: float, meta: dict) -> Path:
    """Write ``out/checkpoint-<step>/`` (weights, config, optimiser, state), then point ``out/latest`` at it.

    The folder is written under a temporary name and renamed, so a kill leaves the previous checkpoint intact;
    older checkpoints are removed once ``latest`` names the new one.
    """
    from musicneurons.model.checkpoints import save_model

    ckpt = out / f"checkpoint-{step:08d}"
    tmp = out / f".checkpoint-{step:08d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, metadata=meta)
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, "elapsed_s": elapsed}))
    if ckpt.exists():
        shutil.rmtree(ckpt)
    tmp.rename(ckpt)
    latest_tmp = out / f".{LATEST}.tmp"
    latest_tmp.write_text(ckpt.name)
    latest_tmp.replace(out / LATEST)
    for old in out.glob("checkpoint-*"):
        if old != ckpt:
            shutil.rmtree(old, ignore_errors=True)
    return ckpt


def load_checkpoint(out: Path, model: MusicVAE, opt: TFAdam) -> tuple[int, float]:
    """Load the checkpoint named by ``out/latest`` into ``model`` and ``opt``; returns (step, elapsed s)."""
    from safetensors.torch import load_file

    name = (out / LATEST).read_text().strip()
    ckpt = out / name
    model.load_state_dict(load_file(str(ckpt / "weights.safetensors")))
    opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=False))
    state = json.loads((ckpt / "state.json").read_text())
    return int(state["step"]), float(state["elapsed_s"])

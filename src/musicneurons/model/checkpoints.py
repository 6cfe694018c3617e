"""Save and load MusicVAE weights: our format (``weights.safetensors`` + ``config.json``) and Magenta checkpoints.

Our format is a folder holding

- ``weights.safetensors``: the ``MusicVAE`` state dict, float32 (the config JSON is repeated in its metadata);
- ``config.json``: ``{"format": "musicneurons-musicvae/1", "config": MusicVAEConfig fields, "metadata": {...}}``.

``load_model`` also takes a Magenta TensorFlow checkpoint (a released ``.tar``, a checkpoint directory or a
prefix) and converts it on the fly (see ``convert.py``), and the names of the embedded default models.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from musicneurons.atomic_files import atomic_write
from musicneurons.model.inference import TrainedModel
from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig

log = logging.getLogger(__name__)

FORMAT = "musicneurons-musicvae/1"
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
EMBEDDED_MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
DEFAULT_MODELS = ("default-2bar", "default-16bar")


class CheckpointMismatchError(ValueError):
    """Weights do not fit a config: a tensor is missing, unexpected or has the wrong shape."""


def save_model(module: MusicVAE, out_dir: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/weights.safetensors`` and ``out_dir/config.json`` (each atomically); returns ``out_dir``.

    Parameters
    ----------
    module : MusicVAE
        The model; its weights are saved as float32 on the CPU.
    out_dir : path
        Folder to write into (created if needed). Existing files of the same names are replaced.
    metadata : dict, optional
        JSON-serialisable provenance (source checkpoint, training step, ...), stored in ``config.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config_doc = {"format": FORMAT, "config": module.config.to_dict(), "metadata": metadata or {}}
    text = json.dumps(config_doc, indent=1, sort_keys=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()}
    st_meta = {"format": FORMAT, "config": json.dumps(module.config.to_dict())}
    # weights first: a config.json next to them means the pair is complete
    atomic_write(out / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp), metadata=st_meta))
    atomic_write(out / CONFIG_FILE, lambda tmp: tmp.write_text(text + "\n"))
    return out


def read_config(model_dir: str | Path) -> tuple[MusicVAEConfig, dict[str, Any]]:
    """``(config, metadata)`` from ``model_dir/config.json``."""
    path = Path(model_dir) / CONFIG_FILE
    doc = json.loads(path.read_text())
    if doc.get("format") != FORMAT:
        msg = f"{path}: format {doc.get('format')!r} is not {FORMAT!r}"
        raise ValueError(msg)
    return MusicVAEConfig.from_dict(doc["config"]), dict(doc.get("metadata") or {})


def load_state_dict_strict(module: MusicVAE, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``state`` into ``module``; any missing, unexpected or mis-shaped tensor raises, naming all of them."""
    expected = module.state_dict()
    problems = [f"missing {k} {tuple(v.shape)}" for k, v in expected.items() if k not in state]
    problems += [f"unexpected {k} {tuple(v.shape)}" for k, v in state.items() if k not in expected]
    problems += [
        f"{k}: file has {tuple(state[k].shape)}, config needs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if problems:
        msg = f"{source} does not match the config {module.config}: " + "; ".join(problems)
        raise CheckpointMismatchError(msg)
    module.load_state_dict(state)


def load_module(
    path: str | Path, *, preset: str | MusicVAEConfig | None = None
) -> tuple[MusicVAE, dict[str, Any]]:
    """Rebuild a :class:`MusicVAE` (on the CPU, float32) and its metadata from any supported checkpoint.

    ``path`` is one of our folders (with ``config.json``), a name in ``DEFAULT_MODELS``, or a Magenta checkpoint
    (``.tar``, directory or prefix; its architecture is inferred from the tensor shapes unless ``preset`` names
    a ``PRESETS`` entry or is a config).
    """
    path_str = str(path)
    if path_str in DEFAULT_MODELS:
        model_dir = EMBEDDED_MODELS_DIR / path_str
        if not (model_dir / CONFIG_FILE).exists():
            msg = f"embedded model {path_str!r} is not installed (expected {model_dir}/{CONFIG_FILE})"
            raise FileNotFoundError(msg)
        path = model_dir
    p = Path(path)
    if p.is_dir() and (p / CONFIG_FILE).exists():
        config, metadata = read_config(p)
        if preset is not None:
            log.warning("preset %r ignored: %s carries its own config.json", preset, p)
        module = MusicVAE(config)
        state = load_file(str(p / WEIGHTS_FILE))
        load_state_dict_strict(module, state, str(p / WEIGHTS_FILE))
        return module, metadata
    # imported here: convert.py imports this module (for CheckpointMismatchError and save_model)
    from musicneurons.model.convert import convert_checkpoint

    module, metadata = convert_checkpoint(path, preset=preset)
    return module, metadata


def load_model(
    path: str | Path | None = None,
    *,
    device: str = "auto",
    preset: str | MusicVAEConfig | None = None,
    batch_size: int = 256,
    precision: str = "fp32",
) -> TrainedModel:
    """Load a MusicVAE ready for inference, as a :class:`~musicneurons.model.inference.TrainedModel`.

    Parameters
    ----------
    path : str or path, optional
        None -> the embedded ``default-2bar`` model; ``"default-16bar"`` -> the embedded 16-bar model; a folder
        with ``config.json`` -> our format; a Magenta ``.tar``, checkpoint directory or prefix -> converted on
        the fly.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        Where to run (``auto``: CUDA when available).
    preset : str or MusicVAEConfig, optional
        Architecture of a Magenta checkpoint (a ``PRESETS`` name); inferred from tensor shapes when omitted.
    batch_size : int
        Default batch size of the NumPy methods.
    precision : {"fp32", "bf16"}
        bf16 runs matmuls in bfloat16 (autocast); see docs/model.md for its error against fp32.

    Examples
    --------
    >>> model = load_model("cat-mel_2bar_big.tar")  # doctest: +SKIP
    >>> z, mu, sigma = model.encode(windows)  # doctest: +SKIP
    """
    module, metadata = load_module(DEFAULT_MODELS[0] if path is None else path, preset=preset)
    return TrainedModel(module, device=device, batch_size=batch_size, precision=precision, metadata=metadata)

"""Our model format: a folder holding ``weights.safetensors`` and ``config.json``.

- ``weights.safetensors``: the ``MusicVAE`` state dict in float32; its metadata repeats the config JSON and
  records the SHA-256 of every tensor (``sha256``: JSON ``{tensor name: hex digest}``).
- ``config.json``: ``{"format": "musicneurons-musicvae/1", "config": MusicVAEConfig fields, "metadata":
  {...}}``.

Loading checks, in this order and before allocating anything: ``config.json`` (JSON, format, every field's
type and range), the safetensors header (offsets inside the file, sizes agreeing with shapes), the config
against the header's shapes, then each tensor's SHA-256. The model is then built without initialising
weights and takes the memory-mapped tensors as its parameters. Every problem is a
:class:`~musicneurons.errors.UserError` naming the file (and the tensor). Folders written before checksums
existed still load, with a logged warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from musicneurons.atomic_files import atomic_write
from musicneurons.errors import UserError
from musicneurons.model import weights_file
from musicneurons.model.config import ConfigError, MusicVAEConfig
from musicneurons.model.musicvae import MusicVAE

log = logging.getLogger(__name__)

FORMAT = "musicneurons-musicvae/1"
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"


class CheckpointMismatchError(UserError):
    """Weights do not fit a config: a tensor is missing, unexpected or has the wrong shape."""


def save_model(module: MusicVAE, out_dir: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/weights.safetensors`` and ``out_dir/config.json`` (each atomically); returns
    ``out_dir``.

    Parameters ---------- module : MusicVAE
        The model; its weights are saved as float32 on the CPU, each with its SHA-256.
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
    st_meta.update(weights_file.checksum_metadata(tensors))
    # weights first: a config.json next to them means the pair is complete
    atomic_write(out / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp), metadata=st_meta))
    atomic_write(out / CONFIG_FILE, lambda tmp: tmp.write_text(text + "\n"))
    return out


def read_config(model_dir: str | Path) -> tuple[MusicVAEConfig, dict[str, Any]]:
    """``(config, metadata)`` from ``model_dir/config.json``, every field checked (:class:`ConfigError`)."""
    path = Path(model_dir) / CONFIG_FILE
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror or exc})"
        raise UserError(msg) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path}: not valid JSON ({exc})"
        raise ConfigError(msg) from exc
    if not isinstance(doc, dict):
        msg = f"{path}: expected a JSON object with format, config and metadata, got {type(doc).__name__}"
        raise ConfigError(msg)
    if doc.get("format") != FORMAT:
        msg = f"{path}: format {doc.get('format')!r} is not {FORMAT!r}"
        raise ConfigError(msg)
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict):
        msg = f"{path}: metadata must be a JSON object, got {type(metadata).__name__}"
        raise ConfigError(msg)
    try:
        config = MusicVAEConfig.from_dict(doc.get("config"))
    except (ConfigError, TypeError, ValueError) as exc:
        msg = f"{path}: {exc}"
        raise ConfigError(msg) from exc
    return config, dict(metadata)


def expected_shapes(config: MusicVAEConfig) -> dict[str, tuple[int, ...]]:
    """The state dict's shapes for ``config``, computed on the meta device (nothing allocated)."""
    with torch.device("meta"):
        module = MusicVAE(config)
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def shape_problems(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]]) -> list[str]:
    """Every missing, unexpected or mis-shaped tensor of ``found`` against ``expected``."""
    problems = [f"missing {k} {v}" for k, v in expected.items() if k not in found]
    problems += [f"unexpected {k} {v}" for k, v in found.items() if k not in expected]
    problems += [
        f"{k}: file has {found[k]}, config needs {v}"
        for k, v in expected.items()
        if k in found and found[k] != v
    ]
    return problems


def load_state_dict_strict(module: MusicVAE, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``state`` into ``module``; any missing, unexpected or mis-shaped tensor raises, naming all of
    them."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    problems = shape_problems(expected, {k: tuple(v.shape) for k, v in state.items()})
    if problems:
        msg = f"{source} does not match the config {module.config}: " + "; ".join(problems)
        raise CheckpointMismatchError(msg)
    module.load_state_dict(state)


def build_with_weights(config: MusicVAEConfig, state: dict[str, torch.Tensor]) -> MusicVAE:
    """A :class:`MusicVAE` whose parameters are the float32 tensors of ``state`` themselves (no random init,
    no
    copy of float32 tensors); the shapes must already have been checked."""
    with torch.device("meta"):
        module = MusicVAE(config)
    module.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    return module


def load_folder(model_dir: str | Path) -> tuple[MusicVAE, dict[str, Any]]:
    """Rebuild a :class:`MusicVAE` (CPU, float32) and its metadata from one of our folders, checking
    everything
    (see the module docstring) before building it."""
    folder = Path(model_dir)
    config, metadata = read_config(folder)
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        msg = f"{weights_path}: missing (a model folder holds {WEIGHTS_FILE} beside {CONFIG_FILE})"
        raise UserError(msg)
    header = weights_file.read_header(weights_path)
    found = {name: spec.shape for name, spec in header.tensors.items()}
    problems = shape_problems(expected_shapes(config), found)
    if problems:
        msg = f"{weights_path} does not match the config in {folder / CONFIG_FILE} ({config}): "
        raise CheckpointMismatchError(msg + "; ".join(problems))
    state = weights_file.map_tensors(header)
    digests = weights_file.stored_digests(header)
    if digests is None:
        log.warning(
            "%s carries no checksums (written by an older musicneurons): loaded unverified", weights_path
        )
    else:
        weights_file.verify(header, state, digests)
    return build_with_weights(config, state), metadata

"""One entry point for every model source: a registered name, one of our folders, or a Magenta TF checkpoint.

- None, ``"default-2bar"``, ``"default-16bar"``: the shipped model (``registry.py``).
- A Magenta name such as ``"cat-mel_2bar_big"``: refused with a message saying to pass the checkpoint (its
  weights are not shipped), unless a file or folder of that name exists (then that is loaded).
- A folder with ``config.json``: our format (``checkpoints.py``), checked and memory-mapped.
- A ``.tar``, a checkpoint folder or a prefix: Magenta's checkpoint, converted on the fly (``convert.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from musicneurons.model import registry
from musicneurons.model.checkpoints import CONFIG_FILE, load_folder
from musicneurons.model.config import MusicVAEConfig
from musicneurons.model.convert import convert_checkpoint
from musicneurons.model.inference import TrainedModel
from musicneurons.model.musicvae import MusicVAE

log = logging.getLogger(__name__)


def _resolve(path: str | Path) -> Path:
    """The folder or checkpoint path a name or path stands for."""
    name = str(path)
    entry = registry.MODELS.get(name)
    if entry is None or (entry.kind == "magenta" and Path(name).exists()):
        return Path(path)
    folder = registry.shipped_folder(name)  # a Magenta name raises here, saying what to pass instead
    if not (folder / CONFIG_FILE).exists():
        msg = f"embedded model {name!r} is not installed (expected {folder}/{CONFIG_FILE})"
        raise FileNotFoundError(msg)
    return folder


def load_module(
    path: str | Path, *, preset: str | MusicVAEConfig | None = None
) -> tuple[MusicVAE, dict[str, Any]]:
    """Rebuild a :class:`MusicVAE` (on the CPU, float32) and its metadata from any supported source.

    ``path`` is a registered name, one of our folders (with ``config.json``) or a Magenta checkpoint
    (``.tar``, directory or prefix; its architecture is inferred from the tensor shapes unless ``preset``
    names a ``PRESETS`` entry or is a config). See the module docstring.
    """
    p = _resolve(path)
    if p.is_dir() and (p / CONFIG_FILE).exists():
        if preset is not None:
            log.warning("preset %r ignored: %s carries its own config.json", preset, p)
        return load_folder(p)
    return convert_checkpoint(p, preset=preset)


def load_model(
    path: str | Path | None = None,
    *,
    device: str = "auto",
    preset: str | MusicVAEConfig | None = None,
    batch_size: int = 256,
    precision: str = "fp32",
) -> TrainedModel:
    """Load a MusicVAE ready for inference, as a :class:`~musicneurons.model.inference.TrainedModel`.

    Parameters ---------- path : str or path, optional
        None -> the shipped ``default-2bar`` model; ``"default-16bar"`` -> the shipped 16-bar model; a folder
        with ``config.json`` -> our format; a Magenta ``.tar``, checkpoint directory or prefix -> converted on
        the fly. A Magenta preset name alone (``"cat-mel_2bar_big"``) raises a ``UserError``: its weights are
        not shipped.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        Where to run (``auto``: CUDA when available).
    preset : str or MusicVAEConfig, optional
        Architecture of a Magenta checkpoint (a ``PRESETS`` name); inferred from tensor shapes when omitted.
    batch_size : int
        Default batch size of the NumPy methods.
    precision : {"fp32", "bf16"}
        bf16 runs matmuls in bfloat16 (autocast); see docs/model.md for its error against fp32.

    Examples --------
    >>> model = load_model("cat-mel_2bar_big.tar")  # doctest: +SKIP
    >>> z, mu, sigma = model.encode(windows)  # doctest: +SKIP
    """
    module, metadata = load_module(registry.DEFAULT_MODEL if path is None else path, preset=preset)
    return TrainedModel(module, device=device, batch_size=batch_size, precision=precision, metadata=metadata)

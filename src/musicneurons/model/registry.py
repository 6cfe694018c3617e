"""Every model name musicneurons knows, in one table: Magenta's melody architectures and the shipped models.

=================== ======== ======================================================================
name                kind     what ``load_model(name)`` does
=================== ======== ======================================================================
cat-mel_2bar_small  magenta  refuses: Magenta's weights are not shipped; pass the checkpoint (.tar)
cat-mel_2bar_big    magenta  (same)
flat-mel_16bar      magenta  (same)
hierdec-mel_16bar   magenta  (same)
default-2bar        shipped  loads ``assets/models/default-2bar`` (trained by musicneurons)
default-16bar       shipped  loads ``assets/models/default-16bar``
=================== ======== ======================================================================

A Magenta name loads nothing by itself on purpose: random weights in Magenta's shape would give a study
numbers that look real. Its architecture is ``PRESETS[name]`` (``convert --preset``, ``load_model(tar,
preset=name)``, ``train --preset``); ``MusicVAE(PRESETS[name])`` builds it with Magenta's random init.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from musicneurons.errors import UserError
from musicneurons.model.config import MusicVAEConfig

EMBEDDED_MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"

# Magenta's melody configs (magenta/models/music_vae/configs.py), architecture only.
PRESETS: dict[str, MusicVAEConfig] = {
    "cat-mel_2bar_small": MusicVAEConfig(
        z_size=256, enc_rnn_size=(512,), dec_rnn_size=(256, 256), max_seq_len=32
    ),
    "cat-mel_2bar_big": MusicVAEConfig(
        z_size=512, enc_rnn_size=(2048,), dec_rnn_size=(2048, 2048, 2048), max_seq_len=32
    ),
    "flat-mel_16bar": MusicVAEConfig(
        z_size=512, enc_rnn_size=(2048, 2048), dec_rnn_size=(2048, 2048, 2048), max_seq_len=256
    ),
    "hierdec-mel_16bar": MusicVAEConfig(
        z_size=512,
        enc_rnn_size=(2048, 2048),
        dec_rnn_size=(1024, 1024),
        max_seq_len=256,
        level_lengths=(16, 16),
    ),
}

# The CPU-sized models trained by musicneurons and shipped in assets/models (docs/training.md).
SHIPPED: dict[str, MusicVAEConfig] = {
    "default-2bar": MusicVAEConfig(z_size=512, enc_rnn_size=(128,), dec_rnn_size=(128, 128), max_seq_len=32),
    "default-16bar": MusicVAEConfig(
        z_size=512, enc_rnn_size=(128,), dec_rnn_size=(128, 128), max_seq_len=256, level_lengths=(16, 16)
    ),
}
DEFAULT_MODEL = "default-2bar"


@dataclass(frozen=True)
class RegisteredModel:
    """One model name: its architecture and whether its weights are shipped (in ``EMBEDDED_MODELS_DIR``)."""

    name: str
    kind: str  # "magenta" (architecture only) or "shipped" (weights in assets/models/<name>)
    config: MusicVAEConfig


def _table() -> dict[str, RegisteredModel]:
    table = {name: RegisteredModel(name, "magenta", cfg) for name, cfg in PRESETS.items()}
    table.update({name: RegisteredModel(name, "shipped", cfg) for name, cfg in SHIPPED.items()})
    return table


MODELS: dict[str, RegisteredModel] = _table()


def architecture(name: str) -> MusicVAEConfig:
    """The architecture registered under ``name`` (a Magenta preset or a shipped model)."""
    if name not in MODELS:
        msg = f"unknown model name {name!r}; known: {', '.join(MODELS)}"
        raise UserError(msg)
    return MODELS[name].config


def shipped_folder(name: str) -> Path:
    """The folder of a shipped model; a Magenta name raises a :class:`UserError` that says what to pass."""
    entry = MODELS.get(name)
    if entry is None:
        msg = f"unknown model name {name!r}; known: {', '.join(MODELS)}"
        raise UserError(msg)
    if entry.kind == "magenta":
        msg = f"{name!r} is Magenta's architecture; its weights are not shipped: pass the checkpoint itself "
        msg += f"(e.g. load_model('{name}.tar') or `musicneurons convert {name}.tar OUT`), or build random "
        msg += f"weights with MusicVAE(PRESETS[{name!r}])"
        raise UserError(msg)
    return EMBEDDED_MODELS_DIR / name

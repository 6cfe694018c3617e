"""Optimisation settings: :class:`TrainConfig` (Magenta's hparam names plus run controls) and the presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from musicneurons.errors import UserError
from musicneurons.model.musicvae import PRESETS, MusicVAEConfig

SAMPLING_SCHEDULES = ("constant", "exponential", "inverse_sigmoid")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation hyperparameters (Magenta's hparam names) plus this loop's run controls.

    Parameters
    ----------
    free_bits : float
        KL allowance in bits on the *total* KL of z (Magenta applies it to the sum, not per dim).
    max_beta, beta_rate : float
        beta(step) = (1 - beta_rate**step) * max_beta. beta_rate 0 gives max_beta from step 1.
    sampling_schedule : {"constant", "exponential", "inverse_sigmoid"}
    sampling_rate : float
        The schedule's parameter (the constant probability, the base, or k).
    learning_rate, decay_rate, min_learning_rate : float
        lr(step) = (learning_rate - min_learning_rate) * decay_rate**step + min_learning_rate.
    grad_clip : float
        Global-norm clip.
    grad_norm_clip_to_zero : float
        From this global norm on, the update is scaled to ~0.
    batch_size : int
    max_steps : int
        Stop after this many optimiser steps (0: no step limit).
    max_minutes : float
        Stop after this much training time, summed over resumed sessions (0: no time limit).
    seed : int
        Seeds the weights, the data order, transpositions and every random draw.
    bf16 : bool
        Run matmuls in bfloat16 (CPU autocast); parameters, optimiser and loss stay float32.
    transpose : bool
        Augment by a random transposition in [-5, 5] semitones per example.
    eval_every : int
        Steps between validation passes (teacher-forced and free-running accuracy, sigma/mu statistics).
    n_eval : int
        Validation windows used per pass (the first ``n_eval`` of a fixed seeded shuffle).
    checkpoint_every_s : float
        Seconds between resumable checkpoints (Magenta saves every 60 s).
    batch_parts : int
        The batch runs as this many equal slices whose gradients are summed (on the CPU each on its own
        thread: see :mod:`musicneurons.training.parallel`). The sum equals the whole batch's gradient up to
        float rounding and does not depend on the thread count; 1 runs the batch whole, as a GPU always
        does. Runs recorded before this setting existed ran whole batches (:func:`recorded_train_config`).
    """

    free_bits: float = 0.0
    max_beta: float = 1.0
    beta_rate: float = 0.0
    sampling_schedule: str = "constant"
    sampling_rate: float = 0.0
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999
    min_learning_rate: float = 1e-5
    grad_clip: float = 1.0
    grad_norm_clip_to_zero: float = 10000.0
    batch_size: int = 512
    max_steps: int = 200_000
    max_minutes: float = 0.0
    seed: int = 0
    bf16: bool = False
    transpose: bool = True
    eval_every: int = 500
    n_eval: int = 512
    checkpoint_every_s: float = 60.0
    batch_parts: int = 2

    def __post_init__(self) -> None:
        if self.sampling_schedule not in SAMPLING_SCHEDULES:
            msg = f"sampling_schedule must be one of {', '.join(SAMPLING_SCHEDULES)}, "
            msg += f"got {self.sampling_schedule!r}"
            raise UserError(msg)
        if self.batch_size < 1:
            msg = f"batch_size must be >= 1, got {self.batch_size}"
            raise UserError(msg)
        if self.batch_parts < 1:
            msg = f"batch_parts must be >= 1, got {self.batch_parts}"
            raise UserError(msg)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return dataclasses.asdict(self)


# Magenta's optimisation hparams per config (magenta/models/music_vae/configs.py), plus our CPU defaults.
_MAGENTA_2BAR = TrainConfig(sampling_schedule="inverse_sigmoid", sampling_rate=1000.0, beta_rate=0.99999)
TRAIN_PRESETS: dict[str, tuple[MusicVAEConfig, TrainConfig]] = {
    "cat-mel_2bar_small": (PRESETS["cat-mel_2bar_small"], dataclasses.replace(_MAGENTA_2BAR, max_beta=0.2)),
    "cat-mel_2bar_big": (PRESETS["cat-mel_2bar_big"], dataclasses.replace(_MAGENTA_2BAR, max_beta=0.5)),
    "flat-mel_16bar": (PRESETS["flat-mel_16bar"], TrainConfig(free_bits=256.0, max_beta=0.2)),
    "hierdec-mel_16bar": (PRESETS["hierdec-mel_16bar"], TrainConfig(free_bits=256.0, max_beta=0.2)),
    # CPU-sized models shipped as the embedded defaults (docs/training.md explains each choice)
    "default-2bar": (
        MusicVAEConfig(z_size=512, enc_rnn_size=(128,), dec_rnn_size=(128, 128), max_seq_len=32),
        TrainConfig(
            free_bits=0.0, max_beta=0.15, beta_rate=0.998, batch_size=128, eval_every=250, n_eval=512
        ),
    ),
    "default-16bar": (
        MusicVAEConfig(
            z_size=512, enc_rnn_size=(128,), dec_rnn_size=(128, 128), max_seq_len=256, level_lengths=(16, 16)
        ),
        TrainConfig(
            free_bits=0.0,
            max_beta=0.1,
            beta_rate=0.998,
            learning_rate=2e-3,
            batch_size=16,
            eval_every=200,
            n_eval=128,
        ),
    ),
}

# settings added after runs were recorded, with the value that reproduces a run recorded without them
RECORDED_DEFAULTS: dict[str, Any] = {"batch_parts": 1}

# the run controls a resumed run may change; every other setting comes from the run's own train_config.json
RESUME_OVERRIDABLE = ("max_steps", "max_minutes")


def preset_configs(
    preset: str, arch_overrides: dict[str, Any] | None = None, train_overrides: dict[str, Any] | None = None
) -> tuple[MusicVAEConfig, TrainConfig]:
    """The architecture and optimisation configs of ``preset`` with some fields replaced.

    Raises :class:`~musicneurons.errors.UserError` for an unknown preset or field name.
    """
    if preset not in TRAIN_PRESETS:
        msg = f"unknown preset {preset!r}; known: {', '.join(TRAIN_PRESETS)}"
        raise UserError(msg)
    model_config, cfg = TRAIN_PRESETS[preset]
    try:
        model_config = dataclasses.replace(model_config, **(arch_overrides or {}))
        cfg = dataclasses.replace(cfg, **(train_overrides or {}))
    except TypeError as exc:
        raise UserError(f"preset {preset!r}: {exc}") from exc
    return model_config, cfg


def resumed_configs(
    doc: dict[str, Any], train_overrides: dict[str, Any] | None = None
) -> tuple[MusicVAEConfig, TrainConfig]:
    """The configs saved in a run's ``train_config.json`` (``doc``), with only the run controls of
    :data:`RESUME_OVERRIDABLE` taken from ``train_overrides``."""
    model_config = MusicVAEConfig.from_dict(doc["model"])
    keep = {k: v for k, v in (train_overrides or {}).items() if k in RESUME_OVERRIDABLE}
    return model_config, dataclasses.replace(recorded_train_config(doc["train_config"]), **keep)


def recorded_train_config(recorded: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` a run recorded (``train_config`` of its train_config.json or model metadata).

    A setting added after the run was recorded takes the value that reproduces what the run did, not
    today's default: ``batch_parts`` 1 (whole batches).
    """
    return TrainConfig(**{**RECORDED_DEFAULTS, **recorded})

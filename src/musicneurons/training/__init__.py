"""Training a MusicVAE with Magenta's objective, one module per job.

- :mod:`~musicneurons.training.config`: :class:`TrainConfig` and :data:`TRAIN_PRESETS`;
- :mod:`~musicneurons.training.objective`: the loss terms and the beta / sampling / learning-rate schedules;
- :mod:`~musicneurons.training.optim`: TensorFlow 1's Adam and Magenta's global-norm clipping;
- :mod:`~musicneurons.training.batches`: data order, transposition, the validation split;
- :mod:`~musicneurons.training.evaluation`: held-out metrics logged during training;
- :mod:`~musicneurons.training.checkpoints`: resumable training state;
- :mod:`~musicneurons.training.loop`: one optimiser step, the run, ``train_from_parquet`` (the CLI's call).

Imports ``model``, ``data`` and the top-level leaves.
"""

from musicneurons.training.config import TRAIN_PRESETS, TrainConfig
from musicneurons.training.loop import train, train_from_parquet, warm_start

__all__ = ["TRAIN_PRESETS", "TrainConfig", "train", "train_from_parquet", "warm_start"]

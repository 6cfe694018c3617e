"""Magenta's objective: the loss terms and the schedules of beta, scheduled sampling and the learning rate.

Everything follows magenta/models/music_vae (``base_model.py``, ``lstm_utils.py``):

- loss = mean_batch(r_loss) + beta(step) * mean_batch(max(KL - free_bits * ln 2, 0)), with r_loss the
  cross-entropy summed over steps and KL(N(mu, sigma^2) || N(0, I)) summed over z dims, in nats;
- beta(step) = (1 - beta_rate^step) * max_beta;
- scheduled sampling probability: constant, ``exponential`` 1 - rate^step, or ``inverse_sigmoid``
  1 - k / (k + exp(step / k));
- learning rate (lr0 - min_lr) * decay_rate^step + min_lr.

The schedules are pure functions of the step; :func:`loss_terms` returns a dict of named scalar tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from musicneurons.training.config import TrainConfig

LN2 = math.log(2.0)
INVERSE_SIGMOID_SATURATION = 700.0  # exp(x) overflows a float past x ~ 709; p is 1.0 to float precision there


def beta(step: int, cfg: TrainConfig) -> float:
    """KL weight at ``step``: (1 - beta_rate**step) * max_beta (Magenta ``base_model.py``)."""
    return (1.0 - cfg.beta_rate**step) * cfg.max_beta


def sampling_probability(step: float, cfg: TrainConfig) -> float:
    """Probability of feeding the model's own sample instead of the truth.

    Magenta's ``get_sampling_probability``: ``constant``: the rate itself; ``exponential``: 1 - rate**step;
    ``inverse_sigmoid``: 1 - k / (k + e^(step/k)).
    """
    k = cfg.sampling_rate
    if cfg.sampling_schedule == "constant":
        return float(k)
    if cfg.sampling_schedule == "exponential":
        return 1.0 - k**step
    x = step / k
    return 1.0 if x > INVERSE_SIGMOID_SATURATION else 1.0 - k / (k + math.exp(x))


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """(learning_rate - min_learning_rate) * decay_rate**step + min_learning_rate (Magenta base_model.py)."""
    return (cfg.learning_rate - cfg.min_learning_rate) * cfg.decay_rate**step + cfg.min_learning_rate


def kl_divergence(mu: Tensor, sigma: Tensor) -> Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per example, summed over z dims, in nats: (B,)."""
    return (-torch.log(sigma) + 0.5 * (sigma**2 + mu**2) - 0.5).sum(dim=-1)


def loss_terms(
    logits: Tensor, targets: Tensor, mu: Tensor, sigma: Tensor, step: int, cfg: TrainConfig
) -> dict[str, Tensor]:
    """Magenta's loss and its logged terms, as a dict of scalar tensors.

    Parameters
    ----------
    logits : Tensor
        (B, T, C) decoder logits.
    targets : Tensor
        (B, T) class indices.
    mu, sigma : Tensor
        (B, Z) posterior.
    step : int
        The optimiser step (0-based), for beta.
    cfg : TrainConfig

    Returns
    -------
    dict
        ``loss`` (what is minimised), ``r_loss`` (mean over the batch of the per-example summed
        cross-entropy), ``kl`` (mean KL in nats), ``kl_bits``, ``kl_cost`` (mean of
        max(KL - free_bits ln 2, 0)), ``beta``, ``elbo`` (-(r_loss + kl)), ``accuracy`` (teacher-forced,
        all steps).
    """
    logits = logits.float()
    ce = F.cross_entropy(logits.transpose(1, 2), targets.long(), reduction="none")  # (B, T)
    r_loss = ce.sum(dim=1)
    kl = kl_divergence(mu.float(), sigma.float())
    kl_cost = torch.clamp(kl - cfg.free_bits * LN2, min=0.0)
    b = beta(step, cfg)
    loss = r_loss.mean() + b * kl_cost.mean()
    with torch.no_grad():
        accuracy = (logits.argmax(dim=-1) == targets).float().mean()
    return {
        "loss": loss,
        "r_loss": r_loss.mean(),
        "kl": kl.mean(),
        "kl_bits": kl.mean() / LN2,
        "kl_cost": kl_cost.mean(),
        "beta": torch.tensor(b),
        "elbo": -(r_loss + kl).mean(),
        "accuracy": accuracy,
    }

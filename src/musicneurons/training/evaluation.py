"""Held-out metrics logged during training: accuracies, r_loss, KL and the latent statistics of the study."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from musicneurons.arrays import noise_silence
from musicneurons.constants import SHARP_SIGMA_THRESHOLD
from musicneurons.model.musicvae import MusicVAE
from musicneurons.training.config import TrainConfig
from musicneurons.training.objective import LN2, kl_divergence

ACTIVE_VARIANCE = 0.01  # Burda et al. (2016): a dim is "active" when Var over windows of mu_j exceeds this
EVAL_BATCH = 128  # windows per forward pass during evaluation


def silence_measures(mu: np.ndarray, mean_sigma: np.ndarray) -> dict[str, float]:
    """How silent the noise dims (mean sigma >= SHARP_SIGMA_THRESHOLD) are, from mu (n_windows, Z).

    ``noise_silent_share``: share of the noise dims with mean sigma >= SILENT_SIGMA (1.0 when there are none);
    ``noise_excited_median``: median over windows of the number of noise dims with |mu| > EXCITED_MU.
    """
    silent, excited = noise_silence(mu, mean_sigma, mean_sigma >= SHARP_SIGMA_THRESHOLD)
    return {"noise_silent_share": round(silent, 4), "noise_excited_median": excited}


@torch.no_grad()
def evaluate(
    model: MusicVAE, windows: np.ndarray, cfg: TrainConfig, *, free_running: bool = True
) -> dict[str, Any]:
    """Held-out metrics with z = mu.

    Returns a dict: ``val_accuracy`` (teacher-forced), ``val_free_accuracy`` (argmax, free-running; only with
    ``free_running``), ``val_r_loss``, ``val_kl_bits``, ``n_sigma_below_0_9`` (dims with mean sigma below
    :data:`~musicneurons.constants.SHARP_SIGMA_THRESHOLD`), ``n_var_mu_above_0_01`` (dims with Var(mu) above
    :data:`ACTIVE_VARIANCE`), ``noise_max_abs_mean_mu`` (largest |mean mu| of the other dims, the "noise"
    dims), the silence of the noise dims: ``noise_silent_share`` (share of them with mean sigma >=
    :data:`~musicneurons.constants.SILENT_SIGMA`) and ``noise_excited_median`` (median over the windows of the
    number of noise dims with |mu| > :data:`~musicneurons.constants.EXCITED_MU`), and ``mean_sigma_sorted``.
    """
    model.eval()
    device = next(model.parameters()).device
    x = torch.tensor(np.asarray(windows, dtype=np.int64), device=device)  # a copy: inputs may be read-only
    mus, sigmas, r_losses = [], [], []
    tf_hits, fr_hits = 0, 0
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        for i in range(0, len(x), EVAL_BATCH):
            xb = x[i : i + EVAL_BATCH]
            mu, sigma = model.encode(xb)
            mu, sigma = mu.float(), sigma.float()
            logits = model.decode_teacher_forced(mu, xb).float()
            tf_hits += int((logits.argmax(-1) == xb).sum())
            r_losses.append(F.cross_entropy(logits.transpose(1, 2), xb, reduction="none").sum(1))
            if free_running:
                classes, _ = model.sample(mu, xb.shape[1], temperature=0.0)
                fr_hits += int((classes == xb).sum())
            mus.append(mu)
            sigmas.append(sigma)
    model.train()
    mu_np = torch.cat(mus).double().cpu().numpy()
    sigma_np = torch.cat(sigmas).double().cpu().numpy()
    mean_sigma = sigma_np.mean(axis=0)
    sharp = mean_sigma < SHARP_SIGMA_THRESHOLD
    n_steps = x.numel()
    kl = kl_divergence(torch.as_tensor(mu_np), torch.as_tensor(sigma_np))
    out = {
        "val_accuracy": tf_hits / n_steps,
        "val_r_loss": float(torch.cat(r_losses).mean()),
        "val_kl_bits": float(kl.mean() / LN2),
        "n_sigma_below_0_9": int(sharp.sum()),
        "n_var_mu_above_0_01": int((mu_np.var(axis=0) > ACTIVE_VARIANCE).sum()),
        "noise_max_abs_mean_mu": float(np.abs(mu_np.mean(axis=0)[~sharp]).max()) if (~sharp).any() else 0.0,
        **silence_measures(mu_np, mean_sigma),
        "mean_sigma_sorted": [round(float(s), 4) for s in np.sort(mean_sigma)],
    }
    if free_running:
        out["val_free_accuracy"] = fr_hits / n_steps
    return out

"""Train a MusicVAE with Magenta's objective: schedules, loss terms, TF-style Adam, and a resumable loop.

Everything follows magenta/models/music_vae (``base_model.py``, ``lstm_utils.py``, ``music_vae_train.py``):

- loss = mean_batch(r_loss) + beta(step) * mean_batch(max(KL - free_bits * ln 2, 0)), with r_loss the
  cross-entropy summed over steps and KL(N(mu, sigma^2) || N(0, I)) summed over z dims, in nats;
- beta(step) = (1 - beta_rate^step) * max_beta;
- scheduled sampling probability: constant, ``exponential`` 1 - rate^step, or ``inverse_sigmoid``
  1 - k / (k + exp(step / k));
- learning rate (lr0 - min_lr) * decay_rate^step + min_lr, Adam (beta1 0.9, beta2 0.999, epsilon 1e-8 placed as
  TensorFlow places it, see :class:`TFAdam`);
- gradients clipped to global norm ``grad_clip``; when the norm reaches ``grad_norm_clip_to_zero`` the norm used
  for clipping is 1e10, which scales the whole gradient to ~0 (Magenta's guard against blow-ups).

Differences from Magenta, on purpose (see docs/training.md): transposition is drawn afresh every time an example
is used (Magenta's cached tf.data pipeline transposes only in the first epoch), and a shift that would push a note
out of 21..108 is never drawn (Magenta drops such notes); data order, transpositions, posterior noise and
scheduled-sampling draws are pure functions of (seed, step), so a resumed run is bit-identical to an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from musicneurons.constants import FIRST_PITCH_CLASS, NUM_CLASSES
from musicneurons.model.musicvae import PRESETS, MusicVAE, MusicVAEConfig

log = logging.getLogger(__name__)

LN2 = math.log(2.0)
TRANSPOSE_RANGE = 5  # Magenta's NoteSequenceAugmenter(transpose_range=(-5, 5))
CLIP_TO_ZERO_NORM = (
    1.0e10  # the norm Magenta substitutes once the gradient norm reaches grad_norm_clip_to_zero
)


# --------------------------------------------------------------------------- configuration


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

    def __post_init__(self) -> None:
        if self.sampling_schedule not in ("constant", "exponential", "inverse_sigmoid"):
            msg = f"sampling_schedule must be constant, exponential or inverse_sigmoid, got {self.sampling_schedule!r}"
            raise ValueError(msg)
        if self.batch_size < 1:
            msg = f"batch_size must be >= 1, got {self.batch_size}"
            raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Magenta's optimisation hparams per config (magenta/models/music_vae/configs.py), plus this package's defaults.
_MAGENTA_2BAR = {"sampling_schedule": "inverse_sigmoid", "sampling_rate": 1000.0, "beta_rate": 0.99999}
TRAIN_PRESETS: dict[str, tuple[MusicVAEConfig, TrainConfig]] = {
    "cat-mel_2bar_small": (PRESETS["cat-mel_2bar_small"], TrainConfig(max_beta=0.2, **_MAGENTA_2BAR)),
    "cat-mel_2bar_big": (PRESETS["cat-mel_2bar_big"], TrainConfig(max_beta=0.5, **_MAGENTA_2BAR)),
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


# --------------------------------------------------------------------------- schedules (pure functions)


def beta(step: int, cfg: TrainConfig) -> float:
    """KL weight at ``step``: (1 - beta_rate**step) * max_beta (Magenta ``base_model.py``)."""
    return (1.0 - cfg.beta_rate**step) * cfg.max_beta


def sampling_probability(step: int, cfg: TrainConfig) -> float:
    """Probability of feeding the model's own sample instead of the truth (Magenta ``get_sampling_probability``)."""
    k = cfg.sampling_rate
    if cfg.sampling_schedule == "constant":
        return float(k)
    if cfg.sampling_schedule == "exponential":
        return 1.0 - k**step
    # inverse_sigmoid: 1 - k / (k + exp(step / k)); exp overflows past step ~ 709 k, where p is 1
    x = step / k
    return 1.0 if x > 700 else 1.0 - k / (k + math.exp(x))


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """(learning_rate - min_learning_rate) * decay_rate**step + min_learning_rate (Magenta ``base_model.py``)."""
    return (cfg.learning_rate - cfg.min_learning_rate) * cfg.decay_rate**step + cfg.min_learning_rate


# --------------------------------------------------------------------------- loss


def kl_divergence(mu: Tensor, sigma: Tensor) -> Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per example, summed over z dims, in nats: (B,)."""
    return (-torch.log(sigma) + 0.5 * (sigma**2 + mu**2) - 0.5).sum(dim=-1)


def loss_terms(
    logits: Tensor, targets: Tensor, mu: Tensor, sigma: Tensor, step: int, cfg: TrainConfig
) -> dict:
    """Magenta's loss and its logged terms, as a dict of scalar tensors.

    Parameters
    ----------
    logits : (B, T, C) decoder logits; targets : (B, T) class indices; mu, sigma : (B, Z) posterior.

    Returns
    -------
    ``loss`` (what is minimised), ``r_loss`` (mean over the batch of the per-example summed cross-entropy),
    ``kl`` (mean KL in nats), ``kl_bits``, ``kl_cost`` (mean of max(KL - free_bits ln 2, 0)), ``beta``,
    ``elbo`` (-(r_loss + kl)), ``accuracy`` (teacher-forced, all steps).
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


# --------------------------------------------------------------------------- optimiser and clipping


class TFAdam(torch.optim.Optimizer):
    """Adam exactly as TensorFlow 1's ``AdamOptimizer`` (Magenta's optimiser).

    TF folds the bias corrections into the step size, lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t), and updates
    theta -= lr_t * m / (sqrt(v) + eps). PyTorch's Adam divides by (sqrt(v / (1 - b2^t)) + eps) instead, i.e. its
    epsilon is larger by 1 / sqrt(1 - b2^t) early in training; otherwise the two are identical.
    """

    def __init__(
        self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["m"], state["v"]
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                lr_t = group["lr"] * math.sqrt(1 - b2**t) / (1 - b1**t)
                p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-lr_t)


def clip_gradients(params: list[Tensor], cfg: TrainConfig) -> float:
    """Magenta's clipping: scale by grad_clip / max(norm, grad_clip), with norm := 1e10 once it reaches
    ``grad_norm_clip_to_zero``. Returns the global norm before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    use_norm = norm if norm < cfg.grad_norm_clip_to_zero else CLIP_TO_ZERO_NORM
    if not math.isfinite(use_norm):
        use_norm = CLIP_TO_ZERO_NORM
    scale = cfg.grad_clip / max(use_norm, cfg.grad_clip)
    if scale < 1.0:
        for g in grads:
            g.mul_(scale)
    return norm


# --------------------------------------------------------------------------- data


def transpose_windows(
    windows: np.ndarray, rng: np.random.Generator, max_shift: int = TRANSPOSE_RANGE
) -> np.ndarray:
    """Shift every window's pitches by one random integer in [-max_shift, max_shift] semitones.

    Only shifts that keep all of a window's notes inside 21..108 are drawn (uniformly among those), so no note
    is ever dropped; NO_EVENT and NOTE_OFF are unchanged. Returns a new int8 array.
    """
    w = windows.astype(np.int16)
    is_pitch = w >= FIRST_PITCH_CLASS
    lo_cls = np.where(is_pitch, w, NUM_CLASSES).min(axis=1)
    hi_cls = np.where(is_pitch, w, -1).max(axis=1)
    has = hi_cls >= 0
    lo = np.where(has, np.maximum(-max_shift, FIRST_PITCH_CLASS - lo_cls), -max_shift)
    hi = np.where(has, np.minimum(max_shift, NUM_CLASSES - 1 - hi_cls), max_shift)
    shift = lo + np.floor(rng.random(len(w)) * (hi - lo + 1)).astype(np.int16)
    return np.where(is_pitch, w + shift[:, None], w).astype(np.int8)


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> np.ndarray:
    """Indices of the examples of ``step``: a stream of per-epoch permutations seeded by (seed, epoch)."""
    start = step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, pos = divmod(start, n)
        perm = np.random.default_rng([seed, 7, epoch]).permutation(n)
        take = perm[pos : pos + batch_size - len(out)]
        out.extend(take.tolist())
        start += len(take)
    return np.asarray(out, dtype=np.int64)


def split_by_source(sources: np.ndarray, valid_fraction: float = 0.05) -> np.ndarray:
    """Boolean mask of validation rows: whole source files go to validation by a stable sha1 of their name."""
    uniq = np.unique(sources)
    chosen = {
        s for s in uniq if int(hashlib.sha1(str(s).encode()).hexdigest()[:12], 16) / 16**12 < valid_fraction
    }
    return np.array([s in chosen for s in sources], dtype=bool)


def read_windows(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(windows int8 (n, T), sources (n,)) from a ``windows.parquet`` written by ``musicneurons extract``."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["source", "window"])
    col = table.column("window").combine_chunks()
    flat = np.asarray(col.flatten(), dtype=np.int8)
    n = len(col)
    if n == 0:
        msg = f"{path} holds no windows"
        raise ValueError(msg)
    windows = flat.reshape(n, -1)
    return windows, np.asarray(table.column("source").to_pylist(), dtype=object)


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(model: MusicVAE, windows: np.ndarray, cfg: TrainConfig, *, free_running: bool = True) -> dict:
    """Held-out metrics with z = mu: teacher-forced and free-running (argmax) accuracy, r_loss, KL, and the
    latent statistics of the study (dims with mean sigma < 0.9, with Var(mu) > 0.01, |mean mu| of the others)."""
    model.eval()
    device = next(model.parameters()).device
    x = torch.tensor(np.asarray(windows, dtype=np.int64), device=device)  # a copy: inputs may be read-only
    mus, sigmas, tf_hits, fr_hits, r_losses = [], [], 0, 0, []
    bs = 128
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        for i in range(0, len(x), bs):
            xb = x[i : i + bs]
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
    mu = torch.cat(mus).double().cpu().numpy()
    sigma = torch.cat(sigmas).double().cpu().numpy()
    mean_sigma = sigma.mean(axis=0)
    music = mean_sigma < 0.9
    n_steps = x.numel()
    out = {
        "val_accuracy": tf_hits / n_steps,
        "val_r_loss": float(torch.cat(r_losses).mean()),
        "val_kl_bits": float(kl_divergence(torch.as_tensor(mu), torch.as_tensor(sigma)).mean() / LN2),
        "n_sigma_below_0_9": int(music.sum()),
        "n_var_mu_above_0_01": int((mu.var(axis=0) > 0.01).sum()),
        "noise_max_abs_mean_mu": float(np.abs(mu.mean(axis=0)[~music]).max()) if (~music).any() else 0.0,
        "mean_sigma_sorted": [round(float(s), 4) for s in np.sort(mean_sigma)],
    }
    if free_running:
        out["val_free_accuracy"] = fr_hits / n_steps
    return out


# --------------------------------------------------------------------------- checkpoints


def _save_checkpoint(out: Path, model: MusicVAE, opt: TFAdam, step: int, elapsed: float, meta: dict) -> None:
    """Write ``out/checkpoint-<step>/`` (weights, config, optimiser, state), then point ``out/latest`` at it."""
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
    latest_tmp = out / ".latest.tmp"
    latest_tmp.write_text(ckpt.name)
    latest_tmp.replace(out / "latest")
    for old in out.glob("checkpoint-*"):
        if old != ckpt:
            shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(out: Path, model: MusicVAE, opt: TFAdam) -> tuple[int, float]:
    from safetensors.torch import load_file

    name = (out / "latest").read_text().strip()
    ckpt = out / name
    model.load_state_dict(load_file(str(ckpt / "weights.safetensors")))
    opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=False))
    state = json.loads((ckpt / "state.json").read_text())
    return int(state["step"]), float(state["elapsed_s"])


# --------------------------------------------------------------------------- the loop


def warm_start(model: MusicVAE, model_dir: str | os.PathLike) -> list[str]:
    """Copy every tensor of ``model_dir/weights.safetensors`` whose name and shape match ``model`` (e.g. the
    encoder, mu and sigma of a trained 2-bar model into a 16-bar model with the same encoder); returns their names.
    """
    from safetensors.torch import load_file

    source = load_file(str(Path(model_dir) / "weights.safetensors"))
    target = model.state_dict()
    loaded = sorted(k for k, v in source.items() if k in target and tuple(target[k].shape) == tuple(v.shape))
    if not loaded:
        msg = f"{model_dir}: no tensor matches the model's names and shapes"
        raise ValueError(msg)
    model.load_state_dict({**target, **{k: source[k] for k in loaded}})
    log.info("warm start from %s: %d tensors (%s ...)", model_dir, len(loaded), ", ".join(loaded[:3]))
    return loaded


def train(
    train_windows: np.ndarray,
    valid_windows: np.ndarray,
    model_config: MusicVAEConfig,
    cfg: TrainConfig,
    out: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    resume: bool = False,
    progress: bool = True,
    metadata: dict | None = None,
    init_from: str | os.PathLike | None = None,
) -> Path:
    """Train a MusicVAE and write ``out/model/`` (weights.safetensors + config.json) and ``out/log.jsonl``.

    Resumable: a checkpoint (weights, optimiser state, step, elapsed time) is written to ``out/checkpoint-*``
    every ``cfg.checkpoint_every_s`` seconds and at the end; with ``resume=True`` training continues from it.
    Returns the path of ``out/model``.
    """
    from tqdm import tqdm

    from musicneurons.model.checkpoints import save_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    T = model_config.max_seq_len
    if train_windows.ndim != 2 or train_windows.shape[1] != T:
        msg = f"training windows have shape {train_windows.shape}, the model needs (n, {T})"
        raise ValueError(msg)
    model = MusicVAE(model_config, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
    if init_from is not None and not (resume and (out / "latest").exists()):
        loaded = warm_start(model, init_from)
        metadata = {**(metadata or {}), "init_from": str(init_from), "init_tensors": loaded}
    opt = TFAdam(model.parameters(), lr=learning_rate(0, cfg))
    step, elapsed = 0, 0.0
    if resume and (out / "latest").exists():
        step, elapsed = _load_checkpoint(out, model, opt)
        log.info("resumed from step %d (%.1f min trained)", step, elapsed / 60)
    eval_rng = np.random.default_rng([cfg.seed, 11])
    eval_set = (
        valid_windows[eval_rng.permutation(len(valid_windows))[: cfg.n_eval]] if len(valid_windows) else None
    )
    meta = {
        "train_config": cfg.to_dict(),
        "n_train_windows": len(train_windows),
        "n_valid_windows": len(valid_windows),
        **(metadata or {}),
    }
    (out / "train_config.json").write_text(json.dumps({"model": model_config.to_dict(), **meta}, indent=1))
    params = list(model.parameters())
    model.train()
    last_ckpt = time.perf_counter()
    session_start = time.perf_counter() - elapsed
    bar = tqdm(total=cfg.max_steps or None, initial=step, disable=not progress, mininterval=10, unit="step")
    logf = open(out / "log.jsonl", "a")  # noqa: SIM115 (closed in the finally below)
    n = len(train_windows)

    def time_up() -> bool:
        return cfg.max_minutes > 0 and (time.perf_counter() - session_start) >= cfg.max_minutes * 60

    try:
        while (cfg.max_steps == 0 or step < cfg.max_steps) and not time_up():
            idx = batch_indices(step, n, cfg.batch_size, cfg.seed)
            xb = train_windows[idx]
            if cfg.transpose:
                xb = transpose_windows(xb, np.random.default_rng([cfg.seed, 13, step]))
            x = torch.as_tensor(xb, dtype=torch.long, device=device)
            gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + step)
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, cfg)
            p_sample = sampling_probability(step, cfg)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                mu, sigma = model.encode(x)
                mu, sigma = mu.float(), sigma.float()
                eps = torch.randn(mu.shape, generator=gen, device=device)
                z = mu + sigma * eps
                logits = model.decode_teacher_forced(z, x, sampling_probability=p_sample, generator=gen)
            terms = loss_terms(logits, x, mu, sigma, step, cfg)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            grad_norm = clip_gradients(params, cfg)
            opt.step()
            step += 1
            bar.update(1)
            record = {k: round(float(v.detach()), 5) for k, v in terms.items()}
            record.update(
                step=step,
                lr=learning_rate(step - 1, cfg),
                sampling_probability=p_sample,
                grad_norm=round(grad_norm, 4),
                minutes=round((time.perf_counter() - session_start) / 60, 3),
            )
            if eval_set is not None and cfg.eval_every and step % cfg.eval_every == 0:
                record.update(evaluate(model, eval_set, cfg))
                log.info(
                    "step %d: val acc %.3f free %.3f, dims sigma<0.9: %d",
                    step,
                    record["val_accuracy"],
                    record["val_free_accuracy"],
                    record["n_sigma_below_0_9"],
                )
            logf.write(json.dumps(record) + "\n")
            logf.flush()
            # refresh=False: the bar redraws at most every mininterval (a log file gets no line per step)
            bar.set_postfix(
                loss=f"{record['loss']:.1f}",
                acc=f"{record['accuracy']:.3f}",
                kl_bits=f"{record['kl_bits']:.1f}",
                refresh=False,
            )
            if time.perf_counter() - last_ckpt >= cfg.checkpoint_every_s:
                _save_checkpoint(out, model, opt, step, time.perf_counter() - session_start, meta)
                last_ckpt = time.perf_counter()
    finally:
        bar.close()
        elapsed = time.perf_counter() - session_start
        _save_checkpoint(out, model, opt, step, elapsed, meta)
        logf.close()
    final = {"step": step, "train_minutes": round(elapsed / 60, 2)}
    if eval_set is not None:
        final.update(evaluate(model, eval_set, cfg))
    (out / "final_metrics.json").write_text(json.dumps(final, indent=1))
    return save_model(model, out / "model", metadata={**meta, **final})


def train_from_parquet(
    windows_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    preset: str = "default-2bar",
    valid_path: str | os.PathLike | None = None,
    arch_overrides: dict | None = None,
    train_overrides: dict | None = None,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    init_from: str | os.PathLike | None = None,
) -> Path:
    """Train from ``windows.parquet`` files (what ``musicneurons extract`` writes); the CLI's one call.

    Validation windows come from ``valid_path`` or, when it is None, from 5% of the source files of
    ``windows_path`` (split by file, never by window). ``preset`` names an entry of :data:`TRAIN_PRESETS`;
    the overrides replace fields of its :class:`MusicVAEConfig` and :class:`TrainConfig`. With ``resume`` an
    existing run in ``out`` continues (its saved configs win over the preset).
    """
    from musicneurons.device import configure_cpu_numerics, resolve_device

    if preset not in TRAIN_PRESETS:
        msg = f"unknown preset {preset!r}; known: {', '.join(TRAIN_PRESETS)}"
        raise ValueError(msg)
    model_config, cfg = TRAIN_PRESETS[preset]
    model_config = dataclasses.replace(model_config, **(arch_overrides or {}))
    cfg = dataclasses.replace(cfg, **(train_overrides or {}))
    saved = Path(out) / "train_config.json"
    if resume and saved.exists():
        doc = json.loads(saved.read_text())
        model_config = MusicVAEConfig.from_dict(doc["model"])
        keep = {k: v for k, v in (train_overrides or {}).items() if k in ("max_steps", "max_minutes")}
        cfg = dataclasses.replace(TrainConfig(**doc["train_config"]), **keep)
    windows, sources = read_windows(windows_path)
    if valid_path is not None:
        train_w = windows
        valid_w, _ = read_windows(valid_path)
    else:
        is_valid = split_by_source(sources)
        train_w, valid_w = windows[~is_valid], windows[is_valid]
    configure_cpu_numerics()
    meta = {"preset": preset, "windows": str(windows_path), "valid": str(valid_path) if valid_path else None}
    return train(
        train_w,
        valid_w,
        model_config,
        cfg,
        out,
        device=resolve_device(device),
        resume=resume,
        progress=progress,
        metadata=meta,
        init_from=init_from,
    )

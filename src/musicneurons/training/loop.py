"""The resumable training loop: one optimiser step, the run (log, evaluation, checkpoints) and its CLI entry.

Data order, transpositions, posterior noise and scheduled-sampling draws are pure functions of (seed, step),
so a resumed run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicneurons.atomic_files import atomic_write
from musicneurons.constants import EXCITED_MU, SHARP_SIGMA_THRESHOLD, SILENT_SIGMA
from musicneurons.errors import UserError
from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig
from musicneurons.training import scheduled, teacher_forced
from musicneurons.training.batches import batch_indices, split_by_source, transpose_windows
from musicneurons.training.checkpoints import (
    has_checkpoint,
    load_checkpoint,
    remove_stray_temporaries,
    save_checkpoint,
    trim_log,
)
from musicneurons.training.config import TrainConfig, preset_configs, resumed_configs
from musicneurons.training.evaluation import evaluate
from musicneurons.training.objective import learning_rate, loss_terms, sampling_probability
from musicneurons.training.optim import TFAdam, clip_gradients
from musicneurons.training.parallel import PartRunner, part_runner, part_slices, parts_on, sum_in_order

log = logging.getLogger(__name__)

# stream ids mixed into the seed, so each kind of draw has its own reproducible stream
_EVAL_STREAM = 11
_TRANSPOSE_STREAM = 13
_PART_STREAM = 17
_STEP_SEED_MULTIPLIER = 1_000_003  # torch generator of step s: seed * this + s
LOG_FILE = "log.jsonl"  # one JSON line per optimiser step
CONFIG_FILE = "train_config.json"  # the run's architecture and training configs (a resumed run reads them)


def warm_start(model: MusicVAE, model_dir: str | os.PathLike) -> list[str]:
    """Copy every tensor of ``model_dir/weights.safetensors`` whose name and shape match ``model``.

    E.g. the encoder, mu and sigma of a trained 2-bar model into a 16-bar model with the same encoder. Returns
    the names copied.
    """
    from musicneurons.model.checkpoints import load_folder

    source = load_folder(Path(model_dir))[0].state_dict()  # checked: config, shapes, checksums
    target = model.state_dict()
    loaded = sorted(k for k, v in source.items() if k in target and tuple(target[k].shape) == tuple(v.shape))
    if not loaded:
        msg = f"{model_dir}: no tensor matches the model's names and shapes"
        raise UserError(msg)
    model.load_state_dict({**target, **{k: source[k] for k in loaded}})
    log.info("warm start from %s: %d tensors (%s ...)", model_dir, len(loaded), ", ".join(loaded[:3]))
    return loaded


def _check_out(out: Path, resuming: bool) -> None:
    """Refuse to start a fresh run in a folder that holds another one (its log would mix with the new one)."""
    if resuming:
        return
    if has_checkpoint(out) or (out / LOG_FILE).exists():
        msg = f"{out} already holds a training run: add --resume to continue it, or choose another --out"
        raise UserError(msg)


def step_batch(windows: np.ndarray, step: int, cfg: TrainConfig) -> np.ndarray:
    """The (augmented) int8 windows of ``step``: a pure function of (windows, step, cfg.seed)."""
    xb = windows[batch_indices(step, len(windows), cfg.batch_size, cfg.seed)]
    if cfg.transpose:
        xb = transpose_windows(xb, np.random.default_rng([cfg.seed, _TRANSPOSE_STREAM, step]))
    return xb


def _part_generator(cfg: TrainConfig, step: int, part: int, device: torch.device) -> torch.Generator:
    """The scheduled-sampling generator of one part of a split batch: a function of (seed, step, part)."""
    seed = int(np.random.SeedSequence([cfg.seed, _PART_STREAM, step, part]).generate_state(1)[0])
    return torch.Generator(device=device).manual_seed(seed)


def _part_terms(
    model: MusicVAE,
    x: torch.Tensor,
    eps: torch.Tensor,
    p_sample: float,
    gen: torch.Generator,
    step: int,
    cfg: TrainConfig,
) -> dict[str, torch.Tensor]:
    """The loss terms of the windows ``x`` (B, T) with posterior noise ``eps`` (B, Z)."""
    if cfg.bf16 or x.device.type != "cpu":  # the model's own paths (autocast; cuDNN's kernels)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            mu, sigma = model.encode(x)
            mu, sigma = mu.float(), sigma.float()
            z = mu + sigma * eps
            logits = model.decode_teacher_forced(z, x, sampling_probability=p_sample, generator=gen)
    else:  # fp32 on CPU: the model's numbers, with decoders built for training (teacher_forced, scheduled)
        mu, sigma = model.encode(x)
        z = mu + sigma * eps
        if p_sample > 0:
            logits = scheduled.decode_scheduled(model, z, x, p_sample, gen)
        else:
            logits = teacher_forced.decode_teacher_forced(model, z, x)
    return loss_terms(logits, x, mu, sigma, step, cfg)


def train_step(
    model: MusicVAE,
    opt: TFAdam,
    x: torch.Tensor,
    step: int,
    cfg: TrainConfig,
    runner: PartRunner | None = None,
) -> tuple[dict[str, torch.Tensor], float, float]:
    """One optimiser step on the batch ``x`` (B, T) of class indices.

    Returns (loss terms of the whole batch, global gradient norm before clipping, scheduled-sampling
    probability).

    The posterior noise comes from a generator seeded by (cfg.seed, step). The batch runs as
    ``cfg.batch_parts`` slices (on ``runner``'s threads; inline without one), each weighted by its share of
    the batch; their gradients are summed in slice order (on a GPU the batch runs whole: ``parts_on``). With
    one part the scheduled-sampling draws continue the step's generator; with several each part has its own
    generator seeded by (cfg.seed, step, part).
    """
    device = x.device
    gen = torch.Generator(device=device).manual_seed(cfg.seed * _STEP_SEED_MULTIPLIER + step)
    for group in opt.param_groups:
        group["lr"] = learning_rate(step, cfg)
    p_sample = sampling_probability(step, cfg)
    eps = torch.randn((x.shape[0], model.config.z_size), generator=gen, device=device)
    slices = part_slices(x.shape[0], parts_on(device, cfg.batch_parts))
    params = [p for g in opt.param_groups for p in g["params"]]

    def run_part(k: int) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor | None, ...]]:
        rows = slices[k]
        part_gen = gen if len(slices) == 1 else _part_generator(cfg, step, k, device)
        terms = _part_terms(model, x[rows], eps[rows], p_sample, part_gen, step, cfg)
        share = (rows.stop - rows.start) / x.shape[0]
        grads = torch.autograd.grad(terms["loss"] * share, params, allow_unused=True)
        return {name: value.detach() * share for name, value in terms.items()}, grads

    results = (runner or PartRunner()).map(run_part, len(slices))
    first, *others = [t for t, _ in results]
    terms = {name: sum((t[name] for t in others), start=value) for name, value in first.items()}  # in order
    opt.zero_grad(set_to_none=True)
    for p, g in zip(params, sum_in_order([r[1] for r in results]), strict=True):
        p.grad = g
    grad_norm = clip_gradients(params, cfg)
    opt.step()
    return terms, grad_norm, p_sample


def _eval_windows(valid_windows: np.ndarray, cfg: TrainConfig) -> np.ndarray | None:
    """The first ``cfg.n_eval`` validation windows of a seeded shuffle (None without validation windows)."""
    if not len(valid_windows):
        return None
    order = np.random.default_rng([cfg.seed, _EVAL_STREAM]).permutation(len(valid_windows))
    return valid_windows[order[: cfg.n_eval]]


def _step_record(terms: dict[str, torch.Tensor], step: int, cfg: TrainConfig, **extra: Any) -> dict[str, Any]:
    """One ``log.jsonl`` line: the loss terms (5 decimals), the step (1-based: steps done) and ``extra``."""
    record: dict[str, Any] = {k: round(float(v.detach()), 5) for k, v in terms.items()}
    record.update(step=step, lr=learning_rate(step - 1, cfg), **extra)
    return record


def _evaluate_and_log(model: MusicVAE, eval_set: np.ndarray, cfg: TrainConfig, step: int) -> dict[str, Any]:
    """The validation metrics of :func:`evaluate`, also logged as one line (the silence measures included)."""
    record = evaluate(model, eval_set, cfg)
    log.info(
        "step %d: val acc %.3f free %.3f; dims sigma<%g: %d; others silent (sigma>=%g) %.0f%%, "
        "excited (|mu|>%g) per window %g",
        step,
        record["val_accuracy"],
        record["val_free_accuracy"],
        SHARP_SIGMA_THRESHOLD,
        record["n_sigma_below_0_9"],
        SILENT_SIGMA,
        100 * record["noise_silent_share"],
        EXCITED_MU,
        record["noise_excited_median"],
    )
    return record


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
    metadata: dict[str, Any] | None = None,
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
    steps_per_window = model_config.max_seq_len
    if train_windows.ndim != 2 or train_windows.shape[1] != steps_per_window:
        msg = f"training windows have shape {train_windows.shape}, the model needs (n, {steps_per_window})"
        raise UserError(msg)
    resuming = resume and has_checkpoint(out)
    _check_out(out, resuming)
    remove_stray_temporaries(out)
    model = MusicVAE(model_config, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
    if init_from is not None and not resuming:
        loaded = warm_start(model, init_from)
        metadata = {**(metadata or {}), "init_from": str(init_from), "init_tensors": loaded}
    opt = TFAdam(model.parameters(), lr=learning_rate(0, cfg))
    step, elapsed = 0, 0.0
    if resuming:
        step, elapsed = load_checkpoint(out, model, opt)
        dropped = trim_log(out / LOG_FILE, step)
        log.info(
            "resumed from step %d (%.1f min trained; %d log lines after it dropped)",
            step,
            elapsed / 60,
            dropped,
        )
    eval_set = _eval_windows(valid_windows, cfg)
    meta = {
        "train_config": cfg.to_dict(),
        "n_train_windows": len(train_windows),
        "n_valid_windows": len(valid_windows),
        **(metadata or {}),
    }
    doc = json.dumps({"model": model_config.to_dict(), **meta}, indent=1)
    atomic_write(out / CONFIG_FILE, lambda path: path.write_text(doc))
    model.train()
    last_ckpt = time.perf_counter()
    session_start = time.perf_counter() - elapsed
    bar = tqdm(total=cfg.max_steps or None, initial=step, disable=not progress, mininterval=10, unit="step")
    logf = open(out / LOG_FILE, "a")  # noqa: SIM115 (closed in the finally below)

    def time_up() -> bool:
        return cfg.max_minutes > 0 and (time.perf_counter() - session_start) >= cfg.max_minutes * 60

    with part_runner(cfg.batch_parts, device) as runner:  # the batch's parts on worker threads
        try:
            while (cfg.max_steps == 0 or step < cfg.max_steps) and not time_up():
                x = torch.as_tensor(step_batch(train_windows, step, cfg), dtype=torch.long, device=device)
                terms, grad_norm, p_sample = train_step(model, opt, x, step, cfg, runner)
                step += 1
                bar.update(1)
                record = _step_record(
                    terms,
                    step,
                    cfg,
                    sampling_probability=p_sample,
                    grad_norm=round(grad_norm, 4),
                    minutes=round((time.perf_counter() - session_start) / 60, 3),
                )
                if eval_set is not None and cfg.eval_every and step % cfg.eval_every == 0:
                    record.update(_evaluate_and_log(model, eval_set, cfg, step))
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
                    save_checkpoint(out, model, opt, step, time.perf_counter() - session_start, meta)
                    last_ckpt = time.perf_counter()
        finally:
            bar.close()
            elapsed = time.perf_counter() - session_start
            save_checkpoint(out, model, opt, step, elapsed, meta)
            logf.close()
    final = {"step": step, "train_minutes": round(elapsed / 60, 2)}
    if eval_set is not None:
        final.update(evaluate(model, eval_set, cfg))
    atomic_write(out / "final_metrics.json", lambda path: path.write_text(json.dumps(final, indent=1)))
    return save_model(model, out / "model", metadata={**meta, **final})


def _read_windows(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(windows int8 (n, T), sources (n,)) of a ``windows.parquet`` (or its folder); refuses an empty one."""
    from musicneurons.data.corpus import read_windows

    windows, frame = read_windows(path)
    if len(windows) == 0:
        msg = f"{path} holds no windows"
        raise UserError(msg)
    if "source" in frame.columns:
        sources = frame["source"].to_numpy(dtype=object)
    else:
        sources = np.zeros(len(windows), dtype=object)  # one source: the split then keeps everything in train
    return windows, sources


def train_from_parquet(
    windows_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    preset: str = "default-2bar",
    valid_path: str | os.PathLike | None = None,
    arch_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    init_from: str | os.PathLike | None = None,
) -> Path:
    """Train from ``windows.parquet`` files (what ``musicneurons extract`` writes); the CLI's one call.

    Validation windows come from ``valid_path`` or, when it is None, from 5% of the source files of
    ``windows_path`` (split by file, never by window). ``preset`` names an entry of
    :data:`~musicneurons.training.config.TRAIN_PRESETS`; the overrides replace fields of its
    :class:`MusicVAEConfig` and :class:`TrainConfig`. With ``resume`` an existing run in ``out`` continues
    (its saved configs win over the preset).
    """
    from musicneurons.device import configure_cpu_numerics, resolve_device

    model_config, cfg = preset_configs(preset, arch_overrides, train_overrides)
    saved = Path(out) / CONFIG_FILE
    if resume and saved.exists():
        model_config, cfg = resumed_configs(json.loads(saved.read_text()), train_overrides)
    windows, sources = _read_windows(windows_path)
    if valid_path is not None:
        train_w = windows
        valid_w, _ = _read_windows(valid_path)
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

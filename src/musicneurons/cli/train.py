"""``musicneurons train``: train a MusicVAE on extracted windows with Magenta's objective."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a MusicVAE on extracted windows (Magenta's objective; resumable)",
        description="Train a MusicVAE on windows.parquet (from `musicneurons extract`) with Magenta's loss, "
        "beta and scheduled-sampling schedules, TF-style Adam and global-norm clipping. Writes OUT/model/ "
        "(weights.safetensors + config.json, loadable with load_model), OUT/log.jsonl and resumable "
        "OUT/checkpoint-*. Presets: Magenta's cat-mel_2bar_small/big, flat-mel_16bar, hierdec-mel_16bar, and "
        "default-2bar / default-16bar (the CPU-sized embedded models; see docs/training.md).",
    )
    p.add_argument("windows", help="windows.parquet written by `musicneurons extract`")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", default="default-2bar", help="architecture + optimisation preset")
    p.add_argument("--valid", default=None, help="validation windows.parquet (default: 5%% of source files)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after M minutes of training")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=None, help="seed of weights, data order and every draw")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="bfloat16 matmuls")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--init-from", default=None, help="model folder whose matching tensors start the weights")
    p.add_argument("--z-size", type=int, default=None)
    p.add_argument("--enc-rnn-size", type=int, nargs="+", default=None, help="e.g. 256 or 256 256")
    p.add_argument("--dec-rnn-size", type=int, nargs="+", default=None, help="e.g. 256 256")
    for name, kind in (
        ("free-bits", float),
        ("max-beta", float),
        ("beta-rate", float),
        ("batch-size", int),
        ("learning-rate", float),
        ("sampling-schedule", str),
        ("sampling-rate", float),
        ("eval-every", int),
    ):
        p.add_argument(f"--{name}", type=kind, default=None)
    p.add_argument(
        "--batch-parts",
        type=int,
        default=None,
        help="run each batch as N slices, their gradients summed; on the CPU each slice runs on its own "
        "thread (default 2: two cores work without OpenMP's wake-ups; the numbers do not depend on "
        "--threads; 1 = whole batches, as runs recorded before this option)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os

    # OpenMP threads spin while they wait by default: with another process on the cores a training step ran
    # ~15x slower (docs/training.md). Passive waiting costs nothing measurable alone. Set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from musicneurons.device import set_cpu_threads
    from musicneurons.training.loop import train_from_parquet

    set_cpu_threads(args.threads)
    arch = {
        k: v
        for k, v in (
            ("z_size", args.z_size),
            ("enc_rnn_size", args.enc_rnn_size),
            ("dec_rnn_size", args.dec_rnn_size),
        )
        if v is not None
    }
    names = (
        "max_steps",
        "max_minutes",
        "seed",
        "bf16",
        "free_bits",
        "max_beta",
        "beta_rate",
        "batch_size",
        "learning_rate",
        "sampling_schedule",
        "sampling_rate",
        "eval_every",
        "batch_parts",
    )
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    model_dir = train_from_parquet(
        args.windows,
        args.out,
        preset=args.preset,
        valid_path=args.valid,
        arch_overrides=arch,
        train_overrides=overrides,
        device=args.device,
        resume=args.resume,
        init_from=args.init_from,
    )
    print(f"model written to {model_dir} (log: {args.out}/log.jsonl)")
    return 0

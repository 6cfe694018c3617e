"""The ``musicneurons`` command: thin argparse subcommands over the library (one call each)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

DESCRIPTION = """\
musicneurons: open up the latent space of music VAEs.

Typical pipeline (each step writes Parquet / safetensors you can open yourself):
  musicneurons extract MIDI_DIR --bars 2 --out windows/      MIDI -> Magenta-exact melody windows
  musicneurons convert cat-mel_2bar_big.tar model/           Magenta TF checkpoint -> safetensors
  musicneurons features windows/windows.parquet --out f.parquet   jSymbolic P/R/M features
  musicneurons train windows/windows.parquet --out run/        train a MusicVAE (Magenta's objective)
  musicneurons center run/model windows/windows.parquet --out model/   fold the mean mu into it (exact)
  musicneurons study --out study-out/                        the whole paper, figures and HTML report
Run `musicneurons COMMAND --help` for each command's options."""


# --------------------------------------------------------------------------- extract (issue 3)
def _add_extract(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="MIDI folder -> melody windows (Magenta's OneHotMelodyConverter rules)",
        description="Walk DIR recursively for .mid/.midi files and extract 2-bar or 16-bar melody windows "
        "exactly as Magenta's MusicVAE converter does. Writes OUT/windows.parquet (source, window, qpm, ...) "
        "and OUT/manifest.parquet (one row per file: status, reason, n_windows). A rerun reuses finished work.",
    )
    p.add_argument("dir", help="folder of MIDI files (searched recursively)")
    p.add_argument("--bars", type=int, choices=(2, 16), default=2, help="window length in bars (default 2)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--mode",
        choices=("all", "magenta"),
        default="all",
        help="all: every distinct window with provenance (default); magenta: the <=5 windows Magenta returns",
    )
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: all cores)")
    p.set_defaults(handler=_cmd_extract)


def _cmd_extract(args: argparse.Namespace) -> int:
    from musicneurons.data.corpus import extract_corpus

    summary = extract_corpus(
        args.dir, bars=args.bars, out=args.out, mode=args.mode, jobs=args.jobs, progress=True
    )
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(summary.status_counts.items())) or "none"
    print(
        f"{summary.n_files} files ({statuses}; {summary.n_reused} reused from cache) -> "
        f"{summary.n_windows} windows in {summary.seconds:.1f} s\n"
        f"  {summary.windows_path}\n  {summary.manifest_path}"
    )
    return 0


# --------------------------------------------------------------------------- convert (issue 4)
def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="Magenta TF checkpoint (.tar, dir or prefix) -> weights.safetensors + config.json",
        description="Read a Magenta MusicVAE TensorFlow checkpoint without TensorFlow and write OUT/weights."
        "safetensors and OUT/config.json. The preset is inferred from the tensor shapes unless --preset is given.",
    )
    p.add_argument(
        "checkpoint", help="Magenta checkpoint: .tar as released, a directory, or a checkpoint prefix"
    )
    p.add_argument("out", help="output folder")
    p.add_argument(
        "--preset", default=None, help="Magenta config name, e.g. cat-mel_2bar_big (default: infer)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a model already in OUT")
    p.set_defaults(handler=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from musicneurons.model.convert import convert

    try:
        out = convert(args.checkpoint, args.out, preset=args.preset, overwrite=args.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:  # incl. corrupt or mismatched checkpoints
        print(f"convert: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}/weights.safetensors and {out}/config.json")
    return 0


# --------------------------------------------------------------------------- features (issue 6)
def _add_features(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features",
        help="windows.parquet -> jSymbolic pitch/rhythm/melody features (Parquet)",
        description="Compute music21's 50 scalar jSymbolic P/R/M features (and extra melody descriptors) for "
        "every window, vectorised. Rhythm features are in seconds and use each window's qpm column. Writes one "
        "row per window: window_id, then P1..M19 (music21 ids), then the extra descriptors; NaN where music21 "
        "raises (convention music21).",
    )
    p.add_argument("windows", help="windows.parquet written by `musicneurons extract` (or its folder)")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument(
        "--convention",
        choices=("music21", "jsymbolic"),
        default="music21",
        help="music21: equal to music21 10.5.1, NaN where it raises (default); jsymbolic: jSymbolic2's definitions",
    )
    p.add_argument("--qpm", type=float, default=None, help="tempo for every window (default: the qpm column)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(handler=_cmd_features)


def _cmd_features(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from musicneurons.atomic_files import atomic_write
    from musicneurons.data.corpus import read_windows
    from musicneurons.features.registry import compute_features, count_nan_reasons

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"features: {out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    windows, meta = read_windows(args.windows)
    if args.qpm is not None:
        qpm = args.qpm
    elif "qpm" in meta.columns:
        qpm = meta["qpm"].to_numpy(dtype=float)
    else:
        print(f"features: {args.windows} has no qpm column; pass --qpm", file=sys.stderr)
        return 1
    started = time.perf_counter()
    table = compute_features(windows, qpm=qpm, convention=args.convention)
    seconds = time.perf_counter() - started
    ids = meta["window_id"].to_numpy() if "window_id" in meta.columns else range(len(table))
    table.insert(0, "window_id", ids)
    atomic_write(out, lambda tmp: table.to_parquet(tmp, index=False))
    print(
        f"{len(table)} windows x {table.shape[1] - 1} features ({args.convention}) in {seconds:.2f} s -> {out}"
    )
    for row in count_nan_reasons(table).itertuples():
        print(f"  {row.feature}: {row.n_nan} NaN ({row.reason})")
    return 0


# --------------------------------------------------------------------------- train (issue 5)
def _add_train(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from musicneurons.training.train import train_from_parquet

    if args.threads:
        torch.set_num_threads(args.threads)
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


# --------------------------------------------------------------------------- center
def _add_center(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "center",
        help="fold the mean posterior mu over training windows into a model (exact; lower KL)",
        description="Subtract the mean of mu over WINDOWS from the model's mu layer and add the matching "
        "shift to the decoder layers that read z, so every window is reconstructed exactly as before while "
        "the aggregate posterior moves to the origin. Removes the constant offsets that short, small-batch "
        "training leaves in unused dims (docs/training.md). Use the training windows, not the ones you study.",
    )
    p.add_argument(
        "model", help="model folder (weights.safetensors + config.json) or default-2bar/default-16bar"
    )
    p.add_argument("windows", help="windows.parquet (from `musicneurons extract`) to average mu over")
    p.add_argument("--out", required=True, help="output model folder")
    p.set_defaults(handler=_cmd_center)


def _cmd_center(args: argparse.Namespace) -> int:
    import numpy as np

    from musicneurons.data.corpus import read_windows
    from musicneurons.model.centering import center_latents
    from musicneurons.model.checkpoints import load_module, save_model

    module, meta = load_module(args.model)
    windows, _ = read_windows(args.windows)
    if windows.shape[1] != module.config.max_seq_len:
        print(
            f"center: windows have {windows.shape[1]} steps, the model {module.config.max_seq_len}",
            file=sys.stderr,
        )
        return 1
    offsets = center_latents(module, windows)
    meta = dict(meta)
    meta["centered"] = {"source": str(args.model), "windows": str(args.windows), "n_windows": len(windows),
                        "max_abs_offset": float(np.abs(offsets).max())}  # fmt: skip
    save_model(module, args.out, meta)
    print(
        f"folded mean mu of {len(windows)} windows (largest |offset| {np.abs(offsets).max():.3f}) -> {args.out}"
    )
    return 0


# --------------------------------------------------------------------------- study (issue 8)
def _add_study(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study",
        help="the paper end to end: latents, features, analyses, figures, HTML report",
        description="Reproduce the paper on a model and a corpus: encode the windows, order the latent "
        "dimensions by mean sigma, split music and noise neurons, correlate them with jSymbolic features "
        "(phi_K, LOESS), compare with random note sequences and attribute vectors, run the ablation, draw "
        "every figure and write OUT/report/index.html and OUT/summary.json. With no arguments: the embedded "
        "2-bar and 16-bar models on the embedded corpus. Every stage is saved; a rerun skips finished stages.",
    )
    p.add_argument(
        "--model",
        default=None,
        help="default-2bar | default-16bar | a model folder (config.json) | a Magenta checkpoint "
        "(.tar, folder or prefix); default: the embedded model for each --bars",
    )
    p.add_argument(
        "--midi", default=None, help="folder of MIDI files to study instead of the embedded corpus"
    )
    p.add_argument(
        "--bars",
        type=int,
        nargs="+",
        choices=(2, 16),
        default=None,
        help="window length(s) in bars (default: 2 and 16, or the --model's own)",
    )
    p.add_argument(
        "--n-random",
        type=int,
        default=50_000,
        help="random note sequences to compare with (2-bar only; at most one per real window; default 50000)",
    )
    p.add_argument(
        "--max-windows", type=int, default=None, help="study at most this many real windows per model"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    p.add_argument(
        "--precision", choices=("fp32", "bf16"), default="fp32", help="model precision (default fp32)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--out", default="study-out", help="output folder (default study-out)")
    p.add_argument(
        "--overwrite", action="store_true", help="recompute every stage even if its result is saved"
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=_cmd_study)


def _cmd_study(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    # torch's OpenMP threads spin while waiting by default: up to 15x slower when another process shares the
    # cores (docs/study.md). Must be set before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from musicneurons.study.pipeline import StudyConfig, StudyError, run_study

    bars = tuple(sorted(set(args.bars))) if args.bars else (() if args.model else (2, 16))
    config = StudyConfig(
        model=args.model,
        midi=args.midi,
        bars=bars,
        n_random=args.n_random,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        max_windows=args.max_windows,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    try:
        summary = run_study(config, args.out)
    except (FileNotFoundError, NotADirectoryError, StudyError) as exc:
        print(f"musicneurons study: {exc}", file=sys.stderr)
        return 2
    for note in summary["notes"]:
        print(f"note: {note}")
    for part in summary["parts"].values():
        n = part["neurons"]
        line = (
            f"{part['label']}: {n['n_music']} music neurons of {n['z_size']} ({part['n_windows']:,} windows)"
        )
        for role, word in (("pitch_neuron", "pitch"), ("rhythm_neuron", "rhythm")):
            if part.get(role):
                line += f"; {word}: neuron {part[role]['rank']}"
        print(line)
    print(f"report: {Path(args.out) / 'report' / 'index.html'}")
    print(f"summary: {Path(args.out) / 'summary.json'}")
    return 0


# --------------------------------------------------------------------------- entry point
SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_extract,
    _add_convert,
    _add_features,
    _add_train,
    _add_center,
    _add_study,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed so tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="musicneurons", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run one subcommand; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

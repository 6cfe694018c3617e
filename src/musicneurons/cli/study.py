"""``musicneurons study``: the paper end to end (latents, features, analyses, figures, HTML report)."""

from __future__ import annotations

import argparse

from musicneurons.constants import MUSIC_SIGMA_THRESHOLD
from musicneurons.study.config import SKIPPABLE, parse_skip


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study",
        help="the paper end to end: latents, features, analyses, figures, HTML report",
        description="Reproduce the paper on a model and a corpus: encode the windows, order the latent "
        "dimensions by mean sigma, split music and noise neurons, correlate them with jSymbolic features "
        "(phi_K, LOESS), compare with random note sequences and attribute vectors, run the ablation, draw "
        "every figure and write OUT/report/index.html and OUT/summary.json. With no arguments: the "
        "embedded 2-bar and 16-bar models on the embedded corpus. Every stage is saved; a rerun skips "
        "finished stages.",
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
        "--windows",
        default=None,
        help="windows.parquet from `extract` (or a folder of them) to study instead of the embedded corpus",
    )
    p.add_argument(
        "--latents",
        default=None,
        help="latents folder from `musicneurons encode` (same --model and windows): read mu and sigma "
        "instead of encoding the corpus",
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
    p.add_argument(
        "--analysis-windows",
        type=int,
        default=50_000,
        help="cap on the windows that the per-window analyses see (phi_K, correlations, LOESS, attribute "
        "vectors, bootstrap, probes, detector, features): above it they use a random subset of this size, "
        "the same on every rerun with the same --seed, while the music/noise split (mean sigma), mean and "
        "variance of mu and the excitation counts still cover every window, streamed in chunks, so memory "
        "stays flat on corpora of millions of windows. The report gives both sizes. Default 50000, the "
        "paper's sample; 0 = no cap (every analysis on every window: time and memory grow with the corpus)",
    )
    p.add_argument(
        "--sigma-threshold",
        type=float,
        default=MUSIC_SIGMA_THRESHOLD,
        help="music neuron: mean posterior sigma below this; the others are noise neurons "
        f"(default {MUSIC_SIGMA_THRESHOLD:g}; the report also gives a threshold-free split and the counts at "
        "0.8, 0.9, 0.95 and 0.99)",
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
    p.add_argument(
        "--skip",
        default=None,
        metavar="NAME[,NAME...]",
        help="leave parts of the study out (their stages, figures and report sections; summary.json and "
        "the report list them): "
        + "; ".join(f"{name}: {what}" for name, (_, what) in SKIPPABLE.items())
        + "; extras: all of these but ablation (the paper's own figures and numbers only)",
    )
    p.add_argument(
        "--svg", action="store_true", help="also write every figure as SVG (PNG is always written)"
    )
    p.add_argument(
        "--figure-workers",
        type=int,
        default=None,
        help="processes that draw the figures while the study runs (default: one per core, at most 3; "
        "0 draws them in the main process)",
    )
    p.add_argument(
        "--no-prefetch",
        action="store_true",
        help="compute the parts one after the other in this process (default: the later parts' stages run "
        "in a second process while the first part runs, on a CPU with two cores or more; same results)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    _check_counts_and_out(args)
    # torch's OpenMP threads spin while waiting by default: up to 15x slower when another process shares the
    # cores (docs/study.md). Must be set before torch is imported. NumPy's OpenBLAS threads spin too: on
    # shared cores one thread is ~5x faster for the study's correlation matrices (and equal to ~1e-15, as
    # BLAS results always depend on the thread count). Must be set before NumPy is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from musicneurons.study.pipeline import StudyConfig, run_study

    bars = tuple(sorted(set(args.bars))) if args.bars else (() if args.model else (2, 16))
    config = StudyConfig(
        model=args.model,
        midi=args.midi,
        windows=args.windows,
        latents=args.latents,
        bars=bars,
        n_random=args.n_random,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        max_windows=args.max_windows,
        analysis_windows=args.analysis_windows,
        sigma_threshold=_sigma_threshold(args.sigma_threshold),
        skip=parse_skip(args.skip),
        svg=args.svg,
        figure_workers=args.figure_workers,
        prefetch_parts=not args.no_prefetch,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    summary = run_study(config, args.out)  # StudyError is a UserError: cli.main reports it (one line, exit 2)
    for note in summary["notes"]:
        print(f"note: {note}")
    for part in summary["parts"].values():
        n = part["neurons"]
        line = (
            f"{part['label']}: {n['n_music']} music neurons of {n['z_size']} ({part['n_windows']:,} windows"
            + (
                f"; per-window analyses on a random {part['n_windows_analysis']:,}"
                if part["n_windows_analysis"] < part["n_windows"]
                else ""
            )
            + ")"
        )
        for role, word in (("pitch_neuron", "pitch"), ("rhythm_neuron", "rhythm")):
            if part.get(role):
                line += f"; {word}: neuron {part[role]['rank']}"
        print(line)
    print(f"report: {Path(args.out) / 'report' / 'index.html'}")
    print(f"summary: {Path(args.out) / 'summary.json'}")
    return 0


def _sigma_threshold(value: float) -> float | None:
    """The split's threshold for the study: None keeps the default (and the stage keys of earlier runs)."""
    from musicneurons.errors import UserError

    if not 0.0 < value <= 2.0:
        msg = f"--sigma-threshold must be in (0, 2] (a mean posterior sigma; the prior has 1), got {value:g}"
        raise UserError(msg)
    return None if value == MUSIC_SIGMA_THRESHOLD else value


def _check_counts_and_out(args: argparse.Namespace) -> None:
    """User errors the library would meet late or never: negative counts, an --out that is a file."""
    from pathlib import Path

    from musicneurons.errors import UserError

    if args.n_random < 0:
        msg = f"--n-random must be 0 (no random sequences) or more, got {args.n_random}"
        raise UserError(msg)
    if args.max_windows is not None and args.max_windows < 1:
        msg = f"--max-windows must be at least 1, got {args.max_windows}"
        raise UserError(msg)
    if args.analysis_windows < 0 or args.analysis_windows == 1:
        msg = f"--analysis-windows must be 0 (no cap) or at least 2, got {args.analysis_windows}"
        raise UserError(msg)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        msg = f"--out {args.out} is a file, not a folder"
        raise UserError(msg)

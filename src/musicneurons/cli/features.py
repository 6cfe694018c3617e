"""``musicneurons features``: windows.parquet -> jSymbolic pitch / rhythm / melody features (Parquet)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features",
        help="windows.parquet -> jSymbolic pitch/rhythm/melody features (Parquet)",
        description="Compute music21's 50 scalar jSymbolic P/R/M features (and extra melody descriptors) "
        "for every window, vectorised. Rhythm features are in seconds and use each window's qpm column. "
        "Writes one row per window: window_id, then P1..M19 (music21 ids), then the extra descriptors; NaN "
        "where music21 raises (convention music21).",
    )
    p.add_argument("windows", help="windows.parquet written by `musicneurons extract` (or its folder)")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument(
        "--convention",
        choices=("music21", "jsymbolic"),
        default="music21",
        help="music21: equal to music21 10.5.1, NaN where it raises (default); "
        "jsymbolic: jSymbolic2's definitions",
    )
    p.add_argument("--qpm", type=float, default=None, help="tempo for every window (default: the qpm column)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os
    import time

    from musicneurons.arrays import check_qpm
    from musicneurons.atomic_files import atomic_write
    from musicneurons.data.corpus import read_windows, utf8_path
    from musicneurons.errors import UserError
    from musicneurons.features.registry import compute_features, count_nan_reasons

    out = utf8_path(args.out, "--out")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as {out / 'features.parquet'}")
    if out.exists() and not args.overwrite:
        raise UserError(f"--out {out} exists; pass --overwrite to replace it")
    parent = next(folder for folder in out.absolute().parents if folder.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: cannot write to {parent}")
    windows, meta = read_windows(args.windows)
    if args.qpm is not None:
        qpm = args.qpm
    elif "qpm" in meta.columns:
        qpm = meta["qpm"].to_numpy(dtype=float)
    else:
        raise UserError(f"{args.windows} has no qpm column; pass --qpm")
    try:
        qpm = check_qpm(qpm, len(windows), name="--qpm" if args.qpm is not None else f"{args.windows} qpm")
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    started = time.perf_counter()
    table = compute_features(windows, qpm=qpm, convention=args.convention)
    seconds = time.perf_counter() - started
    ids = meta["window_id"].to_numpy() if "window_id" in meta.columns else range(len(table))
    table.insert(0, "window_id", ids)
    atomic_write(out, lambda tmp: table.to_parquet(tmp, index=False))
    n_features = table.shape[1] - 1
    print(f"{len(table)} windows x {n_features} features ({args.convention}) in {seconds:.2f} s -> {out}")
    for row in count_nan_reasons(table).itertuples():
        print(f"  {row.feature}: {row.n_nan} NaN ({row.reason})")
    return 0

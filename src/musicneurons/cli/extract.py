"""``musicneurons extract``: a MIDI folder -> melody windows (Parquet) and a manifest of every file."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="MIDI folder -> melody windows (Magenta's OneHotMelodyConverter rules)",
        description="Walk DIR recursively for .mid/.midi files and extract 2-bar or 16-bar melody windows "
        "exactly as Magenta's MusicVAE converter does. Writes OUT/windows.parquet (source, window, qpm, "
        "...) and OUT/manifest.parquet (one row per file: status, reason, n_windows). A bad file is "
        "recorded and skipped, never read if it is not a regular file; a rerun reuses finished work.",
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
    p.add_argument(
        "--max-mb", type=float, default=64.0, help="skip files larger than this many MB unread (default 64)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicneurons.data.corpus import extract_corpus
    from musicneurons.data.corpus_files import display_name
    from musicneurons.errors import UserError

    if args.jobs < 0:
        raise UserError(f"--jobs must be >= 0 (0: all cores), got {args.jobs}")
    if not args.max_mb > 0:
        raise UserError(f"--max-mb must be positive, got {args.max_mb}")
    summary = extract_corpus(
        args.dir,
        bars=args.bars,
        out=args.out,
        mode=args.mode,
        jobs=args.jobs,
        progress=True,
        max_bytes=int(args.max_mb * 2**20),
        require_windows=True,
    )
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(summary.status_counts.items())) or "none"
    text = (
        f"{summary.n_files} files ({statuses}; {summary.n_reused} reused from cache) -> "
        f"{summary.n_windows} windows in {summary.seconds:.1f} s; {summary.skip_report()}\n"
        f"  {summary.windows_path}\n  {summary.manifest_path}"
    )
    print(display_name(text))  # a path that is not valid UTF-8 is shown with \xNN escapes
    return 0

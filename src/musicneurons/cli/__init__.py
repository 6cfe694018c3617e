"""The ``musicneurons`` command: thin argparse subcommands over the library, one module per command.

Each command module has ``add_parser(sub)`` (its options and help) and ``run(args) -> int`` (one library
call). Adding a command is one module and one row of :data:`COMMANDS`. User errors
(:class:`~musicneurons.errors.UserError` and missing or unreadable paths) print one line and exit with code 2;
anything else is a bug and keeps its traceback (with ``--verbose`` the user errors show theirs too).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from musicneurons.errors import UserError

DESCRIPTION = """\
musicneurons: open up the latent space of music VAEs.

Typical pipeline (each step writes Parquet / safetensors you can open yourself):
  musicneurons extract MIDI_DIR --bars 2 --out windows/      MIDI -> Magenta-exact melody windows
  musicneurons convert cat-mel_2bar_big.tar model/           Magenta TF checkpoint -> safetensors
  musicneurons features windows/windows.parquet --out f.parquet   jSymbolic P/R/M features
  musicneurons train windows/windows.parquet --out run/        train a MusicVAE (Magenta's objective)
  musicneurons center run/model windows/windows.parquet --out model/   fold the mean mu into it (exact)
  musicneurons card model/ --stages run/model --log run/log.jsonl ...   its model card, health rows
  musicneurons encode windows/ --model model/ --out latents/   corpus-scale mu and sigma (sharded, resumable)
  musicneurons probe --model M --windows W --out probes/   move neurons, decode, measure the features
  musicneurons study --out study-out/                        the whole paper, figures and HTML report
Run `musicneurons COMMAND --help` for each command's options."""

# command modules under musicneurons.cli, in the order `--help` lists them
COMMANDS: tuple[str, ...] = (
    "extract",
    "convert",
    "features",
    "train",
    "center",
    "card",
    "encode",
    "probe",
    "study",
    "sample",
    "reconstruct",
    "interpolate",
    "explore",
)

# exceptions that mean "the input is wrong", reported as one line with exit code 2
USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed so tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="musicneurons", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages and full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"musicneurons.cli.{name}").add_parser(sub)
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
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        print(f"musicneurons {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""``musicneurons convert``: a Magenta TensorFlow checkpoint -> our safetensors + config.json folder."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="Magenta TF checkpoint (.tar, dir or prefix) -> weights.safetensors + config.json",
        description="Read a Magenta MusicVAE TensorFlow checkpoint without TensorFlow and write OUT/weights."
        "safetensors and OUT/config.json. The preset is inferred from the tensor shapes unless --preset is "
        "given.",
    )
    p.add_argument(
        "checkpoint", help="Magenta checkpoint: .tar as released, a directory, or a checkpoint prefix"
    )
    p.add_argument("out", help="output folder")
    p.add_argument(
        "--preset", default=None, help="Magenta config name, e.g. cat-mel_2bar_big (default: infer)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a model already in OUT")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicneurons.model.convert import convert

    try:
        out = convert(args.checkpoint, args.out, preset=args.preset, overwrite=args.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:  # incl. corrupt or mismatched checkpoints
        print(f"musicneurons convert: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}/weights.safetensors and {out}/config.json")
    return 0

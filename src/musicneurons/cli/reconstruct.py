"""``musicneurons reconstruct``: a MIDI file's melody windows and their decodes, as MIDI + WAV + JSON."""

from __future__ import annotations

import argparse

from musicneurons.cli.sample import add_generation_options, load_for_cli, report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reconstruct",
        help="encode a MIDI file's melody windows and decode them back; write MIDI + WAV",
        description="Extract the melody windows of INPUT (Magenta's extractor, at the model's length), "
        "encode each to its posterior mean mu, decode it, and write input-NNN and decoded-NNN (.mid + .wav) "
        "and melodies.json into OUT.",
    )
    p.add_argument("input", metavar="INPUT.mid", help="the MIDI file")
    p.add_argument("--max-windows", type=int, default=None, help="keep only the first N windows")
    add_generation_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicneurons.errors import UserError
    from musicneurons.explore.generate import reconstruct_melodies, write_melodies

    if args.max_windows is not None and args.max_windows < 1:
        msg = f"--max-windows must be at least 1, got {args.max_windows}"
        raise UserError(msg)
    model = load_for_cli(args)
    melodies = reconstruct_melodies(
        model, args.input, temperature=args.temperature, seed=args.seed, max_windows=args.max_windows
    )
    return report(write_melodies(melodies, args.out, model_name=args.model, soundfont=args.soundfont))

"""``musicneurons interpolate``: decodes along the slerp between two melodies, as MIDI + WAV + JSON."""

from __future__ import annotations

import argparse

from musicneurons.cli.sample import add_generation_options, load_for_cli, report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "interpolate",
        help="decode the slerp path between a window of A.mid and one of B.mid; write MIDI + WAV",
        description="Encode one melody window of each file to its posterior mean mu (the first usable "
        "window, or --window-a / --window-b), decode STEPS points of the spherical interpolation between "
        "them (both ends included) and write interp-NNN (.mid + .wav) and melodies.json into OUT.",
    )
    p.add_argument("a", metavar="A.mid", help="the start melody's MIDI file")
    p.add_argument("b", metavar="B.mid", help="the end melody's MIDI file")
    p.add_argument("--steps", type=int, default=5, help="points on the path, ends included (default: 5)")
    p.add_argument("--window-a", type=int, default=None, help="window index in A.mid (default: 0)")
    p.add_argument("--window-b", type=int, default=None, help="window index in B.mid (default: 0)")
    add_generation_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicneurons.explore.generate import interpolate_melodies, write_melodies

    model = load_for_cli(args)
    melodies = interpolate_melodies(
        model,
        args.a,
        args.b,
        steps=args.steps,
        window_a=args.window_a,
        window_b=args.window_b,
        temperature=args.temperature,
        seed=args.seed,
    )
    return report(write_melodies(melodies, args.out, model_name=args.model, soundfont=args.soundfont))

"""``musicneurons sample``: melodies from the prior, written as MIDI + WAV + a JSON list with their z.

Also holds the options and the model loading that ``reconstruct`` and ``interpolate`` share.
"""

from __future__ import annotations

import argparse
from typing import Any

from musicneurons.constants import DEFAULT_QPM

DEFAULT_MODEL = "default-2bar"


def add_generation_options(p: argparse.ArgumentParser) -> None:
    """Options of every generation command: model, output folder, seed, temperature, soundfont, device."""
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model folder (weights.safetensors + config.json), a Magenta checkpoint, or the embedded "
        "default-2bar / default-16bar (default: %(default)s)",
    )
    p.add_argument("--out", required=True, help="output folder (created; files in it are overwritten)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same files (default: 0)")
    p.add_argument(
        "--temperature",
        type=float,
        default=0.5,
        help="decoder sampling temperature, 0 = greedy (default: %(default)s, as Magenta's demos)",
    )
    p.add_argument(
        "--soundfont",
        metavar="FILE.sf2",
        help="render the WAV files with FluidSynth and this soundfont (needs pyfluidsynth and "
        "libfluidsynth); default: the built-in NumPy synth",
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")


def load_for_cli(args: argparse.Namespace) -> Any:
    """The model named by ``--model``, as a TrainedModel; a bad path is a one-line user error."""
    from musicneurons import load_model

    check_model_path(args.model)
    return load_model(args.model, device=args.device)


def check_model_path(model: str) -> None:
    """A one-line user error unless ``model`` is a registered name, a path, or a Magenta checkpoint prefix.

    (``load_model`` itself says what to pass for a Magenta architecture name, whose weights are not shipped.)
    """
    from pathlib import Path

    from musicneurons.errors import UserError
    from musicneurons.model.registry import MODELS, SHIPPED

    if model in MODELS or Path(model).exists() or Path(f"{model}.index").exists():
        return
    msg = f"--model {model}: no such model folder or checkpoint (or use one of {', '.join(SHIPPED)})"
    raise UserError(msg)


def report(listing_path: Any) -> int:
    """Print what was written; returns exit code 0."""
    import json

    listing = json.loads(listing_path.read_text(encoding="utf-8"))
    n = len(listing["melodies"])
    noun = "melody" if n == 1 else "melodies"
    print(f"wrote {n} {noun} (.mid + .wav) and {listing_path.name} to {listing_path.parent}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="decode melodies from the prior N(0, I) and write MIDI + WAV",
        description="Draw N latents from the prior N(0, I) (numpy default_rng(SEED)), decode them and write "
        "sample-NNN.mid, sample-NNN.wav and melodies.json (each melody's z, window and notes) into OUT.",
    )
    p.add_argument("--n", type=int, default=4, help="number of melodies (default: %(default)s)")
    p.add_argument(
        "--qpm",
        type=float,
        default=DEFAULT_QPM,
        help=f"tempo of the written files (default: {DEFAULT_QPM:g})",
    )
    add_generation_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicneurons.errors import UserError
    from musicneurons.explore.generate import sample_melodies, write_melodies

    if not args.qpm > 0:
        msg = f"--qpm must be positive, got {args.qpm}"
        raise UserError(msg)
    model = load_for_cli(args)
    melodies = sample_melodies(model, args.n, temperature=args.temperature, seed=args.seed, qpm=args.qpm)
    return report(write_melodies(melodies, args.out, model_name=args.model, soundfont=args.soundfont))

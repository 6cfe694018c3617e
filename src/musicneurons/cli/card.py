"""``musicneurons card``: write a model card from the training runs and the model's latent health."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "card",
        help="write a model card (Markdown) from a model's training stages and its latent health",
        description="Write MODEL's card: architecture, data (the corpus build's summary.json), every "
        "training stage (their model folders' config.json), commands that reproduce them, the six "
        "latent-health rows with their targets on held-out windows (the embedded study windows unless "
        "--windows), and the over-training table of the last stage's log.jsonl. Every number comes from "
        "those files or is measured here.",
    )
    p.add_argument("model", help="model folder (weights.safetensors + config.json)")
    p.add_argument(
        "--stages", nargs="+", required=True, help="model folders of the training stages, in order"
    )
    p.add_argument("--log", required=True, help="log.jsonl of the last stage's run")
    p.add_argument("--corpus-summary", required=True, help="summary.json of the corpus build")
    p.add_argument("--name", required=True, help="the model's name, e.g. default-2bar")
    p.add_argument("--intro", default="", help="one paragraph under the title")
    p.add_argument("--windows", help="held-out windows.parquet (default: the embedded study windows)")
    p.add_argument(
        "--windows-dir", default="work-data/m21/windows_2bar", help="corpus folder in the commands"
    )
    p.add_argument("--first-init", help="--init-from of the first stage, as the commands should show it")
    p.add_argument("--machine", default="one CPU thread", help="where the stages ran, in words")
    p.add_argument("--note", action="append", default=[], help="a line added under the commands (repeatable)")
    p.add_argument("--out", required=True, help="where to write the card (e.g. MODEL/model_card.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from musicneurons.analysis.latent_health import latent_health, targets
    from musicneurons.atomic_files import atomic_write
    from musicneurons.data.corpus import read_windows
    from musicneurons.data.defaults import default_windows
    from musicneurons.model.load import load_model
    from musicneurons.training.cards import Stage, render_card

    model = load_model(args.model, device="cpu")
    bars = 2 if model.config.max_seq_len == 32 else 16
    windows = read_windows(args.windows)[0] if args.windows else default_windows(bars)
    health = latent_health(model, windows)
    card = render_card(
        name=args.name,
        intro=args.intro,
        config=json.loads((Path(args.model) / "config.json").read_text()),
        stages=[Stage.read(s) for s in args.stages],
        log_lines=[json.loads(line) for line in Path(args.log).read_text().splitlines() if line.strip()],
        corpus=json.loads(Path(args.corpus_summary).read_text()),
        health=health,
        targets=targets(bars),
        windows_dir=args.windows_dir,
        first_init=args.first_init,
        machine=args.machine,
        notes=args.note,
    )
    atomic_write(args.out, lambda tmp: tmp.write_text(card, encoding="utf-8"))
    print(f"card written to {args.out}")
    return 0

"""``musicneurons probe``: causal neuron probes (shift a neuron, decode greedily, recompute the features)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="move each top music neuron (and noise neurons as a control), decode, measure feature changes",
        description="Encode WINDOWS, split music and noise neurons by mean sigma, then for the top-k music "
        "neurons and a few noise neurons shift mu along a grid of -SPAN..SPAN spreads (the neuron's std of "
        "mu over the windows), decode greedily and recompute every feature. Writes OUT/effects.parquet (per "
        "neuron and feature: Spearman rho, slope, latte monotonicity, share of steps that change it), "
        "OUT/by_group.parquet, OUT/decodes.parquet (the features of every decode), OUT/probe.json and the "
        "heat map OUT/attribute_change.png.",
    )
    p.add_argument(
        "--model", required=True, help="model folder, Magenta checkpoint or default-2bar / default-16bar"
    )
    p.add_argument(
        "--windows", required=True, help="windows.parquet from `musicneurons extract` (or its folder)"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--top-k", type=int, default=8, help="music neurons to move (default 8)")
    p.add_argument("--n-noise", type=int, default=2, help="noise neurons to move as a control (default 2)")
    p.add_argument(
        "--n-windows", type=int, default=200, help="probe windows drawn from WINDOWS (default 200)"
    )
    p.add_argument("--span", type=float, default=3.0, help="largest shift, in spreads (default 3)")
    p.add_argument("--steps", type=int, default=7, help="grid points from -SPAN to SPAN, odd (default 7)")
    p.add_argument("--seed", type=int, default=0, help="seeds the choice of probe windows")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--overwrite", action="store_true", help="replace the results in --out")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    import numpy as np

    from musicneurons.analysis.interventions import run_probes
    from musicneurons.atomic_files import atomic_write
    from musicneurons.constants import DEFAULT_QPM
    from musicneurons.data.corpus import read_windows
    from musicneurons.errors import UserError
    from musicneurons.model.load import load_model

    out = Path(args.out)
    if (out / "probe.json").exists() and not args.overwrite:
        raise UserError(f"{out} already holds probe results; pass --overwrite to replace them")
    if args.steps < 3 or args.steps % 2 == 0 or args.span <= 0:
        raise UserError(f"--steps must be odd and >= 3 and --span > 0, got {args.steps} and {args.span}")
    if args.top_k < 0 or args.n_noise < 0 or args.n_windows < 1:
        raise UserError("--top-k and --n-noise must be >= 0 and --n-windows >= 1")
    from musicneurons.device import configure_cpu_numerics

    windows, meta = read_windows(args.windows)
    configure_cpu_numerics()  # denormal floats slow CPU decoding many times over
    model = load_model(args.model, device=args.device)
    if windows.shape[1] != model.config.max_seq_len:
        raise UserError(
            f"{args.windows}: windows have {windows.shape[1]} steps, the model {model.config.max_seq_len}"
        )
    qpm = meta["qpm"].to_numpy(dtype=float) if "qpm" in meta.columns else DEFAULT_QPM
    started = time.perf_counter()
    probes = run_probes(
        model,
        windows,
        rng=np.random.default_rng(args.seed),
        qpm=qpm,
        top_k=args.top_k,
        n_noise=args.n_noise,
        n_windows=args.n_windows,
        grid=np.linspace(-args.span, args.span, args.steps),
    )
    seconds = time.perf_counter() - started
    result = probes.result
    tables = {"effects": result.effects, "by_group": result.by_group, "decodes": result.decodes}
    for name, table in tables.items():
        atomic_write(out / f"{name}.parquet", lambda tmp, t=table: t.to_parquet(tmp, index=False))
    info = {"model": str(args.model), "windows": str(args.windows), "seed": args.seed, "seconds": seconds}
    info.update(probes.info)
    atomic_write(out / "probe.json", lambda tmp: tmp.write_text(json.dumps(info, indent=2) + "\n"))
    from musicneurons.figures.probes import attribute_change_figure
    from musicneurons.figures.saving import save_figure

    title = f"{args.model}: Spearman ρ of each feature's change against the shift of each neuron"
    save_figure(
        attribute_change_figure(result.effects, title=title), out / "attribute_change", formats=("png",)
    )
    n_decodes, n_windows = info["n_decodes"], info["n_probe_windows"]
    print(f"{n_decodes} greedy decodes of {n_windows} windows in {seconds:.1f} s -> {out}")
    for neuron, label in zip(info["neurons"], info["labels"], strict=True):
        e = result.effects[result.effects["neuron"] == neuron]
        best = e.loc[e["spearman"].abs().idxmax()] if e["spearman"].notna().any() else None
        moved = f"{best['feature']} rho {best['spearman']:+.2f}" if best is not None else "nothing"
        print(f"  {label} neuron {neuron}: moves {info['top_group'][str(neuron)]} most; strongest {moved}")
    return 0

"""Time ``musicneurons study`` on the embedded defaults: an older version, this one on the same work, and this
one in full, run alternately in one go so that they share the machine's load.

    python bench/bench_study.py                          # old (if /work/wt/old exists), equal, full; 1 round
    python bench/bench_study.py --old-src ../old/src --rounds 2
    python bench/bench_study.py --variants equal,full    # this version only

Variants:

* ``old``: the study of another checkout, run with ``PYTHONPATH=OLD_SRC`` (``--old-src``, a ``src`` folder
  holding the ``musicneurons`` package), with this interpreter and its packages.
* ``equal``: this version with ``--skip extras``: the stages, figures and report the first study had (the
  paper's figures and numbers, the ablation), without the bootstrap, φ_K null, free-running decodes, causal
  probes, disentanglement scores, detector and audio clips added since.
* ``full``: this version as ``musicneurons study`` runs by default.

Every run writes into a fresh temporary folder (deleted afterwards unless ``--keep DIR``). Printed: the wall
time of each run (the whole command, imports included) with the load average before it, each variant's
median, the per-stage seconds from each run's ``run.json``, the figures' seconds (this version records them:
summed per figure, and ``blocked``, what the study's process spent drawing in line or waiting for the
workers) as shares of the wall time, and the ratios. The machine is shared: read the ratios, not the
seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import machine

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
DEFAULT_OLD = Path("/work/wt/old/src")
VARIANTS = ("old", "equal", "full")


def study_command(variant: str, out: Path, workers: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "musicneurons", "study", "--out", str(out), "--no-progress"]
    if variant == "equal":
        cmd += ["--skip", "extras"]
    if variant != "old" and workers is not None:
        cmd += ["--figure-workers", str(workers)]
    return cmd


def run_once(variant: str, old_src: Path | None, workers: int | None, keep: Path | None, i: int) -> dict:
    """One study run: wall seconds, load before, run.json's stage and figure timings."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(old_src if variant == "old" else SRC))
    parent = None if keep else Path(tempfile.mkdtemp(prefix=f"bench-study-{variant}-"))
    out = keep / f"{variant}-{i}" if parent is None else parent / "out"
    load = machine.load_average()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    cmd = study_command(variant, out, workers)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the study and its figure workers
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"{variant}: musicneurons study failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    run = json.loads((out / "run.json").read_text())
    stages = {name: t.get("seconds") or 0.0 for name, t in run.get("stages", {}).items()}
    figures = run.get("figures")
    result = {
        "variant": variant,
        "wall": wall,
        "cpu": cpu,
        "load": load,
        "stages": stages,
        "figures": figures,
    }
    if parent is not None:
        shutil.rmtree(parent, ignore_errors=True)
    return result


def print_runs(runs: list[dict]) -> None:
    print("\nruns (in the order they ran):")
    for r in runs:
        line = f"  {r['variant']:6s} {r['wall']:6.1f} s, CPU {r['cpu']:5.1f} s (load before: {r['load']})"
        fig = r["figures"]
        if fig:
            line += (
                f"; figures: {fig['n']} drawn by {fig['workers'] or 'the main process'}"
                f"{' workers' if fig['workers'] else ''}, {fig['seconds']:.1f} s summed "
                f"({fig['seconds'] / r['wall']:.0%} of wall; CPU {fig['cpu_seconds']:.1f} s, "
                f"{fig['cpu_seconds'] / r['cpu']:.0%} of the run's CPU), blocked {fig['blocked']:.1f} s "
                f"({fig['blocked'] / r['wall']:.0%})"
            )
        print(line)


def print_stages(by_variant: dict[str, list[dict]]) -> None:
    names = sorted({s for runs in by_variant.values() for r in runs for s in r["stages"]})
    variants = list(by_variant)
    print("\nstage seconds (median over rounds; blank: the stage did not run):")
    print(f"  {'stage':28s}" + "".join(f"{v:>9s}" for v in variants))
    totals = dict.fromkeys(variants, 0.0)
    for name in names:
        cells = []
        for v in variants:
            values = [r["stages"][name] for r in by_variant[v] if name in r["stages"]]
            if values:
                totals[v] += statistics.median(values)
                cells.append(f"{statistics.median(values):9.2f}")
            else:
                cells.append(" " * 9)
        print(f"  {name:28s}" + "".join(cells))
    print(f"  {'(sum of stages)':28s}" + "".join(f"{totals[v]:9.2f}" for v in variants))
    walls = {v: statistics.median(r["wall"] for r in by_variant[v]) for v in variants}
    print(f"  {'(wall, whole command)':28s}" + "".join(f"{walls[v]:9.2f}" for v in variants))
    cpus = {v: statistics.median(r["cpu"] for r in by_variant[v]) for v in variants}
    print(f"  {'(CPU, all its processes)':28s}" + "".join(f"{cpus[v]:9.2f}" for v in variants))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old-src", type=Path, default=None, help=f"older src folder (default {DEFAULT_OLD})")
    p.add_argument("--rounds", type=int, default=1, help="runs of each variant, alternating (default 1)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: old, equal, full")
    p.add_argument("--figure-workers", type=int, default=None, help="this version's --figure-workers")
    p.add_argument("--keep", type=Path, default=None, help="write the study folders here and keep them")
    args = p.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        p.error(f"--variants: unknown {', '.join(sorted(unknown))} (one of {', '.join(VARIANTS)})")
    old_src = args.old_src or DEFAULT_OLD
    if "old" in variants and not (old_src / "musicneurons").is_dir():
        print(f"no older version at {old_src} (give --old-src PATH/src): the old variant is skipped")
        variants.remove("old")
    print(
        f"CPU: {machine.cpu_model()}, {os.cpu_count()} logical cores; load average {machine.load_average()}"
    )
    print(
        f"variants: {', '.join(variants)}; {args.rounds} round(s)"
        + (f"; old: {old_src}" if "old" in variants else "")
    )
    runs = []
    for i in range(args.rounds):
        for v in variants:
            runs.append(run_once(v, old_src, args.figure_workers, args.keep, i))
            print(
                f"  round {i + 1}: {v} {runs[-1]['wall']:.1f} s (load before {runs[-1]['load']})", flush=True
            )
    by_variant = {v: [r for r in runs if r["variant"] == v] for v in variants}
    print_runs(runs)
    print_stages(by_variant)
    walls = {v: statistics.median(r["wall"] for r in by_variant[v]) for v in variants}
    cpus = {v: statistics.median(r["cpu"] for r in by_variant[v]) for v in variants}
    print()
    if "old" in walls:
        for v in ("equal", "full"):
            if v in walls:
                wall = f"{walls['old'] / walls[v]:.2f}x wall ({walls['old']:.1f} s / {walls[v]:.1f} s)"
                cpu = f"{cpus['old'] / cpus[v]:.2f}x CPU ({cpus['old']:.1f} s / {cpus[v]:.1f} s)"
                print(f"old / {v}: {wall}, {cpu}")
    if "equal" in walls and "full" in walls:
        print(f"full / equal: {walls['full'] / walls['equal']:.2f}x (the newer stages' cost)")
    print(f"load average at the end: {machine.load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

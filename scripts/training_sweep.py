"""How training shapes the music/noise split: the latent-health rows of a set of training runs, as a table
(docs/data/training_sweep.csv) and a figure (docs/images/training_sweep.png) for docs/training.md.

Usage: python scripts/training_sweep.py SPEC.json [--out-csv CSV] [--out-png PNG]

SPEC.json lists the runs: [{"name": ..., "bars": 2, "model": "runs/b08/model", "log": "runs/b08/log.jsonl",
"start_minutes": 135, "label": "β 0.8 from w2"}, ...]. Each model is scored (unless the run carries its
``health`` rows already) with
``musicneurons.analysis.latent_health.latent_health`` on the embedded study windows (held out from training);
each log's evaluation lines (validation subset) give the curves over training. ``start_minutes`` is the
training time before the run (earlier stages), so curves of stages line up on one time axis.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import musicneurons
from musicneurons.analysis.latent_health import latent_health, targets

CURVES = (  # (log.jsonl key or None: end points only, axis title, target key)
    ("n_sigma_below_0_9", "dims with mean σ < 0.9", "music_dims"),
    ("noise_silent_share", "other dims with mean σ ≥ 0.98 (share)", "silent_share"),
    ("noise_excited_median", "median other dims with |μ| > 0.1", "excited_noise_median"),
    (None, "accuracy lost zeroing the other dims", "accuracy_lost_zeroing_noise"),
    (None, "free-running − always-hold accuracy", "free_minus_hold"),
)


def score(spec: list[dict]) -> pd.DataFrame:
    """One row per run: its settings and the six health rows on the study windows."""
    rows = []
    for run in spec:
        health = run.get("health")  # rows measured earlier with the same function, if the spec carries them
        if health is None:
            model = musicneurons.load_model(run["model"], device="cpu")
            health = latent_health(model, musicneurons.default_windows(run["bars"]))
        log = _log(run["log"]) if run.get("log") else pd.DataFrame()
        end = run.get("start_minutes", 0) + (float(log["minutes"].iloc[-1]) if "minutes" in log else 0.0)
        rows.append(
            {k: run.get(k) for k in ("name", "bars", "label", "start_minutes")}
            | {"end_minutes": end}
            | health
        )
    return pd.DataFrame(rows)


def _log(path: str) -> pd.DataFrame:
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return pd.DataFrame([r for r in lines if "val_accuracy" in r])


def draw(spec: list[dict], table: pd.DataFrame, out: Path) -> None:
    """Curves over training time (validation subset) per run, and its end point on the study windows."""
    bars_list = sorted({r["bars"] for r in spec})
    fig, axes = plt.subplots(len(bars_list), len(CURVES), figsize=(4 * len(CURVES), 3.2 * len(bars_list)))
    axes = axes.reshape(len(bars_list), len(CURVES))
    for i, bars in enumerate(bars_list):
        goal = {t.key: t for t in targets(bars)}
        for run in (r for r in spec if r["bars"] == bars):
            log = _log(run["log"]) if run.get("log") else pd.DataFrame()
            row = table[table["name"] == run["name"]].iloc[0]
            for j, (key, title, target_key) in enumerate(CURVES):
                ax = axes[i, j]
                if key is not None and key in log:
                    line = ax.plot(run.get("start_minutes", 0) + log["minutes"], log[key], label=run["label"])
                    color = line[0].get_color()
                else:
                    color = None
                end = run.get("start_minutes", 0) + (log["minutes"].iloc[-1] if "minutes" in log else 0)
                ax.plot([end], [row[target_key]], "o", color=color, label=None if color else run["label"])
                ax.set_title(f"{bars}-bar: {title}", fontsize=9)
                bound = goal[target_key].low if goal[target_key].low is not None else goal[target_key].high
                ax.axhline(bound, ls=":", color="gray", lw=1)
                ax.set_xlabel("training minutes (all stages)", fontsize=8)
        axes[i, 0].legend(fontsize=7)
    fig.suptitle(
        "How training shapes the music/noise split (lines: validation subset during training; "
        "dots: held-out study windows; dotted: targets)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec")
    p.add_argument("--out-csv", default="docs/data/training_sweep.csv")
    p.add_argument("--out-png", default="docs/images/training_sweep.png")
    args = p.parse_args()
    spec = json.loads(Path(args.spec).read_text())
    table = score(spec)
    Path(args.out_csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out_csv, index=False, float_format="%.4f")
    draw(spec, table, Path(args.out_png))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()

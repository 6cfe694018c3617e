"""Model cards: a Markdown page per trained model, written from what the runs recorded.

Every number on a card comes from a file: each training stage's ``config.json`` metadata (schedule, steps,
minutes, validation metrics; written by ``musicneurons train``), the last stage's ``log.jsonl`` (the
over-training table), the corpus build's ``summary.json`` (data), and rows measured by the caller on held-out
windows (``musicneurons card`` passes :func:`musicneurons.analysis.latent_health.latent_health`'s rows with
their targets). The reproduce commands are rebuilt from the recorded train configs, so they say exactly what
ran.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicneurons.training.config import RECORDED_DEFAULTS

#: train-config keys -> ``musicneurons train`` options, in the order the reproduce command lists them
TRAIN_OPTIONS: tuple[tuple[str, str], ...] = (
    ("max_beta", "--max-beta"),
    ("beta_rate", "--beta-rate"),
    ("free_bits", "--free-bits"),
    ("sampling_schedule", "--sampling-schedule"),
    ("sampling_rate", "--sampling-rate"),
    ("learning_rate", "--learning-rate"),
    ("batch_size", "--batch-size"),
    ("seed", "--seed"),
    ("batch_parts", "--batch-parts"),
)

#: over-training table: (column title, log.jsonl key, format)
OVER_TRAINING_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("step", "step", "{:d}"),
    ("minutes", "minutes", "{:.1f}"),
    ("β", "beta", "{:.3f}"),
    ("val acc", "val_accuracy", "{:.3f}"),
    ("free acc", "val_free_accuracy", "{:.3f}"),
    ("dims σ<0.9", "n_sigma_below_0_9", "{:d}"),
    ("others σ≥0.98", "noise_silent_share", "{:.1%}"),
    ("excited others / window", "noise_excited_median", "{:g}"),
    ("KL bits", "val_kl_bits", "{:.1f}"),
)


@dataclass(frozen=True)
class Stage:
    """One training stage: the model folder it wrote and that folder's ``config.json`` metadata."""

    folder: Path
    metadata: Mapping[str, Any]

    @classmethod
    def read(cls, folder: str | Path) -> Stage:
        """The stage recorded in ``folder/config.json`` (a model folder written by ``musicneurons train``, or
        one of its checkpoints, whose step and time are in ``state.json``)."""
        meta = dict(json.loads((Path(folder) / "config.json").read_text()).get("metadata", {}))
        state = Path(folder) / "state.json"
        if "step" not in meta and state.is_file():
            recorded = json.loads(state.read_text())
            meta.update(step=recorded["step"], train_minutes=recorded["elapsed_s"] / 60)
            meta.update(_last_evaluation(Path(folder).parent / "log.jsonl", recorded["step"]))
        return cls(Path(folder), meta)

    @property
    def train_config(self) -> Mapping[str, Any]:
        return {**RECORDED_DEFAULTS, **self.metadata.get("train_config", {})}


def _last_evaluation(log: Path, step: int) -> dict[str, Any]:
    """The ``val_*`` metrics of a run's last evaluation at or before ``step`` ({} without one)."""
    if not log.is_file():
        return {}
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    evals = [r for r in lines if "val_accuracy" in r and r.get("step", 0) <= step]
    return {k: v for k, v in evals[-1].items() if k.startswith("val_")} if evals else {}


def _cells(values: Sequence[str]) -> str:
    return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table after a blank line (pipes inside cells escaped)."""
    return ["", _cells(header), "|" + "---|" * len(header)] + [_cells(r) for r in rows]


def stage_rows(stages: Sequence[Stage]) -> list[list[str]]:
    """One table row per stage: steps, minutes and the schedule that ran."""
    rows = []
    for i, s in enumerate(stages, 1):
        tc = s.train_config
        sampling = tc.get("sampling_schedule", "constant")
        if sampling != "constant" or tc.get("sampling_rate"):
            sampling = f"{sampling} {tc.get('sampling_rate', 0):g}"
        rows.append(
            [
                str(i),
                f"{s.metadata.get('step', 0):,}",
                f"{s.metadata.get('train_minutes', 0):.0f}",
                f"{tc.get('max_beta', 0):g} (rate {tc.get('beta_rate', 0):g})",
                f"{tc.get('free_bits', 0):g}",
                sampling,
                f"{tc.get('learning_rate', 0):g}",
                str(tc.get("batch_size", "")),
                f"{s.metadata.get('val_accuracy', float('nan')):.3f}",
            ]
        )
    return rows


def reproduce_commands(stages: Sequence[Stage], windows_dir: str, first_init: str | None) -> list[str]:
    """``musicneurons train`` lines that redo the stages in order (each starting from the previous one)."""
    lines = []
    for i, s in enumerate(stages, 1):
        tc = s.train_config
        split = f"{windows_dir}/{{}}/windows.parquet"
        cmd = [
            "OMP_NUM_THREADS=1 musicneurons train",
            split.format("train"),
            f"--valid {split.format('valid')}",
            f"--preset {s.metadata.get('preset', '?')}",
            f"--out runs/stage{i}",
            f"--max-steps {s.metadata.get('step', 0)}",
            "--threads 1 --device cpu",
        ]
        init = f"runs/stage{i - 1}/model" if i > 1 else first_init
        if init:
            cmd.append(f"--init-from {init}")
        cmd += [
            f"{opt} {tc[key]:g}" if isinstance(tc.get(key), float) else f"{opt} {tc[key]}"
            for key, opt in TRAIN_OPTIONS
            if key in tc
        ]
        lines.append(" ".join(cmd))
    return lines


def over_training_rows(log_lines: Sequence[Mapping[str, Any]], every: int = 1) -> list[list[str]]:
    """The evaluation lines of a ``log.jsonl`` (those with ``val_accuracy``) as table rows."""
    evals = [r for r in log_lines if "val_accuracy" in r][::every]
    out = []
    for r in evals:
        row = []
        for _title, key, fmt in OVER_TRAINING_COLUMNS:
            value = r.get(key)
            row.append("–" if value is None else fmt.format(value))
        out.append(row)
    return out


def health_rows(rows: Mapping[str, float], targets: Sequence[Any]) -> list[list[str]]:
    """``latent_health`` rows beside their targets (objects with key, label, bounds() and met())."""
    out = []
    for t in targets:
        value = rows[t.key]
        shown = f"{value:.3f}" if isinstance(value, float) and abs(value) < 10 else f"{value:g}"
        out.append([t.label, t.bounds(), shown, "met" if t.met(value) else "**not met**"])
    return out


def render_card(
    *,
    name: str,
    intro: str,
    config: Mapping[str, Any],
    stages: Sequence[Stage],
    log_lines: Sequence[Mapping[str, Any]],
    corpus: Mapping[str, Any],
    health: Mapping[str, float],
    targets: Sequence[Any],
    windows_dir: str,
    first_init: str | None,
    machine: str,
    notes: Sequence[str] = (),
) -> str:
    """The card's Markdown."""
    model = config.get("config", config)
    bars = 2 if model.get("max_seq_len") == 32 else 16
    hier = model.get("level_lengths")
    minutes = sum(float(s.metadata.get("train_minutes", 0)) for s in stages)
    steps = sum(int(s.metadata.get("step", 0)) for s in stages)
    lines = [
        f"# {name}: MusicVAE, {bars}-bar melodies, z = {model.get('z_size')} (trained on CPU)",
        "",
        intro,
        "",
    ]
    lines += [
        "## Architecture",
        f"- z_size {model.get('z_size')}, encoder BiLSTM {model.get('enc_rnn_size')} per direction, "
        + (f"hierarchical decoder (conductor over {hier}) " if hier else "flat decoder ")
        + f"LSTM {model.get('dec_rnn_size')}, {model.get('max_seq_len')} steps, "
        + f"{model.get('num_classes', 90)} classes.",
        "- Weights: float32 safetensors with a SHA-256 per tensor; config.json carries the architecture and "
        + "the last stage's training config.",
        "",
        "## Data",
        f"- music21's corpus: {corpus.get('tunes_ok')} tunes in 4-quarter meters out of "
        + f"{corpus.get('tunes')} parsed; per collection "
        + f"{json.dumps(corpus.get('tunes_per_collection', {}))}.",
        f"- Split by tune: {json.dumps(corpus.get('tunes_per_split', {}))}; the study split is the embedded "
        + "default corpus and never seen in training. Transposition augmentation ±5 semitones.",
        "",
        "## Training",
        f"- {len(stages)} stages, {steps:,} steps, {minutes:.0f} minutes in all on {machine}, fp32, "
        + "each stage starting from the previous one's weights (Adam state fresh).",
    ]
    lines += _table(
        ["stage", "steps", "minutes", "max β", "free bits", "scheduled sampling", "lr", "batch", "val acc"],
        stage_rows(stages),
    )
    lines += ["", "Reproduce (after building the corpus as in docs/training.md):", "```"]
    lines += reproduce_commands(stages, windows_dir, first_init) + ["```", *notes, ""]
    lines += [f"## Latent health on the held-out study windows ({health['n_windows']:,} windows, z = μ)"]
    lines += _table(["row", "target", "value", ""], health_rows(health, targets))
    lines += [
        "",
        f"Teacher-forced accuracy {health['teacher_forced_accuracy']:.3f}, free-running (argmax) "
        + f"{health['free_running_accuracy']:.3f}, always-hold baseline "
        + f"{health['hold_baseline_accuracy']:.3f}.",
        "",
        "## Over training (last stage, validation subset)",
    ]
    lines += _table([c[0] for c in OVER_TRAINING_COLUMNS], over_training_rows(log_lines))
    return "\n".join(lines) + "\n"

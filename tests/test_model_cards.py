"""Model cards: every number from the recorded runs, commands rebuilt from the recorded configs."""

from __future__ import annotations

import json

from musicneurons.analysis.latent_health import targets
from musicneurons.cli import main
from musicneurons.model.registry import EMBEDDED_MODELS_DIR
from musicneurons.training.cards import Stage, over_training_rows, render_card, reproduce_commands

TC = {
    "max_beta": 0.6,
    "beta_rate": 0.999,
    "free_bits": 0.0,
    "sampling_schedule": "inverse_sigmoid",
    "sampling_rate": 200.0,
    "learning_rate": 0.0005,
    "batch_size": 128,
    "seed": 4,
}
HEALTH = {
    "n_windows": 2000,
    "music_dims": 9,
    "silent_share": 0.998,
    "excited_noise_median": 111.0,
    "accuracy_lost_zeroing_noise": 0.038,
    "free_minus_hold": 0.123,
    "twinkle_share": 0.969,
    "teacher_forced_accuracy": 0.709,
    "free_running_accuracy": 0.707,
    "hold_baseline_accuracy": 0.583,
}


def _stages(tmp_path):
    stages = []
    for i, (step, minutes) in enumerate([(4003, 40.0), (22490, 95.0)]):
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        meta = {
            "step": step,
            "train_minutes": minutes,
            "preset": "default-2bar",
            "train_config": TC,
            "val_accuracy": 0.72,
        }
        (folder / "config.json").write_text(json.dumps({"config": {}, "metadata": meta}))
        stages.append(Stage.read(folder))
    return stages


def test_reproduce_commands_chain_the_stages(tmp_path):
    first, second = reproduce_commands(_stages(tmp_path), "data/w2", None)
    assert "--init-from" not in first
    assert "--max-steps 4003" in first
    assert "--init-from runs/stage1/model" in second
    for option in (
        "--max-beta 0.6",
        "--beta-rate 0.999",
        "--sampling-schedule inverse_sigmoid",
        "--sampling-rate 200",
        "--learning-rate 0.0005",
        "--batch-size 128",
        "--seed 4",
        "--preset default-2bar",
        "data/w2/train/windows.parquet",
        "--valid data/w2/valid/windows.parquet",
    ):
        assert option in second


def test_a_checkpoint_stage_takes_step_and_minutes_from_its_state(tmp_path):
    checkpoint = tmp_path / "checkpoint-00002229"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"metadata": {"train_config": TC}}))
    (checkpoint / "state.json").write_text(json.dumps({"step": 2229, "elapsed_s": 1572.45}))
    log = [
        {"step": 2000, "val_accuracy": 0.64},
        {"step": 2100, "loss": 1.0},
        {"step": 2500, "val_accuracy": 0.7},
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(r) for r in log) + "\n")
    stage = Stage.read(checkpoint)
    assert stage.metadata["step"] == 2229
    assert abs(stage.metadata["train_minutes"] - 26.2075) < 1e-9
    assert stage.metadata["val_accuracy"] == 0.64  # the run's last evaluation at or before the checkpoint


def test_over_training_rows_take_the_evaluation_lines_only():
    log = [
        {"step": 1, "loss": 3.0},
        {
            "step": 500,
            "minutes": 1.25,
            "beta": 0.5,
            "val_accuracy": 0.7,
            "val_free_accuracy": 0.69,
            "n_sigma_below_0_9": 9,
            "noise_silent_share": 0.998,
            "noise_excited_median": 68.5,
            "val_kl_bits": 17.14,
        },
    ]
    assert over_training_rows(log) == [
        ["500", "1.2", "0.500", "0.700", "0.690", "9", "99.8%", "68.5", "17.1"]
    ]


def test_card_reports_unmet_targets_and_totals(tmp_path):
    card = render_card(
        name="m",
        intro="A model.",
        config={"config": {"z_size": 512, "max_seq_len": 32}},
        stages=_stages(tmp_path),
        log_lines=[],
        corpus={"tunes": 10, "tunes_ok": 8},
        health=HEALTH,
        targets=targets(2),
        windows_dir="w",
        first_init=None,
        machine="here",
    )
    assert "2 stages, 26,493 steps, 135 minutes in all on here" in card
    rows = {line.split(" | ")[0].lstrip("| "): line for line in card.splitlines() if line.startswith("| ")}
    assert rows["music dims (mean σ < 0.9)"].endswith("| 9 | **not met** |")
    assert rows["other dims with mean σ ≥ 0.98"].endswith("| 0.998 | met |")
    assert "median other dims with \\|μ\\| > 0.1 per window | < 100 | 111 | **not met** |" in card


def test_card_command_on_the_shipped_model(tmp_path):
    model = EMBEDDED_MODELS_DIR / "default-2bar"
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"step": 250, "val_accuracy": 0.5}) + "\n")
    corpus = tmp_path / "summary.json"
    corpus.write_text(json.dumps({"tunes": 3, "tunes_ok": 2}))
    out = tmp_path / "card.md"
    args = [
        "card",
        str(model),
        "--stages",
        str(model),
        "--log",
        str(log),
        "--corpus-summary",
        str(corpus),
        "--name",
        "default-2bar",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    text = out.read_text()
    assert text.startswith("# default-2bar: MusicVAE, 2-bar melodies, z = 512")
    assert "## Latent health on the held-out study windows (2,000 windows, z = μ)" in text
    assert main([*args[:-2], "--out", str(tmp_path / "c2.md"), "--log", str(tmp_path / "missing.jsonl")]) == 2

"""Report warnings from measured numbers: each rule fires exactly when its known condition holds."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import pytest

from musicneurons.analysis.warnings import (
    EMBEDDED_MODELS,
    PAPER_ARCHITECTURES,
    always_hold_accuracy,
    paper_architecture,
    study_warnings,
)
from musicneurons.model.musicvae import PRESETS

PAPER_2BAR = {"z_size": 512, "enc_rnn_size": [2048], "dec_rnn_size": [2048, 2048, 2048], "max_seq_len": 32}
QUIET = {
    "model": "cat-mel_2bar_big.tar",
    "model_config": PAPER_2BAR,
    "n_windows": 50_000,
    "free_running_accuracy": 0.9,
    "hold_baseline_accuracy": 0.55,
    "n_music": 37,
    "z_size": 512,
    "threshold_sensitivity": {0.8: 30, 0.9: 35, 0.95: 37, 0.99: 40},
    "manifest": pd.DataFrame({"source": ["a.mid", "b.mid"], "status": ["ok", "ok"], "reason": ["", ""]}),
}


def _ids(measured: dict) -> list[str]:
    return [w["id"] for w in study_warnings(measured)]


def test_a_paper_like_run_has_no_warning_and_nothing_measured_none():
    assert study_warnings(QUIET) == []
    assert study_warnings({}) == [{"id": "not_paper_model", "message": study_warnings({})[0]["message"]}]


def test_few_windows():
    assert _ids({**QUIET, "n_windows": 819}) == ["few_windows"]
    assert _ids({**QUIET, "n_windows": 2000}) == []
    assert "819 windows" in study_warnings({**QUIET, "n_windows": 819})[0]["message"]


def test_files_dropped_counts_and_top_reasons():
    manifest = pd.DataFrame(
        {
            "status": ["ok"] + ["no_windows"] * 39,
            "reason": [""] + ["time signature 3/4"] * 30 + ["no 4/4 section"] * 6 + ["too short"] * 3,
        }
    )
    (warning,) = study_warnings({**QUIET, "manifest": manifest})
    assert warning["id"] == "files_dropped"
    assert warning["message"].startswith("39 of 40 files gave no window (98%)")
    assert "time signature 3/4 (30); no 4/4 section (6); too short (3)." in warning["message"]
    records = manifest.to_dict(orient="records")  # a plain list of records works as well
    assert study_warnings({**QUIET, "manifest": records}) == [warning]


def test_free_running_accuracy_near_the_hold_baseline():
    # the embedded 16-bar model: 0.617 free-running vs 0.609 always-hold
    (warning,) = study_warnings({**QUIET, "free_running_accuracy": 0.617, "hold_baseline_accuracy": 0.609})
    assert warning["id"] == "near_hold_baseline"
    assert "fixes 2% of that baseline's errors" in warning["message"]
    # fixing over 25 % of the errors is enough: (0.67 - 0.55) / 0.45 = 0.27; the 2-bar default fixes 20 %
    assert _ids({**QUIET, "free_running_accuracy": 0.67, "hold_baseline_accuracy": 0.55}) == []
    assert _ids({**QUIET, "free_running_accuracy": 0.645, "hold_baseline_accuracy": 0.556}) == [
        "near_hold_baseline"
    ]


def test_most_dimensions_music_and_unstable_split():
    assert _ids({**QUIET, "n_music": 257}) == ["mostly_music"]
    assert _ids({**QUIET, "n_music": 256}) == []
    moving = {0.8: 9, 0.9: 10, 0.95: 30, 0.99: 499}  # the embedded 2-bar model
    (warning,) = study_warnings({**QUIET, "threshold_sensitivity": moving})
    assert warning["id"] == "unstable_split"
    assert "0.8: 9, 0.9: 10, 0.95: 30, 0.99: 499" in warning["message"]


def test_models_that_are_not_the_papers():
    (warning,) = study_warnings({**QUIET, "model": "default-2bar", "model_config": None})
    assert warning["id"] == "not_paper_model"
    assert "embedded default-2bar" in warning["message"]
    assert EMBEDDED_MODELS["default-2bar"][1] in warning["message"]
    own = study_warnings({**QUIET, "model": "runs/mine", "model_config": {**PAPER_2BAR, "z_size": 256}})
    assert own[0]["id"] == "not_paper_model"
    assert "runs/mine" in own[0]["message"]
    # a Magenta release under another file name is still the paper's architecture
    assert _ids({**QUIET, "model": "x.tar"}) == []


def test_paper_architectures_match_the_model_presets():
    for name, arch in PAPER_ARCHITECTURES.items():
        preset = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(PRESETS[name]).items()}
        assert {k: preset[k] for k in arch} == arch
        assert paper_architecture(preset) == name
    flat = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(PRESETS["flat-mel_16bar"]).items()}
    assert paper_architecture(flat) is None
    assert paper_architecture(None) is None


def test_always_hold_accuracy():
    # first step copied (right by construction), then hold: [2,0,0,0] vs [2,0,0,1] and [3,0,0,0] vs [3,0,5,0]
    assert always_hold_accuracy([[2, 0, 0, 1], [3, 0, 5, 0]]) == pytest.approx(6 / 8)
    assert always_hold_accuracy([[5, 1, 0, 0]]) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="no windows"):
        always_hold_accuracy([])


def test_free_running_below_the_baseline_is_said_so():
    (warning,) = study_warnings({**QUIET, "free_running_accuracy": 0.016, "hold_baseline_accuracy": 0.572})
    assert warning["message"].startswith(
        "Free-running accuracy 0.016 is below the always-hold baseline 0.572"
    )

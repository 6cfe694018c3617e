"""``musicneurons probe`` run for real on the embedded 2-bar model and a few of its corpus windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musicneurons import default_corpus, split_music_noise
from musicneurons.cli import main


@pytest.fixture(scope="module")
def windows_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w") / "windows.parquet"
    default_corpus(2).head(48).to_parquet(path, index=False)
    return path


def test_probe_writes_effects_for_music_and_noise_neurons(
    windows_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "probes"
    argv = [
        "probe",
        "--model",
        "default-2bar",
        "--windows",
        str(windows_file),
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    argv += ["--top-k", "2", "--n-noise", "1", "--n-windows", "3", "--steps", "3"]
    assert main(argv) == 0
    assert "greedy decodes of 3 windows" in capsys.readouterr().out
    info = json.loads((out / "probe.json").read_text())
    assert info["labels"] == ["music", "music", "noise"]
    assert info["grid"] == [-3.0, 0.0, 3.0]
    assert info["n_decodes"] == 3 * 3 * 2 + 3
    # the neurons are the split's two most specific music neurons, then the least specific noise neuron
    from musicneurons import load_model

    windows = np.stack(default_corpus(2).head(48)["window"])
    _, _, sigma = load_model("default-2bar", device="cpu").encode(windows)
    split = split_music_noise(sigma)
    assert info["neurons"][:2] == [int(j) for j in split.order[:2]]
    assert info["neurons"][2] == int(split.order[-1])
    effects = pd.read_parquet(out / "effects.parquet")
    assert set(effects["neuron"]) == set(info["neurons"])
    assert {"P12", "R15", "M2"} <= set(effects["feature"])
    assert effects["change_share"].between(0, 1).all()
    assert (out / "attribute_change.png").read_bytes()[:4] == b"\x89PNG"
    decodes = pd.read_parquet(out / "decodes.parquet")
    assert len(decodes) == 3 * 3 * 3
    assert main(argv) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_probe_user_errors(windows_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["probe", "--windows", str(windows_file), "--out", str(tmp_path / "o"), "--device", "cpu"]
    assert main([*base, "--model", "default-16bar"]) == 2
    err = capsys.readouterr().err.strip()
    assert "32 steps" in err
    assert "\n" not in err
    assert main([*base, "--model", "default-2bar", "--steps", "4"]) == 2
    assert "--steps" in capsys.readouterr().err
    missing = tmp_path / "no-such-windows.parquet"
    assert main(["probe", "--model", "default-2bar", "--windows", str(missing), "--out", str(tmp_path)]) == 2
    assert missing.name in capsys.readouterr().err

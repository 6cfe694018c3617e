"""The command line run for real on small inputs: a pipeline from MIDI to features, and user errors.

A user error is one line on stderr naming the file or option, exit code 2, and no traceback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import CORPORA

from musicneurons.cli import COMMANDS, build_parser, main

NOTTINGHAM = CORPORA / "nottingham" / "melody"
FILES = ("ashover1.mid", "ashover10.mid", "ashover11.mid")


def test_every_command_teaches_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == set(COMMANDS)
    for name in commands:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: musicneurons {name}")
        assert "--" in out  # every command has at least one option


@pytest.fixture
def midi_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "midi"
    folder.mkdir()
    for name in FILES:
        shutil.copy(NOTTINGHAM / name, folder / name)
    return folder


def test_extract_then_features_on_three_files(
    midi_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(midi_dir), "--bars", "2", "--out", str(tmp_path / "w"), "--jobs", "1"]) == 0
    assert "3 files" in capsys.readouterr().out
    windows = pd.read_parquet(tmp_path / "w" / "windows.parquet")
    manifest = pd.read_parquet(tmp_path / "w" / "manifest.parquet")
    assert sorted(Path(s).name for s in manifest["source"]) == sorted(FILES)
    assert {Path(s).name for s in windows["source"]} <= set(FILES)
    assert len(windows) == manifest["n_windows"].sum() > 0

    out = tmp_path / "f.parquet"
    assert main(["features", str(tmp_path / "w" / "windows.parquet"), "--out", str(out)]) == 0
    features = pd.read_parquet(out)
    assert len(features) == len(windows)
    assert list(features["window_id"]) == list(windows["window_id"])
    assert {"P1", "R15", "M19"} <= set(features.columns)
    # a second run refuses to overwrite
    assert main(["features", str(tmp_path / "w" / "windows.parquet"), "--out", str(out)]) != 0


USER_ERRORS = [
    (["extract", "{missing}", "--out", "{tmp}/o"], "missing"),
    (["features", "{missing}", "--out", "{tmp}/f.parquet"], "missing"),
    (["convert", "{missing}", "{tmp}/m"], "missing"),
    (["center", "{missing}", "{missing}", "--out", "{tmp}/m"], "missing"),
    (["study", "--model", "{missing}", "--out", "{tmp}/s"], "missing"),
    (["train", "{missing}", "--out", "{tmp}/r"], "missing"),
]


@pytest.mark.parametrize(("argv", "named"), USER_ERRORS, ids=[a[0][0] for a in USER_ERRORS])
def test_a_missing_path_is_one_line_and_exit_2(
    argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-thing"
    args = [a.format(missing=missing, tmp=tmp_path) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "Traceback" not in err
    assert str(missing) in err or missing.name in err


def test_study_refuses_a_sigma_threshold_outside_the_prior_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["study", "--sigma-threshold", "0", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--sigma-threshold must be in (0, 2]" in err[0]
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["study", "--n-random", "-5"], "--n-random"),
        (["study", "--max-windows", "0"], "--max-windows"),
        (["study", "--device", "tpu"], "tpu"),
        (["study", "--sigma-threshold", "-1"], "--sigma-threshold"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(
    argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert named in err
    assert not (tmp_path / "s" / "summary.json").exists()


def test_study_out_that_is_a_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "taken"
    out.write_text("not a folder")
    assert main(["study", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert str(out) in err

"""The later parts' stages in a forked child: the same study as one process, and nothing lost if it fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musicneurons.cli import main
from musicneurons.study import pipeline

pytestmark = pytest.mark.slow
SMALL = ["--max-windows", "48", "--n-random", "300", "--skip", "extras", "--figure-workers", "0"]


def _study(out: Path, *extra: str) -> tuple[dict, dict]:
    """(summary.json without timings or config, run.json) of a small default study (2 bars and 16 bars)."""
    assert main(["study", *SMALL, "--device", "cpu", "--no-progress", "--out", str(out), *extra]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for part in summary["parts"].values():
        part.pop("seconds_this_run")
    summary.pop("config")
    return summary, json.loads((out / "run.json").read_text())


@pytest.fixture(scope="module")
def in_one_process(tmp_path_factory: pytest.TempPathFactory) -> dict:
    summary, run = _study(tmp_path_factory.mktemp("serial") / "out", "--no-prefetch")
    assert run["prefetch"] is None
    return summary


def test_the_child_computes_the_16bar_stages_and_the_study_is_the_same(tmp_path, in_one_process):
    summary, run = _study(tmp_path / "out")
    assert run["prefetch"]["parts"] == [16]
    assert run["prefetch"]["completed"] is True
    assert run["prefetch"]["seconds"] > 0
    assert summary == in_one_process
    assert (tmp_path / "out" / "16bar" / "latents.npz").exists()


def test_a_failing_child_loses_nothing(tmp_path, in_one_process, monkeypatch):
    def broken(*args: object) -> None:
        raise RuntimeError("the child breaks")

    monkeypatch.setattr(pipeline, "compute_stages", broken)  # the forked child inherits the patch
    summary, run = _study(tmp_path / "out")
    assert run["prefetch"]["completed"] is False
    assert summary == in_one_process

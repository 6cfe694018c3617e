"""bench/bench_magenta.py without TensorFlow: it says how to build Magenta's environment and exits 0."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None, reason="TensorFlow is installed here")
def test_without_tensorflow_prints_the_setup_and_exits_0() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_magenta.py"), "--policy", "passive"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("not importable: tensorflow, magenta, note_seq")
    assert "tensorflow-cpu==2.15.1" in done.stdout
    assert "--magenta-src" in done.stdout
    assert "cores; threads" not in done.stdout  # nothing was measured

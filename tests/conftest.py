"""Shared test configuration: where ../shared is, and fixtures that fail loudly when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MUSICNEURONS_SHARED", PROJECT_ROOT.parent / "shared"))
MAGENTA_FIXTURES = SHARED / "fixtures" / "magenta"
MUSIC21_FIXTURES = SHARED / "fixtures" / "music21"
CORPORA = SHARED / "corpora"


def require(path: Path) -> Path:
    """Return ``path``, failing the test (never skipping) when the shared data is missing."""
    if not path.exists():
        pytest.fail(f"shared test data missing: {path} (../shared must sit beside the project folder)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require(SHARED)


@pytest.fixture(scope="session")
def magenta_fixtures() -> Path:
    return require(MAGENTA_FIXTURES)


@pytest.fixture(scope="session")
def music21_fixtures() -> Path:
    return require(MUSIC21_FIXTURES)


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    return require(CORPORA)


@pytest.fixture
def one_torch_thread():
    """Tiny matrices: one torch thread avoids OpenMP's wake-ups and spinning on a busy machine (5-20x
    faster)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

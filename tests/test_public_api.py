"""The public API: the names ``musicneurons`` exports, and every dotted path the README and docs mention.

Renaming or moving a public name breaks users' code and the docs' examples; these tests make that a
deliberate change (update the pinned list and say so in the changelog of the release).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import musicneurons

ROOT = Path(__file__).resolve().parents[1]

PINNED = {
    "__version__",
    "MusicVAE",
    "MusicVAEConfig",
    "PRESETS",
    "StudyConfig",
    "TrainedModel",
    "ablation_curve",
    "activation_counts",
    "active_units",
    "attribute_vectors",
    "compare_attribute_vectors",
    "compute_features",
    "default_corpus",
    "default_windows",
    "extract_corpus",
    "extract_windows",
    "ks_per_neuron",
    "largest_sigma_gap",
    "load_model",
    "loess",
    "neuron_histograms",
    "neuron_order",
    "pearson_matrix",
    "phik_cross",
    "phik_significance_cross",
    "read_midi",
    "run_study",
    "save_model",
    "spearman_matrix",
    "split_agreement",
    "split_music_noise",
}


def test_exports_are_the_pinned_list() -> None:
    assert set(musicneurons.__all__) == PINNED


@pytest.mark.parametrize("name", sorted(PINNED))
def test_every_export_imports(name: str) -> None:
    assert getattr(musicneurons, name) is not None


def test_version() -> None:
    assert musicneurons.__version__ == "0.2.0"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'version = "0.2.0"' in pyproject


def documented_paths() -> list[str]:
    texts = [p.read_text() for p in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *ROOT.glob("docs/*.md")]]
    found = {m for text in texts for m in re.findall(r"musicneurons(?:\.[A-Za-z_]\w*)+", text)}
    return sorted(found)


def resolve(dotted: str) -> object:
    """Import the longest importable module prefix of ``dotted``, then follow attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("dotted", documented_paths())
def test_documented_paths_import(dotted: str) -> None:
    assert resolve(dotted) is not None

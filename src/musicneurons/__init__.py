"""musicneurons: open up the latent space of music VAEs (MusicVAE in PyTorch, Magenta-exact data, the study).

The public API is re-exported here lazily, so ``import musicneurons`` stays cheap (torch loads on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "load_model": "musicneurons.model.load",
    "save_model": "musicneurons.model.checkpoints",
    "MusicVAE": "musicneurons.model.musicvae",
    "MusicVAEConfig": "musicneurons.model.config",
    "PRESETS": "musicneurons.model.registry",
    "TrainedModel": "musicneurons.model.inference",
    "default_windows": "musicneurons.data.defaults",
    "default_corpus": "musicneurons.data.defaults",
    "compute_features": "musicneurons.features.registry",
    "phik_cross": "musicneurons.analysis.correlations",
    "phik_significance_cross": "musicneurons.analysis.correlations",
    "pearson_matrix": "musicneurons.analysis.correlations",
    "spearman_matrix": "musicneurons.analysis.correlations",
    "loess": "musicneurons.analysis.local_regression",
    "neuron_order": "musicneurons.analysis.neurons",
    "split_music_noise": "musicneurons.analysis.neurons",
    "largest_sigma_gap": "musicneurons.analysis.neurons",
    "active_units": "musicneurons.analysis.neurons",
    "split_agreement": "musicneurons.analysis.neurons",
    "activation_counts": "musicneurons.analysis.neurons",
    "neuron_histograms": "musicneurons.analysis.neurons",
    "ks_per_neuron": "musicneurons.analysis.neurons",
    "attribute_vectors": "musicneurons.analysis.attributes",
    "compare_attribute_vectors": "musicneurons.analysis.attributes",
    "ablation_curve": "musicneurons.analysis.ablation",
    "run_study": "musicneurons.study.pipeline",
    "StudyConfig": "musicneurons.study.pipeline",
    "extract_windows": "musicneurons.data.melody",
    "extract_corpus": "musicneurons.data.corpus",
    "read_midi": "musicneurons.data.midi",
    # random_melodies is not re-exported: the name is also its module's, and importing the submodule
    # would replace the function on the package; use musicneurons.data.random_melodies.random_melodies.
}

__all__ = [  # noqa: PLE0604 (built from the export table so the two never disagree)
    "__version__",
    *sorted(_EXPORTS),
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'musicneurons' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__

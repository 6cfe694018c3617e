"""One study part while it runs: a model, its corpus, the settings, and the artifacts computed so far.

A :class:`Part` is what every row of the stage table (:data:`musicneurons.study.pipeline.STAGES`) reads:
``part.data[name]`` holds each finished stage's artifact, ``part.keys[name]`` its key, and the properties
below name what the stages use most (the window array, μ and σ, the neuron table, ...) so that a row stays
one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from musicneurons.constants import DEFAULT_QPM
from musicneurons.data.example_melodies import twinkle
from musicneurons.study import stages as st
from musicneurons.study.artifacts import stage_rng
from musicneurons.study.config import StudyConfig, StudyError

if TYPE_CHECKING:
    from musicneurons.model.inference import TrainedModel

MAX_PHIK_NEURONS = 128  # φ_K covers every music neuron up to this many


@dataclass
class Part:
    """A model on its corpus: settings, the corpus before selection, and the artifacts of finished stages."""

    config: StudyConfig
    model: TrainedModel
    model_name: str
    bars: int
    folder: Path
    corpus: np.ndarray  # every window of the corpus, (n, T) int8
    corpus_table: pd.DataFrame  # one row per corpus window (``qpm``, ``source``, provenance)
    corpus_text: str  # the corpus in words, for the report
    data: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    absent: set[str] = field(default_factory=set)  # stages passed over in this part (not asked, n/a)

    # ------------------------------------------------------------------ names and settings
    @property
    def key(self) -> str:
        return f"{self.bars}bar"

    @property
    def label(self) -> str:
        return f"{self.bars}-bar"

    def rng(self, name: str) -> np.random.Generator:
        """The generator of one stage (seeded by the study seed and the stage name)."""
        return stage_rng(self.config.seed, name)

    @cached_property
    def model_key(self) -> str:
        return st.model_fingerprint(self.model)

    @property
    def run_params(self) -> dict[str, Any]:
        """What a stage that runs the model depends on: its weights, the device and the precision."""
        return {
            "model": self.model_key,
            "device": str(self.model.device.type),
            "precision": self.config.precision,
        }

    @property
    def latents_source(self) -> dict[str, Any]:
        """The precomputed latents read instead of encoding (``--latents``) as a stage parameter, or {}."""
        if not self.config.latents:
            return {}
        from musicneurons.encode.latents import folder_fingerprint

        return {"latents": folder_fingerprint(self.config.latents)}

    @cached_property
    def corpus_key(self) -> str:
        qpm = (
            self.corpus_table["qpm"] if "qpm" in self.corpus_table else np.full(len(self.corpus), DEFAULT_QPM)
        )
        return st.windows_fingerprint(self.corpus, np.asarray(qpm, dtype=np.float64))

    # ------------------------------------------------------------------ the windows studied
    @cached_property
    def windows(self) -> np.ndarray:
        """The studied windows (n, T) int8; a study needs at least two."""
        windows = st.window_array(self.data["windows"])
        if len(windows) < 2:
            msg = (
                f"{self.label}: only {len(windows)} window(s) in {self.corpus_text}; "
                "the study needs at least 2"
            )
            raise StudyError(msg)
        return windows

    @property
    def qpm(self) -> np.ndarray:
        return self.data["windows"]["qpm"].to_numpy(dtype=np.float64)

    @property
    def window_ids(self) -> np.ndarray:
        return self.data["windows"]["window_id"].to_numpy()

    @property
    def has_random(self) -> bool:
        """Random note sequences are compared with real ones: 2-bar parts only (the paper's generator)."""
        return self.bars == 2 and self.config.n_random > 0

    @property
    def n_random(self) -> int:
        """Random sequences used: as asked, but never more than real windows (so both sets weigh the same)."""
        return min(self.config.n_random, len(self.windows)) if self.has_random else 0

    @cached_property
    def example_window(self) -> np.ndarray:
        return twinkle(self.corpus.shape[1])

    # ------------------------------------------------------------------ latents and neurons
    @property
    def mu(self) -> np.ndarray:
        return self.data["latents"]["mu"]

    @property
    def sigma(self) -> np.ndarray:
        return self.data["latents"]["sigma"]

    @property
    def mu_random(self) -> np.ndarray | None:
        latents = self.data.get("random_latents")
        return None if latents is None else latents["mu"]

    @property
    def features(self) -> pd.DataFrame:
        return self.data["features"]

    @property
    def neurons(self) -> pd.DataFrame:
        return self.data["neurons"]

    @property
    def z_size(self) -> int:
        return len(self.neurons)

    @property
    def n_music(self) -> int:
        return int(self.neurons["is_music"].sum())

    @property
    def n_corr_dims(self) -> int:
        return min(self.config.n_corr_dims, self.z_size)

    @property
    def n_phik_neurons(self) -> int:
        return min(self.z_size, max(self.config.n_phik_neurons, min(self.n_music, MAX_PHIK_NEURONS)))

    def info(self) -> dict[str, Any]:
        """What the part studied, copied into ``summary.json`` as it is."""
        return {
            "label": self.label,
            "model": self.model_name,
            "model_fingerprint": self.model_key,
            "model_config": self.model.config.to_dict(),
            "corpus": self.corpus_text,
            "n_windows": len(self.windows),
            "n_random": self.n_random,
            "n_random_requested": self.config.n_random if self.bars == 2 else 0,
            "sigma_threshold": float(self.neurons["sigma_threshold"].iloc[0]),
        }


def _corpus(bars: int, config: StudyConfig, part_dir: Path) -> tuple[np.ndarray, pd.DataFrame, str]:
    """Windows, their table and a description, from ``--midi``, ``--windows`` or the embedded corpus."""
    if config.midi and config.windows:
        msg = "give --midi or --windows, not both"
        raise StudyError(msg)
    if config.windows:
        from musicneurons.encode.plan import read_window_tables

        windows, frame = read_window_tables(config.windows)
        return windows, frame, f"{len(windows):,} windows from {config.windows}"
    if config.midi:
        from musicneurons.data.corpus import extract_corpus, read_windows

        summary = extract_corpus(
            config.midi, bars, part_dir / "extract", mode="all", progress=config.progress
        )
        windows, frame = read_windows(summary.windows_path)
        text = f"{summary.n_windows:,} windows from {summary.n_files:,} MIDI files in {config.midi}"
        return windows, frame, text
    from musicneurons.data.defaults import default_corpus, default_windows

    windows = default_windows(bars=bars)
    return windows, default_corpus(bars=bars), f"the embedded {bars}-bar corpus ({len(windows):,} windows)"


def open_part(model: TrainedModel, bars: int, model_name: str, config: StudyConfig, out: Path) -> Part:
    """A part with its corpus read and checked against the model, before any stage runs."""
    folder = out / f"{bars}bar"
    folder.mkdir(parents=True, exist_ok=True)
    windows, frame, text = _corpus(bars, config, folder)
    if windows.shape[1] != model.config.max_seq_len:
        msg = (
            f"the corpus has {windows.shape[1]}-step windows but the model expects "
            f"{model.config.max_seq_len} ({model_name})"
        )
        raise StudyError(msg)
    return Part(config, model, model_name, bars, folder, windows, frame, text)

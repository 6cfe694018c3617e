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
from musicneurons.study.config import DEFAULT_MODELS, StudyConfig, StudyError

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
        """What a stage that runs the model depends on: its weights' fingerprint and its config, the device
        and the precision."""
        return {
            "model": self.model_key,
            "model_config": self.model.config.to_dict(),
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
    @property
    def n_windows_total(self) -> int:
        """Every studied window (the ``windows`` table): the counts and the split are over all of them."""
        return len(self.data["windows"])

    @cached_property
    def analysis_rows(self) -> np.ndarray:
        """Rows of the ``windows`` table that the per-window analyses use: all of them, or a seeded random
        subset of ``config.analysis_windows`` when there are more (:mod:`musicneurons.study.corpus_stats`)."""
        from musicneurons.study.corpus_stats import analysis_subset

        return analysis_subset(self.n_windows_total, self.config.analysis_windows, self.rng("analysis"))

    @property
    def is_subset(self) -> bool:
        """Whether the per-window analyses see a subset (then ``latent_stats`` streams over every window)."""
        return len(self.analysis_rows) < self.n_windows_total

    @property
    def analysis_params(self) -> dict[str, Any]:
        """What the analysis subset depends on, as stage parameters ({} when it is every window)."""
        if not self.is_subset:
            return {}
        return {"analysis_windows": self.config.analysis_windows, "seed": self.config.seed}

    @cached_property
    def analysis_table(self) -> pd.DataFrame:
        """The rows of the ``windows`` table in the analysis subset (the table itself when it is all)."""
        table = self.data["windows"]
        return table.iloc[self.analysis_rows].reset_index(drop=True) if self.is_subset else table

    @cached_property
    def windows(self) -> np.ndarray:
        """The windows of the analysis subset (n, T) int8 (every studied window unless the corpus is larger
        than ``analysis_windows``); a study needs at least two."""
        windows = st.window_array(self.analysis_table)
        if len(windows) < 2:
            msg = (
                f"{self.label}: only {len(windows)} window(s) in {self.corpus_text}; "
                "the study needs at least 2"
            )
            raise StudyError(msg)
        return windows

    @property
    def qpm(self) -> np.ndarray:
        return self.analysis_table["qpm"].to_numpy(dtype=np.float64)

    @property
    def window_ids(self) -> np.ndarray:
        return self.analysis_table["window_id"].to_numpy()

    @property
    def sources(self) -> np.ndarray:
        """The source file of each window of the analysis subset, as strings."""
        return self.analysis_table["source"].astype(str).to_numpy()

    @property
    def has_random(self) -> bool:
        """Random note sequences are compared with real ones: 2-bar parts only (the paper's generator)."""
        return self.bars == 2 and self.config.n_random > 0

    @property
    def n_random(self) -> int:
        """Random sequences used: as asked, but never more than real windows (so both sets weigh the same)."""
        return min(self.config.n_random, len(self.windows)) if self.has_random else 0

    def random_notes(self) -> list[str]:
        """What the report should say about the random note sequences: none (16 bars), or fewer than asked."""
        if not self.has_random and self.bars != 2:
            why = "the paper's generator (§5.1) defines 2-bar ones only"
            return [f"{self.label}: no random note sequences; {why}."]
        if self.has_random and self.n_random < self.config.n_random:
            real = "the windows of the analysis subset" if self.is_subset else "there are real windows"
            text = (
                f"{self.label}: {self.n_random:,} random note sequences instead of the "
                f"{self.config.n_random:,} asked for, as many as {real}, so both sets weigh the same."
            )
            return [text]
        return []

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
    def stats(self) -> dict[str, np.ndarray] | None:
        """The ``latent_stats`` artifact (every window's numbers), or None when the analyses see them all."""
        return self.data.get("latent_stats")

    def latent_stats(self) -> dict[str, np.ndarray]:
        """Mean σ, mean and variance of μ and the excited dimensions of every studied window, streamed from
        the ``--latents`` folder or encoded here, one chunk at a time."""
        from musicneurons.study import corpus_stats as cs

        table = self.data["windows"]
        ids = table["window_id"].to_numpy()
        if self.config.latents:
            chunks = cs.stored_chunks(self.config.latents, ids)
        else:
            starts = range(0, len(table), cs.CHUNK)
            windows = (
                (np.arange(a, min(a + cs.CHUNK, len(table))), st.window_array(table.iloc[a : a + cs.CHUNK]))
                for a in starts
            )
            chunks = cs.encoded_chunks(self.model, windows, self.rng("latent_stats"))
        return cs.latent_stats(chunks, ids, threshold=self.config.activation_threshold)

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
            "n_windows": self.n_windows_total,
            "n_windows_total": self.n_windows_total,
            "n_windows_analysis": len(self.windows),
            "analysis_windows": self.config.analysis_windows or 0,
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


def load_part_model(name: str | None, config: StudyConfig) -> TrainedModel:
    """The model of a part, loaded for the study's device and precision (name None: the 2-bar default)."""
    from musicneurons.device import configure_cpu_numerics
    from musicneurons.model.load import load_model

    configure_cpu_numerics()
    return load_model(name, device=config.device, precision=config.precision)


def study_parts(config: StudyConfig) -> list[tuple[int, str | None]]:
    """(bars, model name or path) per part."""
    if config.latents and config.model is None and len(config.bars) != 1:
        msg = "--latents holds one model's latents: give --model (or a single --bars for an embedded model)"
        raise StudyError(msg)
    if config.model is None:
        return [(b, DEFAULT_MODELS[b]) for b in config.bars]
    return [(0, config.model)]  # bars read from the model once loaded


def check_bars(config: StudyConfig, name: str | None, bars: int, model: TrainedModel) -> int:
    """The model's bars, refused when they contradict the part's bars or ``--bars``."""
    model_bars = model.config.max_seq_len // 16
    if bars and bars != model_bars:
        msg = f"model {name} has {model.config.max_seq_len}-step windows ({model_bars} bars), not {bars} bars"
        raise StudyError(msg)
    if config.model is not None and config.bars and model_bars not in config.bars:
        msg = f"--bars {','.join(map(str, config.bars))} does not match the model ({model_bars} bars)"
        raise StudyError(msg)
    return model_bars

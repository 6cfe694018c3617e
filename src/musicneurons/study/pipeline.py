"""The paper end to end: ``run_study(config, out)`` encodes a corpus, analyses the latents, draws every
figure and writes ``report/index.html`` and ``summary.json``.

One *part* per model (by default the embedded 2-bar and 16-bar models, each with its embedded corpus).
Each stage of a part is a plain call into the library (:mod:`musicneurons.study.stages`) that writes one
artifact under ``OUT/<part>/`` (Parquet or NPZ) with a ``.meta.json`` sidecar (stage key = hash of its
inputs and parameters, run time, library versions). A stage whose artifact exists with the same key is
skipped, so an interrupted run resumes where it stopped and a rerun with other settings recomputes only
what those settings touch.

Layout of ``OUT``::

    summary.json            the headline numbers (also in the report), per part
    run.json                config, versions, seeds, stage timings
    report/index.html       self-contained report (figures embedded)
    2bar/ 16bar/            per part: windows.parquet, latents.npz, features.parquet, random.npz,
                            random_latents.npz, random_features.parquet, example.npz, neurons.parquet, latent_corr.npz,
                            feature_corr.parquet, phik.parquet, loess.parquet, counts.parquet,
                            attributes.parquet, ablation.parquet, figures/*.png|svg
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from musicneurons.figures.latent import save_figure
from musicneurons.study import report
from musicneurons.study import stages as st
from musicneurons.study.artifacts import cached, read_meta, stage_key, stage_rng, versions, write_json
from musicneurons.study.figure_plans import plan_part, render

if TYPE_CHECKING:
    from musicneurons.model.inference import TrainedModel

log = logging.getLogger(__name__)

DEFAULT_MODELS = {2: "default-2bar", 16: "default-16bar"}
ABLATION_KS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # plus the music/noise cut and z_size


class StudyError(ValueError):
    """A study that cannot run as asked (model and corpus disagree, too few windows, ...); the message says why."""


@dataclass(frozen=True)
class StudyConfig:
    """Everything that shapes a study run (the CLI's options).

    Parameters
    ----------
    model : str, optional
        A model for a single part: an embedded name (``default-2bar``, ``default-16bar``), one of our model
        folders, or a Magenta checkpoint (``.tar``, directory or prefix). None: the embedded default for each
        window length in ``bars``.
    midi : str, optional
        A folder of MIDI files to extract windows from (Magenta's converter rules); None: the embedded corpus.
    bars : tuple of int
        Window lengths to study, (2, 16) by default; with ``model`` it must match the model.
    n_random : int
        Random note sequences to compare with (2-bar parts only); at most as many as real windows are used.
    seed : int
        Seeds every random draw (each stage gets its own generator from the seed and its name).
    device, precision : str
        Where and how to run the model (``auto``/``cpu``/``cuda``; ``fp32``/``bf16``).
    max_windows : int, optional
        Study a random subset of at most this many real windows per part.
    sigma_threshold : float, optional
        Music neuron: mean σ below this (None: ``musicneurons.analysis.neurons.DEFAULT_SIGMA_THRESHOLD``).
    activation_threshold : float
        A window excites a neuron when |μ| exceeds this (paper: 0.1).
    n_phik_neurons : int
        φ_K is computed between every feature and this many most specific neurons (more if a model has more
        music neurons, up to 128): the figures show no more.
    n_corr_dims : int
        Dimensions in the latent correlation matrix (paper: 100).
    ablation_steps : int
        Window steps (windows × T) decoded per point of the ablation curve: 16,000 = 500 2-bar windows or
        62 16-bar windows. 0 skips the ablation.
    overwrite : bool
        Recompute every stage even when its artifact matches.
    progress : bool
        Show progress bars.
    """

    model: str | None = None
    midi: str | None = None
    bars: tuple[int, ...] = (2, 16)
    n_random: int = 50_000
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    max_windows: int | None = None
    sigma_threshold: float | None = None
    activation_threshold: float = 0.1
    n_phik_neurons: int = 64
    n_corr_dims: int = 100
    ablation_steps: int = 16_000
    overwrite: bool = False
    progress: bool = True


@dataclass
class PartResult:
    """What one part produced: its summary numbers, figures, tables and notes for the report."""

    key: str
    label: str
    summary: dict[str, Any]
    figures: list[report.FigureEntry]
    tables: dict[str, Path]
    previews: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)


def _load_model(name: str | None, config: StudyConfig) -> TrainedModel:
    from musicneurons.device import configure_cpu_numerics
    from musicneurons.model.load import load_model

    configure_cpu_numerics()
    return load_model(name, device=config.device, precision=config.precision)


def _corpus(bars: int, config: StudyConfig, part_dir: Path) -> tuple[np.ndarray, pd.DataFrame, str]:
    """Windows, their table and a description, from ``--midi`` or the embedded corpus."""
    if config.midi:
        from musicneurons.data.corpus import extract_corpus, read_windows

        summary = extract_corpus(
            config.midi, bars, part_dir / "extract", mode="all", progress=config.progress
        )
        windows, frame = read_windows(summary.windows_path)
        return (
            windows,
            frame,
            f"{summary.n_windows:,} windows from {summary.n_files:,} MIDI files in {config.midi}",
        )
    from musicneurons.data.defaults import default_corpus, default_windows

    windows = default_windows(bars=bars)
    return windows, default_corpus(bars=bars), f"the embedded {bars}-bar corpus ({len(windows):,} windows)"


def run_part(model: TrainedModel, bars: int, model_name: str, config: StudyConfig, out: Path) -> PartResult:
    """Every stage, figure and summary number of one model on its corpus."""
    key_name = f"{bars}bar"
    label = f"{bars}-bar"
    part = out / key_name
    part.mkdir(parents=True, exist_ok=True)
    ow, prog, seed = config.overwrite, config.progress, config.seed
    notes: list[str] = []
    keys: dict[str, str] = {}
    data: dict[str, Any] = {}

    def stage(name: str, filename: str, params: dict[str, Any], inputs: list[str], compute: Any) -> Any:
        keys[name] = stage_key(name, params, {i: keys[i] for i in inputs})
        data[name] = cached(
            part / filename, keys[name], compute, stage=f"{key_name}/{name}", params=params, overwrite=ow
        )
        return data[name]

    model_key = st.model_fingerprint(model)
    windows_all, frame, corpus_text = _corpus(bars, config, part)
    if windows_all.shape[1] != model.config.max_seq_len:
        msg = (
            f"the corpus has {windows_all.shape[1]}-step windows but the model expects "
            f"{model.config.max_seq_len} ({model_name})"
        )
        raise StudyError(msg)
    qpm_all = frame["qpm"].to_numpy(dtype=np.float64) if "qpm" in frame else np.full(len(frame), 120.0)
    content = st.windows_fingerprint(windows_all, qpm_all)
    table = stage(
        "windows",
        "windows.parquet",
        {"content": content, "max_windows": config.max_windows, "seed": seed},
        [],
        lambda: st.select_windows(
            windows_all, frame, max_windows=config.max_windows, rng=stage_rng(seed, "windows")
        ),
    )
    windows = st.window_array(table)
    qpm = table["qpm"].to_numpy(dtype=np.float64)
    n = len(windows)
    if n < 2:
        msg = f"{label}: only {n} window(s) in {corpus_text}; the study needs at least 2"
        raise StudyError(msg)
    run = {"model": model_key, "device": str(model.device.type), "precision": config.precision}
    lat = stage(
        "latents",
        "latents.npz",
        run,
        ["windows"],
        lambda: st.encode_latents(
            model, windows, rng=stage_rng(seed, "latents"), progress=prog, desc=f"{label}: encode corpus"
        ),
    )
    feats = stage(
        "features",
        "features.parquet",
        {"convention": "music21"},
        ["windows"],
        lambda: st.features_table(windows, qpm, table["window_id"].to_numpy()),
    )
    mu_random = None
    n_random = 0
    if bars == 2 and config.n_random > 0:
        n_random = min(config.n_random, n)
        if n_random < config.n_random:
            notes.append(
                f"{label}: {n_random:,} random note sequences instead of the {config.n_random:,} asked "
                f"for, as many as there are real windows, so both sets weigh the same."
            )
        rnd = stage(
            "random",
            "random.npz",
            {"n": n_random, "seed": seed},
            [],
            lambda: st.random_windows(n_random, stage_rng(seed, "random")),
        )
        rlat = stage(
            "random_latents",
            "random_latents.npz",
            run,
            ["random"],
            lambda: st.encode_latents(
                model,
                rnd["windows"],
                rng=stage_rng(seed, "random_latents"),
                progress=prog,
                desc=f"{label}: encode random",
            ),
        )
        mu_random = rlat["mu"]
        stage(
            "random_features",
            "random_features.parquet",
            {"convention": "music21"},
            ["random"],
            lambda: st.features_table(rnd["windows"], rnd["qpm"], np.arange(n_random)),
        )
    elif bars != 2:
        notes.append(
            f"{label}: no random note sequences; the paper's generator (§5.1) defines 2-bar ones only."
        )
    ex_window = st.twinkle(windows.shape[1])
    stage(
        "example",
        "example.npz",
        {**run, "seed": seed, "window": ex_window.tolist()},
        [],
        lambda: st.example_encoding(model, ex_window, stage_rng(seed, "example")),
    )
    neurons = stage(
        "neurons",
        "neurons.parquet",
        {"sigma_threshold": config.sigma_threshold},
        ["latents", *(["random_latents"] if mu_random is not None else [])],
        lambda: st.neurons_table(lat["mu"], lat["sigma"], mu_random, sigma_threshold=config.sigma_threshold),
    )
    n_music = int(neurons["is_music"].sum())
    z_size = len(neurons)
    n_corr = min(config.n_corr_dims, z_size)
    stage(
        "latent_corr",
        "latent_corr.npz",
        {"n_dims": n_corr},
        ["latents", "neurons"],
        lambda: st.latent_correlations(lat["mu"], neurons, n_corr),
    )
    stage("feature_corr", "feature_corr.parquet", {}, ["features"], lambda: st.feature_correlations(feats))
    n_phik = min(z_size, max(config.n_phik_neurons, min(n_music, 128)))
    phik = stage(
        "phik",
        "phik.parquet",
        {"n_neurons": n_phik},
        ["features", "latents", "neurons"],
        lambda: st.phik_table(feats, lat["mu"], neurons, n_phik),
    )
    roles = {
        r: report.neuron_role(phik, neurons, g) for r, g in (("pitch_neuron", "P"), ("rhythm_neuron", "R"))
    }
    requests = []
    for target, source in (
        ("rhythm_neuron", "rhythm_neuron"),
        ("rhythm_neuron", "pitch_neuron"),
        ("pitch_neuron", "pitch_neuron"),
    ):
        if roles[target] and roles[source]:
            requests += [
                (roles[target]["rank"], roles[target]["dim"], f["feature"])
                for f in roles[source]["top_features"][:6]
            ]
    stage(
        "loess",
        "loess.parquet",
        {"requests": requests},
        ["features", "latents"],
        lambda: st.loess_curves(feats, lat["mu"], requests),
    )
    stage(
        "counts",
        "counts.parquet",
        {"threshold": config.activation_threshold},
        ["latents", "neurons", *(["random_latents"] if mu_random is not None else [])],
        lambda: st.counts_table(
            lat["mu"], table["window_id"].to_numpy(), mu_random, neurons, config.activation_threshold
        ),
    )
    stage(
        "attributes",
        "attributes.parquet",
        {"method": "pearson"},
        ["features", "latents", "neurons"],
        lambda: st.attributes_table(feats, lat["mu"], neurons),
    )
    if config.ablation_steps > 0:
        n_ab = max(1, min(n, config.ablation_steps // windows.shape[1]))
        ks = sorted({k for k in ABLATION_KS if k <= z_size} | {z_size, n_music})
        stage(
            "ablation",
            "ablation.parquet",
            {**run, "n_windows": n_ab, "ks": ks, "seed": seed},
            ["windows", "latents", "neurons"],
            lambda: st.ablation_table(
                model,
                windows,
                lat["mu"],
                neurons,
                ks=ks,
                n_windows=n_ab,
                rng=stage_rng(seed, "ablation"),
                progress=prog,
                desc=f"{label}: ablation",
            ),
        )

    info = {
        "label": label,
        "model": model_name,
        "model_fingerprint": model_key,
        "model_config": model.config.to_dict(),
        "corpus": corpus_text,
        "n_windows": n,
        "n_random": n_random,
        "n_random_requested": config.n_random if bars == 2 else 0,
        "sigma_threshold": float(neurons["sigma_threshold"].iloc[0]),
    }
    tables = {
        name: data[name]
        for name in ("neurons", "phik", "counts", "attributes", "ablation", "features", "random_features")
        if name in data
    }
    summary = report.summarize_part(tables, info=info, threshold=config.activation_threshold)
    plans = plan_part(
        label=label,
        data=data,
        keys=keys,
        summary=summary,
        n_corr_dims=n_corr,
        threshold=config.activation_threshold,
        summary_panel=bars != 2,
        rng=stage_rng(seed, "figures"),
    )
    figures = render(plans, part / "figures", overwrite=ow)
    table_files = {
        name: part / fn
        for name, fn in (
            ("windows", "windows.parquet"),
            ("features", "features.parquet"),
            ("neurons", "neurons.parquet"),
            ("random windows' features", "random_features.parquet"),
            ("phik", "phik.parquet"),
            ("feature correlations", "feature_corr.parquet"),
            ("counts", "counts.parquet"),
            ("attributes", "attributes.parquet"),
            ("ablation", "ablation.parquet"),
            ("LOESS curves", "loess.parquet"),
        )
        if (part / fn).exists()
    }
    preview = neurons.head(max(10, min(n_music, 40)))[
        [
            c
            for c in ("rank", "dim", "mean_sigma", "mean_mu", "var_mu", "is_music", "ks_random")
            if c in neurons
        ]
    ]
    return PartResult(
        key_name, label, summary, figures, table_files, {f"{key_name}/first neurons": preview}, notes
    )


def _parts(config: StudyConfig) -> list[tuple[int, str | None]]:
    """(bars, model name or path) per part."""
    if config.model is None:
        return [(b, DEFAULT_MODELS[b]) for b in config.bars]
    return [(0, config.model)]  # bars read from the model once loaded


def run_study(config: StudyConfig, out: str | Path) -> dict[str, Any]:
    """Run the whole study into ``out``; returns the content of ``summary.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: list[PartResult] = []
    for bars, name in _parts(config):
        t0 = time.perf_counter()
        model = _load_model(name, config)
        model_bars = model.config.max_seq_len // 16
        if bars and bars != model_bars:
            msg = f"model {name} has {model.config.max_seq_len}-step windows ({model_bars} bars), not {bars} bars"
            raise StudyError(msg)
        if config.model is not None and config.bars and model_bars not in config.bars:
            msg = f"--bars {','.join(map(str, config.bars))} does not match the model ({model_bars} bars)"
            raise StudyError(msg)
        log.info("%d-bar part: model %s on %s", model_bars, name or DEFAULT_MODELS[2], model.device)
        result = run_part(model, model_bars, str(name), config, out)
        result.summary["seconds_this_run"] = round(time.perf_counter() - t0, 1)
        results.append(result)
        del model
    summary = {
        "title": "musicneurons study",
        "versions": versions(),
        "config": asdict(config),
        "notes": [n for r in results for n in r.notes],
        "parts": {r.key: r.summary for r in results},
    }
    write_json(out / "summary.json", summary)
    metadata = {
        "config": asdict(config),
        "versions": versions(),
        "seconds_this_run": round(time.perf_counter() - started, 1),
        "stages": _stage_timings(out, [r.key for r in results]),
        "command": _command_line(config, out),
    }
    write_json(out / "run.json", metadata)
    report.write_report(
        out / "report" / "index.html",
        title="musicneurons study: music neurons and noise neurons",
        summary=summary,
        parts=[(r.key, r.label) for r in results],
        figures={r.key: r.figures for r in results},
        tables={r.key: r.tables for r in results},
        previews={k: v for r in results for k, v in r.previews.items()},
        notes=summary["notes"],
        metadata=metadata,
    )
    figures = {r.key: r.figures for r in results}
    save_figure(
        report.preview_figure(summary, [(r.key, r.label) for r in results], figures),
        out / "report" / "preview",
    )
    log.info("study finished in %.1f s: %s", time.perf_counter() - started, out / "report" / "index.html")
    return summary


def _stage_timings(out: Path, parts: list[str]) -> dict[str, dict[str, Any]]:
    """Seconds each stage took when its artifact was computed (from the sidecars)."""
    timings: dict[str, dict[str, Any]] = {}
    for key in parts:
        for path in sorted((out / key).glob("*.meta.json")):
            meta = read_meta(path.with_name(path.name.removesuffix(".meta.json")))
            if meta:
                timings[meta["stage"]] = {"seconds": meta.get("seconds"), "created": meta.get("created")}
    return timings


def _command_line(config: StudyConfig, out: Path) -> str:
    """The `musicneurons study` command that reproduces this run."""
    default = StudyConfig()
    args = ["musicneurons", "study", "--out", str(out)]
    for name, flag in (
        ("model", "--model"),
        ("midi", "--midi"),
        ("n_random", "--n-random"),
        ("seed", "--seed"),
        ("device", "--device"),
        ("precision", "--precision"),
        ("max_windows", "--max-windows"),
    ):
        value = getattr(config, name)
        if value != getattr(default, name):
            args += [flag, str(value)]
    if config.bars != default.bars and config.model is None:
        args += ["--bars", ",".join(map(str, config.bars))]
    return " ".join(args)

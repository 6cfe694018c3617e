"""The paper end to end: ``run_study(config, out)`` encodes a corpus, analyses the latents, draws every
figure and writes ``report/index.html`` and ``summary.json``.

One *part* per model (by default the embedded 2-bar and 16-bar models, each with its embedded corpus).
A part runs the rows of :data:`STAGES` in order: each row names a stage, the artifact file it writes under
``OUT/<part>/`` (Parquet or NPZ, with a ``.meta.json`` sidecar), the stages whose artifacts it reads, its
parameters and the function that computes it (a call into :mod:`musicneurons.study.stages`). The stage key
is a hash of the parameters and of the inputs' keys; a stage whose artifact exists with the same key is
skipped, so an interrupted run resumes where it stopped and a rerun with other settings recomputes only
what those settings touch. Adding a stage is adding a row. The figures follow the same pattern
(:data:`musicneurons.study.figure_plans.FIGURES`) and are drawn in worker processes while the next part
runs (:mod:`musicneurons.study.rendering`).

Layout of ``OUT``::

    summary.json            the headline numbers (also in the report), per part
    run.json                config, versions, seeds, stage timings
    report/index.html       self-contained report (figures embedded)
    2bar/ 16bar/            per part: one file per stage (windows.parquet, latents.npz, ...: see STAGES)
                            and figures/*.png (and *.svg with ``svg=True``)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from musicneurons.analysis.roles import neuron_role
from musicneurons.study import beyond, beyond_report, comparison
from musicneurons.study import stages as st
from musicneurons.study.artifacts import cached, stage_key, stage_timings, versions, write_json
from musicneurons.study.config import DEFAULT_MODELS, SKIPPABLE, StudyConfig, StudyError, command_line
from musicneurons.study.listen import listen_section
from musicneurons.study.part import Part, check_bars, load_part_model, open_part, study_parts
from musicneurons.study.prefetch import StagePrefetch, should_prefetch
from musicneurons.study.rendering import FigureRenderer, FigureSettings
from musicneurons.study.report import FigureEntry, ReportSection, table_html, write_report
from musicneurons.study.summary import headline_sentences, summarize_part

if TYPE_CHECKING:
    from musicneurons.model.inference import TrainedModel

__all__ = ["STAGES", "Stage", "StudyConfig", "StudyError", "run_part", "run_study"]

log = logging.getLogger(__name__)

ABLATION_KS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # plus the music/noise cut and z_size
LOESS_FEATURES = 6  # features per LOESS figure (Figs. 8-9)
PREVIEW_SENTENCES = 6  # headline sentences in the report's one-image preview


# --------------------------------------------------------------------------- the stage table
def _always(part: Part) -> bool:
    return True


def _has_random(part: Part) -> bool:
    return part.has_random


@dataclass(frozen=True)
class Stage:
    """One row of the stage table.

    ``inputs`` names the stages whose artifacts this one reads (their keys enter its key); a name ending in
    ``?`` is read only when that stage ran in this part. ``params`` (a dict, or a function of the part that
    returns one) holds everything else the result depends on; it must be JSON-able. ``compute`` returns the
    artifact: a DataFrame for a ``.parquet`` file, a dict of arrays for ``.npz``. ``when`` skips the row for
    parts it does not apply to.
    """

    name: str
    file: str
    inputs: tuple[str, ...]
    params: Mapping[str, Any] | Callable[[Part], Mapping[str, Any]]
    compute: Callable[[Part], Any]
    when: Callable[[Part], bool] = _always


def _encode(part: Part, windows: np.ndarray, stage: str, what: str) -> dict[str, np.ndarray]:
    return st.encode_latents(
        part.model, windows, rng=part.rng(stage), progress=part.config.progress, desc=f"{part.label}: {what}"
    )


def _loess_requests(part: Part) -> list[tuple[int, int, str]]:
    """(neuron rank, latent dim, feature) of every LOESS curve drawn in Figs. 8, 9 and 9b."""
    roles = {r: neuron_role(part.data["phik"], part.neurons, g) for r, g in (("pitch", "P"), ("rhythm", "R"))}
    requests = []
    for target, source in (("rhythm", "rhythm"), ("rhythm", "pitch"), ("pitch", "pitch")):
        if roles[target] and roles[source]:
            neuron = roles[target]
            requests += [
                (neuron["rank"], neuron["dim"], f["feature"])
                for f in roles[source]["top_features"][:LOESS_FEATURES]
            ]
    return requests


def _ablation_ks(part: Part) -> list[int]:
    return sorted({k for k in ABLATION_KS if k <= part.z_size} | {part.z_size, part.n_music})


def _ablation_windows(part: Part) -> int:
    return max(1, min(len(part.windows), part.config.ablation_steps // part.windows.shape[1]))


def _ablation(part: Part) -> pd.DataFrame:
    return st.ablation_table(
        part.model,
        part.windows,
        part.mu,
        part.neurons,
        ks=_ablation_ks(part),
        n_windows=_ablation_windows(part),
        rng=part.rng("ablation"),
        progress=part.config.progress,
        desc=f"{part.label}: ablation",
    )


MUSIC21 = {"convention": "music21"}

#: The stages of a part, in the order they run. Each reads only artifacts of rows above it.
STAGES: tuple[Stage, ...] = (
    Stage(
        "windows",
        "windows.parquet",
        (),
        lambda p: {"content": p.corpus_key, "max_windows": p.config.max_windows, "seed": p.config.seed},
        lambda p: st.select_windows(
            p.corpus, p.corpus_table, max_windows=p.config.max_windows, rng=p.rng("windows")
        ),
    ),
    Stage(
        "latents",
        "latents.npz",
        ("windows",),
        lambda p: {**p.run_params, **p.latents_source, **p.analysis_params},
        lambda p: (
            st.stored_latents(p.model, p.config.latents, p.window_ids, p.windows)
            if p.config.latents
            else _encode(p, p.windows, "latents", "encode corpus")
        ),
    ),
    Stage(
        "features",
        "features.parquet",
        ("windows",),
        lambda p: {**MUSIC21, **p.analysis_params},
        lambda p: st.features_table(p.windows, p.qpm, p.window_ids),
    ),
    Stage(
        "latent_stats",
        "latent_stats.npz",
        ("windows",),
        lambda p: {**p.run_params, **p.latents_source, "threshold": p.config.activation_threshold},
        lambda p: p.latent_stats(),
        when=lambda p: p.is_subset,
    ),
    Stage(
        "random",
        "random.npz",
        (),
        lambda p: {"n": p.n_random, "seed": p.config.seed},
        lambda p: st.random_windows(p.n_random, p.rng("random")),
        when=_has_random,
    ),
    Stage(
        "random_latents",
        "random_latents.npz",
        ("random",),
        lambda p: p.run_params,
        lambda p: _encode(p, p.data["random"]["windows"], "random_latents", "encode random"),
        when=_has_random,
    ),
    Stage(
        "random_features",
        "random_features.parquet",
        ("random",),
        MUSIC21,
        lambda p: st.features_table(
            p.data["random"]["windows"], p.data["random"]["qpm"], np.arange(p.n_random)
        ),
        when=_has_random,
    ),
    Stage(
        "example",
        "example.npz",
        (),
        lambda p: {**p.run_params, "seed": p.config.seed, "window": p.example_window.tolist()},
        lambda p: st.example_encoding(p.model, p.example_window, p.rng("example")),
    ),
    Stage(
        "neurons",
        "neurons.parquet",
        ("latents", "latent_stats?", "random_latents?"),
        lambda p: {"sigma_threshold": p.config.sigma_threshold},
        lambda p: st.neurons_table(
            p.mu, p.sigma, p.mu_random, sigma_threshold=p.config.sigma_threshold, stats=p.stats
        ),
    ),
    Stage(
        "latent_corr",
        "latent_corr.npz",
        ("latents", "neurons"),
        lambda p: {"n_dims": p.n_corr_dims},
        lambda p: st.latent_correlations(p.mu, p.neurons, p.n_corr_dims),
    ),
    Stage(
        "feature_corr",
        "feature_corr.parquet",
        ("features",),
        {},
        lambda p: st.feature_correlations(p.features),
    ),
    Stage(
        "phik",
        "phik.parquet",
        ("features", "latents", "neurons"),
        lambda p: {"n_neurons": p.n_phik_neurons},
        lambda p: st.phik_table(p.features, p.mu, p.neurons, p.n_phik_neurons),
    ),
    Stage(
        "loess",
        "loess.parquet",
        ("features", "latents"),
        lambda p: {"requests": _loess_requests(p), "span": "max(0.3, 50 / n)"},
        lambda p: st.loess_curves(p.features, p.mu, _loess_requests(p)),
    ),
    Stage(
        "counts",
        "counts.parquet",
        ("latents", "latent_stats?", "neurons", "random_latents?"),
        lambda p: {"threshold": p.config.activation_threshold},
        lambda p: st.counts_table(
            p.mu, p.window_ids, p.mu_random, p.neurons, p.config.activation_threshold, stats=p.stats
        ),
    ),
    Stage(
        "attributes",
        "attributes.parquet",
        ("features", "latents", "neurons"),
        {"method": "pearson"},
        lambda p: st.attributes_table(p.features, p.mu, p.neurons),
    ),
    Stage(
        "ablation",
        "ablation.parquet",
        ("windows", "latents", "neurons"),
        lambda p: {
            **p.run_params,
            "n_windows": _ablation_windows(p),
            "ks": _ablation_ks(p),
            "seed": p.config.seed,
        },
        _ablation,
        when=lambda p: p.config.ablation_steps > 0,
    ),
    *(Stage(**row) for row in comparison.STAGE_ROWS),  # the paper side by side, bootstrap, decodes
    *(Stage(*row) for row in beyond.STAGE_ROWS),  # causal probes, disentanglement, detector
)

#: Tables the summary reads (see musicneurons.study.summary), when their stage ran.
PAPER_TABLES = ("neurons", "phik", "counts", "attributes", "ablation", "features", "random_features")
SUMMARY_TABLES = (*PAPER_TABLES, *beyond.STAGE_NAMES)
#: Tables linked from the report: name in the report -> stage.
REPORT_TABLES = {
    "windows": "windows",
    "features": "features",
    "neurons": "neurons",
    "random windows' features": "random_features",
    "phik": "phik",
    "feature correlations": "feature_corr",
    "counts": "counts",
    "attributes": "attributes",
    "ablation": "ablation",
    "LOESS curves": "loess",
    **beyond.REPORT_TABLES,
}


def _first_neurons(part: Part, summary: Mapping[str, Any]) -> ReportSection:
    """The most specific neurons as a table (every music neuron up to 40, at least 10 rows)."""
    columns = ("rank", "dim", "mean_sigma", "mean_mu", "var_mu", "is_music", "ks_random")
    rows = part.neurons.head(max(10, min(part.n_music, 40)))
    return ReportSection("first neurons", table_html(rows[[c for c in columns if c in rows]]))


#: Blocks closing a part in the report, after its figures and tables: each function gets the part and its
#: summary and returns a section (or None to add nothing).
REPORT_SECTIONS: tuple[Callable[[Part, Mapping[str, Any]], ReportSection | None], ...] = (
    _first_neurons,
    listen_section,
    *beyond_report.SECTIONS,
)


def run_stages(part: Part) -> Iterator[Stage]:
    """Run the rows of :data:`STAGES` that apply to ``part`` in order, yielding each after it has run; the
    others (skipped on request, or not for this part) go into ``part.absent``."""
    for stage in STAGES:
        if part.config.skips(stage.name) or not stage.when(part):
            part.absent.add(stage.name)
            continue
        run_stage(part, stage)
        yield stage


def run_stage(part: Part, stage: Stage) -> Any:
    """Load or compute one stage's artifact into ``part.data`` (and its key into ``part.keys``)."""
    params = stage.params(part) if callable(stage.params) else dict(stage.params)
    inputs = {}
    for name in stage.inputs:
        optional = name.endswith("?")
        name = name.rstrip("?")
        if name in part.keys:
            inputs[name] = part.keys[name]
        elif not optional:
            msg = f"stage {stage.name} reads {name}, which has not run in the {part.label} part"
            raise KeyError(msg)
    path = part.folder / stage.file
    part.keys[stage.name] = stage_key(stage.name, params, inputs)
    part.data[stage.name] = cached(
        path,
        part.keys[stage.name],
        lambda: stage.compute(part),
        stage=f"{part.key}/{stage.name}",
        params=params,
        overwrite=part.config.overwrite,
    )
    part.files[stage.name] = path
    return part.data[stage.name]


# --------------------------------------------------------------------------- a part
@dataclass
class PartResult:
    """What one part produced: its summary numbers, figures, tables and notes for the report."""

    key: str
    label: str
    summary: dict[str, Any]
    figures: list[FigureEntry]
    tables: dict[str, Path]
    sections: list[ReportSection]
    notes: list[str] = field(default_factory=list)


def _skip_note(part: Part) -> list[str]:
    """What ``--skip`` left out of this part, in words (a note of the summary and the report)."""
    if not part.config.skip:
        return []
    left_out = "; ".join(f"{name} ({SKIPPABLE[name][1]})" for name in part.config.skip)
    return [f"{part.label}: left out on request (--skip): {left_out}."]


def run_part(
    model: TrainedModel,
    bars: int,
    model_name: str,
    config: StudyConfig,
    out: Path,
    renderer: FigureRenderer | None = None,
) -> PartResult:
    """Every stage, summary number and figure of one model on its corpus.

    With a ``renderer`` the figures are handed to it (drawn while the study goes on: wait for it before
    reading them); without one they are drawn here, before returning.
    """
    part = open_part(model, bars, model_name, config, out)
    own = renderer or FigureRenderer(workers=0, svg=config.svg, overwrite=config.overwrite)
    settings = FigureSettings(
        label=part.label,
        seed=config.seed,
        threshold=config.activation_threshold,
        n_corr_dims=min(config.n_corr_dims, part.model.config.z_size),
        summary_panel=bars != 2,
    )

    numbers: dict[tuple[str, ...], dict[str, Any]] = {}  # summaries by the tables they were made from

    def summarize() -> dict[str, Any]:
        tables = {name: part.data[name] for name in SUMMARY_TABLES if name in part.data}
        extra = [name for name in comparison.STAGE_NAMES if name in part.data]
        key = (*tables, *extra)
        if key not in numbers:
            numbers[key] = summarize_part(tables, info=part.info(), threshold=config.activation_threshold)
            if extra:
                comparison.add_to_summary(numbers[key], part)
        return numbers[key]

    part.notes += _skip_note(part)
    for stage in run_stages(part):
        if stage.name == "windows":
            part.notes += part.random_notes()
        # figures start as soon as the stages they show have run
        own.submit(
            part.folder / "figures", part.data, part.files, part.keys, summarize, settings, part.absent
        )
    summary = summarize()
    if config.skip:
        summary["skipped"] = list(config.skip)
    figures = own.submit(
        part.folder / "figures", part.data, part.files, part.keys, summary, settings, part.absent
    )
    if renderer is None:
        own.wait()
    table_files = {name: part.files[stage] for name, stage in REPORT_TABLES.items() if stage in part.files}
    sections = [section for make in REPORT_SECTIONS if (section := make(part, summary)) is not None]
    return PartResult(part.key, part.label, summary, figures, table_files, sections, part.notes)


# --------------------------------------------------------------------------- the study
def compute_stages(bars: int, name: str | None, config: StudyConfig, out: Path) -> None:
    """Every stage of one part (no figures, no summary), each skipped when its artifact is up to date."""
    model = load_part_model(name, config)
    part = open_part(model, check_bars(config, name, bars, model), str(name), config, out)
    for _ in run_stages(part):
        pass


def run_study(config: StudyConfig, out: str | Path) -> dict[str, Any]:
    """Run the whole study into ``out``; returns the content of ``summary.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: list[PartResult] = []
    parts = study_parts(config)
    # the later parts' stages in a forked child (before the figure workers fork and before any model loads)
    prefetch = (
        StagePrefetch(compute_stages, parts[1:], config, out) if should_prefetch(config, len(parts)) else None
    )
    with (
        prefetch or contextlib.nullcontext(),
        FigureRenderer(workers=config.figure_workers, svg=config.svg, overwrite=config.overwrite) as renderer,
    ):
        for i, (bars, name) in enumerate(parts):
            t0 = time.perf_counter()
            done_by_child = bool(i and prefetch and prefetch.wait())  # its stages are fresh: read them back
            part_config = replace(config, overwrite=False) if done_by_child else config
            model = load_part_model(name, config)
            model_bars = check_bars(config, name, bars, model)
            log.info("%d-bar part: model %s on %s", model_bars, name or DEFAULT_MODELS[2], model.device)
            result = run_part(model, model_bars, str(name), part_config, out, renderer)
            child_seconds = prefetch.seconds if done_by_child and prefetch else 0.0
            result.summary["seconds_this_run"] = round(time.perf_counter() - t0 + child_seconds, 1)
            results.append(result)
            del model
        comparison.add_comparisons({r.key: r.summary for r in results}, out)
        summary = {
            "title": "musicneurons study",
            "versions": versions(),
            "config": asdict(config),
            "notes": [n for r in results for n in r.notes],
            "parts": {r.key: r.summary for r in results},
        }
        write_json(out / "summary.json", summary)
        renderer.wait()
        sentences = [s for r in results for s in headline_sentences(r.summary, r.label)][:PREVIEW_SENTENCES]
        renderer.submit_preview(
            out / "report" / "preview", sentences, [(r.label, r.figures) for r in results]
        )
        metadata = {
            "config": asdict(config),
            "versions": versions(),
            "seconds_this_run": round(time.perf_counter() - started, 1),
            "stages": stage_timings(out, [r.key for r in results]),
            "figures": renderer.timings(),
            "prefetch": prefetch.record() if prefetch else None,
            "command": command_line(config, out),
        }
        write_json(out / "run.json", metadata)
        write_report(
            out / "report" / "index.html",
            title="musicneurons study: music neurons and noise neurons",
            summary=summary,
            parts=[(r.key, r.label) for r in results],
            figures={r.key: r.figures for r in results},
            tables={r.key: r.tables for r in results},
            sections={"": comparison.report_sections(summary), **{r.key: r.sections for r in results}},
            notes=summary["notes"],
            metadata=metadata,
        )
        renderer.wait()
    log.info("study finished in %.1f s: %s", time.perf_counter() - started, out / "report" / "index.html")
    return summary

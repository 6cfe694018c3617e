"""The run next to the paper, how sure it is, and what a reader must be warned about.

Two rows of the stage table compute here: :func:`uncertainty_numbers` (a bootstrap over source files, the
threshold-free split and the measures the paper's claims need, as JSON in ``uncertainty.npz``) and
:func:`free_running` (greedy decodes of μ against the windows, and the always-hold baseline). Once every
part has run, :func:`add_comparisons` merges those numbers into each part of ``summary.json`` and adds
``paper_comparison`` (:func:`musicneurons.analysis.paper.compare_with_paper`) and ``warnings``
(:func:`musicneurons.analysis.warnings.study_warnings`); :func:`report_sections` shows both at the top of the
report.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from musicneurons.study.part import Part
    from musicneurons.study.report import ReportSection

log = logging.getLogger(__name__)

N_BOOTSTRAP = 200  # resamples of source files
N_PERMUTATIONS = 10  # shuffles of pieces between pieces for the φ_K null


# --------------------------------------------------------------------------- stages
def uncertainty_numbers(part: Part) -> dict[str, np.ndarray]:
    """Bootstrap, threshold-free split and the claims' measures of one part, as JSON in a 0-d array."""
    from musicneurons.analysis.measures import summary_additions
    from musicneurons.analysis.roles import group_scores
    from musicneurons.figures.features import feature_group

    features = part.features
    groups = {
        "pitch_neuron": [c for c in features.columns if feature_group(c) == "P"],
        "rhythm_neuron": [c for c in features.columns if feature_group(c) == "R"],
    }
    columns = {c: features[c].to_numpy(dtype=np.float64) for names in groups.values() for c in names}
    counts_table = part.data.get("counts")
    counts = None
    if counts_table is not None and len(counts_table):
        real = counts_table[counts_table["kind"] == "real"]
        random = counts_table[counts_table["kind"] == "random"]
        counts = {
            "music_real": real["n_music_active"].to_numpy(),
            "noise_real": real["n_noise_active"].to_numpy(),
        }
        if len(random):
            counts.update(
                music_random=random["n_music_active"].to_numpy(),
                noise_random=random["n_noise_active"].to_numpy(),
            )
    example = part.data.get("example")
    extra = summary_additions(
        mu=part.mu,
        sigma=part.sigma,
        sources=part.sources,
        threshold=float(part.neurons["sigma_threshold"].iloc[0]),
        features=columns,
        groups=groups,
        n_neurons=part.n_phik_neurons,
        counts=counts,
        example=None
        if example is None
        else {"window": example["window"], "decoded_mu": example["decoded_mu"]},
        n_resamples=N_BOOTSTRAP,
        rng=part.rng("uncertainty"),
    )
    scores = group_scores(part.data["phik"])["P"].dropna()
    extra["pitch_score_by_rank"] = {str(int(r)): float(v) for r, v in scores.items() if r <= 4}
    return {"json": np.array(json.dumps(extra))}


def free_running(part: Part, n_windows: int) -> dict[str, np.ndarray]:
    """Greedy decodes of μ on a random subset of windows: step accuracy, and the always-hold baseline's."""
    from musicneurons.analysis.warnings import always_hold_accuracy

    rng = part.rng("free_running")
    pick = np.sort(rng.choice(len(part.windows), size=min(n_windows, len(part.windows)), replace=False))
    decoded = part.model.decode(part.mu[pick], temperature=0.0, rng=rng)
    windows = part.windows[pick]
    return {
        "accuracy": np.array(float(np.mean(decoded == windows))),
        "hold_baseline": np.array(always_hold_accuracy(windows)),
        "n_windows": np.array(len(pick)),
    }


def additions(part: Part) -> dict[str, Any]:
    """The JSON of the uncertainty stage, the φ_K null and the free-running accuracy, of those that ran."""
    uncertainty = part.data.get("uncertainty")
    extra: dict[str, Any] = {} if uncertainty is None else json.loads(str(uncertainty["json"]))
    null = part.data.get("phik_null")
    if null is not None and len(null):
        tested = null[np.isfinite(null["null_threshold"])]  # no null where no two pieces share a size
        extra["phik_significance"] = {
            "share_significant": float(tested["significant"].mean()) if len(tested) else None,
            "null_median": float(null["null_median"].iloc[0]),
            "share_windows_matched": float(null["share_matched"].iloc[0]),
            "n_permutations": N_PERMUTATIONS,
        }
    fr = part.data.get("free_running")
    if fr is not None:
        extra["free_running"] = {
            "accuracy": float(fr["accuracy"]),
            "hold_baseline": float(fr["hold_baseline"]),
            "n_windows": int(fr["n_windows"]),
        }
    return extra


def phik_null_table(part: Part, n_permutations: int) -> pd.DataFrame:
    """Per φ_K cell of the ``phik`` stage: is it above what pieces shuffled between pieces give?"""
    import pandas as pd

    from musicneurons.analysis.uncertainty import phik_permutation_null

    phik = part.data["phik"]
    features = list(dict.fromkeys(phik["feature"]))
    neurons = phik.drop_duplicates("rank").sort_values("rank")
    result = phik_permutation_null(
        part.features[features].to_numpy(dtype=np.float64),
        part.mu[:, neurons["dim"].to_numpy()],
        part.sources,
        n_permutations=n_permutations,
        rng=part.rng("phik_null"),
    )
    m = len(neurons)
    return pd.DataFrame(
        {
            "feature": np.repeat(features, m),
            "rank": np.tile(neurons["rank"].to_numpy(), len(features)),
            "significant": result.significant.ravel(),
            "null_threshold": np.repeat(result.threshold, m),
            "null_median": _median(result.null),
            "share_matched": result.share_matched,
        }
    )


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def _free_running_windows(part: Part) -> int:
    """As many windows as the ablation decodes (``ablation_steps`` window steps)."""
    return max(1, min(len(part.windows), part.config.ablation_steps // part.windows.shape[1]))


#: Rows of the stage table (fields of :class:`musicneurons.study.pipeline.Stage`), run after the others.
STAGE_ROWS: tuple[dict[str, Any], ...] = (
    {
        "name": "free_running",
        "file": "free_running.npz",
        "inputs": ("windows", "latents"),
        "params": lambda p: {**p.run_params, "n_windows": _free_running_windows(p), "seed": p.config.seed},
        "compute": lambda p: free_running(p, _free_running_windows(p)),
        "when": lambda p: p.config.ablation_steps > 0,
    },
    {
        "name": "phik_null",
        "file": "phik_null.parquet",
        "inputs": ("windows", "latents", "features", "phik"),
        "params": lambda p: {"n_permutations": N_PERMUTATIONS, "seed": p.config.seed},
        "compute": lambda p: phik_null_table(p, N_PERMUTATIONS),
    },
    {
        "name": "uncertainty",
        "file": "uncertainty.npz",
        "inputs": ("windows", "latents", "features", "neurons", "phik", "counts", "example"),
        "params": lambda p: {
            "n_resamples": N_BOOTSTRAP,
            "n_neurons": p.n_phik_neurons,
            "seed": p.config.seed,
        },
        "compute": uncertainty_numbers,
    },
)

STAGE_NAMES = tuple(row["name"] for row in STAGE_ROWS)


def manifests(out: Path, keys: Sequence[str]) -> dict[str, Any]:
    """The extraction manifest of each part that extracted its corpus from ``--midi`` (part key -> table)."""
    import pandas as pd

    found = {}
    for key in keys:
        path = out / key / "extract" / "manifest.parquet"
        if path.exists():
            found[key] = pd.read_parquet(path, columns=["source", "status", "reason"])
    return found


# --------------------------------------------------------------------------- after every part
def _bars(part: Mapping[str, Any]) -> int:
    return int((part.get("model_config") or {}).get("max_seq_len", 32)) // 16


def add_to_summary(summary: dict[str, Any], part: Part) -> None:
    """Merge this module's stages' numbers into a part's summary (nested dicts merged key by key)."""
    from musicneurons.analysis.measures import merge_into

    merge_into(summary, additions(part))


def add_comparisons(parts: Mapping[str, dict[str, Any]], out: Path) -> None:
    """Add ``paper_comparison`` and ``warnings`` to every part of a summary (in place); log the warnings."""
    from musicneurons.analysis.measures import measures_from_summary
    from musicneurons.analysis.paper import compare_with_paper
    from musicneurons.analysis.warnings import EMBEDDED_MODELS, paper_architecture, study_warnings

    manifest_tables = manifests(out, list(parts))
    n_music_2bar = next((p["neurons"]["n_music"] for p in parts.values() if _bars(p) == 2), None)
    for key, part in parts.items():
        for role in ("pitch_neuron", "rhythm_neuron"):  # stability is always that of the reported neuron
            r = part.get(role) or {}
            if "rank" in r and "rank_shares" in r:
                r["stability"] = float(r["rank_shares"].get(str(r["rank"]), 0.0))
        bars = _bars(part)
        embedded = str(part.get("model", "")) in EMBEDDED_MODELS
        measured = measures_from_summary(part)
        measured["paper_model"] = not embedded and paper_architecture(part.get("model_config")) is not None
        if bars == 16 and n_music_2bar is not None:
            measured["n_music_2bar"] = n_music_2bar
        part["paper_comparison"] = compare_with_paper(measured, bars)
        neurons = part.get("neurons", {})
        fr = part.get("free_running", {})
        sensitivity = neurons.get("threshold_sensitivity")
        part["warnings"] = study_warnings(
            {
                "model": part.get("model"),
                "model_config": part.get("model_config"),
                "paper_model": measured["paper_model"],
                "n_windows": part.get("n_windows_analysis", part.get("n_windows")),  # what φ_K saw
                "manifest": manifest_tables.get(key),
                "free_running_accuracy": fr.get("accuracy"),
                "hold_baseline_accuracy": fr.get("hold_baseline"),
                "n_music": neurons.get("n_music"),
                "z_size": neurons.get("z_size"),
                "threshold_sensitivity": {float(t): c for t, c in (sensitivity or {}).items()},
            }
        )
        for warning in part["warnings"]:
            log.warning("%s: %s", part.get("label", key), warning["message"])


# --------------------------------------------------------------------------- the report


def _split_sentence(part: Mapping[str, Any]) -> str:
    from musicneurons.analysis.captions import split_caption

    n = part.get("neurons", {})
    gap = n.get("n_music_gap") or {}
    text = split_caption(
        n.get("n_music", 0),
        float(part.get("sigma_threshold", 0.95)),
        gap_n=gap.get("n_music"),
        gap_method=gap.get("method", "largest gap"),
        sensitivity={float(t): c for t, c in (n.get("threshold_sensitivity") or {}).items()},
    )
    ci = n.get("n_music_ci")
    boot = part.get("bootstrap") or {}
    if ci:
        text += (
            f" Bootstrap over {boot.get('n_sources', '?')} source files ({boot.get('n_resamples', '?')} "
            f"resamples): {ci[0]:g}–{ci[1]:g} music neurons (95%)."
        )
    return text.replace("The cut marks", "The headline counts")


def _role_sentences(part: Mapping[str, Any]) -> list[str]:
    from musicneurons.analysis.captions import roles_caption

    out = []
    for role, word in (("pitch_neuron", "pitch"), ("rhythm_neuron", "rhythm")):
        r = part.get(role) or {}
        if not r.get("top_features"):
            continue
        top = r["top_features"][0]
        out.append(
            roles_caption(
                word, r["rank"], r.get("stability"), top["feature"], top["phik"], r.get("top_phik_ci")
            )
        )
    return out


def _phik_sentence(part: Mapping[str, Any]) -> str:
    sig = part.get("phik_significance")
    if not sig:
        return ""
    if sig["share_significant"] is None:
        return "No two pieces have the same number of windows, so φ_K has no piece-shuffled null here."
    return (
        f"{sig['share_significant']:.0%} of the φ_K cells stand out from pieces' latents shuffled between "
        f"pieces ({sig['n_permutations']} shuffles; null median φ_K {sig['null_median']:.2f}); the others "
        "are pale in the heat map."
    )


def _comparison_table(rows: Sequence[Mapping[str, str]]) -> str:
    head = "<tr><th>claim</th><th>paper</th><th>where</th><th>this run</th><th>verdict</th><th>note</th></tr>"
    body = "".join(
        "<tr>"
        f"<td>{html.escape(r['claim'])}</td><td>{html.escape(r['paper'])}</td><td>{html.escape(r['where'])}</td>"
        f"<td>{html.escape(r['this_run'])}</td>"
        f'<td class="{r["verdict"].replace(" ", "-")}">{html.escape(r["verdict"])}</td>'
        f"<td>{html.escape(r.get('note', ''))}</td></tr>"
        for r in rows
    )
    return f'<table class="paper">{head}{body}</table>'


def report_sections(summary: Mapping[str, Any]) -> list[ReportSection]:
    """The warnings box and, per part, the split, the roles' stability and the paper side by side."""
    from musicneurons.study.report import ReportSection

    data = summary.get("parts", {})
    parts = [(key, str(part.get("label", key))) for key, part in data.items()]
    warnings = [
        f"<li><b>{html.escape(label)}:</b> {html.escape(w['message'])}</li>"
        for key, label in parts
        for w in data.get(key, {}).get("warnings", [])
    ]
    sections = []
    if warnings:
        sections.append(ReportSection("Warnings", f'<ul class="warn">{"".join(warnings)}</ul>'))
    else:
        sections.append(ReportSection("Warnings", "<p>None for this run.</p>"))
    for key, label in parts:
        part = data.get(key)
        if not part or "paper_comparison" not in part:
            continue
        rows = part["paper_comparison"]
        tally = {v: sum(r["verdict"] == v for r in rows) for v in ("agrees", "differs", "not comparable")}
        intro = " ".join([_split_sentence(part), *_role_sentences(part), _phik_sentence(part)]).strip()
        body = (
            f"<p>{html.escape(intro)}</p><p>{tally['agrees']} of the paper's {len(rows)} claims about "
            f"{html.escape(label)} windows agree with this run, {tally['differs']} differ, "
            f"{tally['not comparable']} cannot be compared here.</p>" + _comparison_table(rows)
        )
        sections.append(ReportSection(f"{label} model next to the paper", body))
    return sections

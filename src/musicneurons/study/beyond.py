"""Beyond the paper: causal neuron probes, disentanglement scores and the music-vs-noise detector in a study.

The stage functions (arrays and tables in, one table out), the summary keys (``parts[P].interventions``,
``parts[P].disentanglement``, ``parts[P].detector``) and their sentences; the report sections are in
:mod:`musicneurons.study.beyond_report`. The analyses live in ``musicneurons.analysis.interventions``,
``.disentanglement`` and ``.detector``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from musicneurons.model.inference import TrainedModel
    from musicneurons.study.part import Part

Tables = Mapping[str, pd.DataFrame]

PROBE_GRID = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)  # shifts in spreads of μ over the corpus
PROBE_NOISE = 2  # noise neurons moved as a control
CAVEATS = {
    "interventions": "Greedy decodes are piecewise constant in z: a small ρ can mean the decode did not "
    "change (see change_share); features are computed on the decodes, NaN points are dropped.",
    "disentanglement": "The jSymbolic features are not independent ground-truth factors (many measure the "
    "same pitch or rhythm property), so these scores describe how the features spread over the latents, "
    "not whether the model is disentangled.",
    "detector": "An AUROC of 1.0 against uniform random notes proves little: any pitch or rhythm statistic "
    "separates them. The shuffled-pitch, shuffled-rhythm and random-walk negatives are the informative "
    "rungs.",
}


# --------------------------------------------------------------------------- stages
def _order_and_music(neurons: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    table = neurons.sort_values("rank")
    order = table["dim"].to_numpy()
    is_music = np.zeros(len(table), dtype=bool)
    is_music[order] = table["is_music"].to_numpy(dtype=bool)
    return order, is_music


def interventions_table(
    model: TrainedModel,
    windows: np.ndarray,
    mu: np.ndarray,
    neurons: pd.DataFrame,
    qpm: np.ndarray,
    *,
    top_k: int,
    n_windows: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Effects of moving the ``top_k`` most specific music neurons and :data:`PROBE_NOISE` noise neurons on
    ``n_windows`` probe windows (``InterventionResult.effects`` with each neuron's ``rank``)."""
    from musicneurons.analysis.interventions import intervention_effects, probe_neurons

    order, is_music = _order_and_music(neurons)
    dims, labels = probe_neurons(order, is_music, top_k=top_k, n_noise=PROBE_NOISE)
    rows = np.sort(rng.choice(len(windows), size=min(n_windows, len(windows)), replace=False))
    result = intervention_effects(
        model, windows[rows], dims, labels=labels, mu=mu[rows], spread=mu.std(axis=0), grid=PROBE_GRID,
        qpm=qpm[rows],
    )  # fmt: skip
    rank = dict(zip(neurons["dim"], neurons["rank"], strict=True))
    effects = result.effects
    effects.insert(1, "rank", [int(rank[j]) for j in effects["neuron"]])
    effects["n_windows"] = len(rows)
    return effects


def disentanglement_table(
    mu: np.ndarray, neurons: pd.DataFrame, features: pd.DataFrame, *, max_samples: int, seed: int
) -> pd.DataFrame:
    """``disentanglement_scores`` of the music neurons and of all dims against the jSymbolic (P/R/M)
    features: one row per latent set, one column per scalar score. Forest importances, ``max_samples`` rows;
    the all-dims row has no explicitness (a 20-class classifier on every dim costs minutes)."""
    from musicneurons.analysis.disentanglement import disentanglement_scores
    from musicneurons.features.registry import FEATURES

    factors = features[[c for c in features.columns if c in FEATURES]]
    _, is_music = _order_and_music(neurons)
    sets = [("music neurons", mu[:, is_music], True), ("all dims", mu, False)]
    rows = []
    for name, latents, explicit in sets:
        if latents.shape[1] == 0:
            continue
        scores = disentanglement_scores(
            latents, factors, random_state=seed, max_samples=max_samples, dci_model="forest",
            with_explicitness=explicit,
        )  # fmt: skip
        scalars = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
        rows.append({"latents": name, **scalars, "n_factors": len(scores["factor_names"])})
    return pd.DataFrame(rows)


def detector_table(
    model: TrainedModel,
    windows: np.ndarray,
    sources: np.ndarray,
    qpm: np.ndarray,
    neurons: pd.DataFrame,
    *,
    n_windows: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """AUROC of every detector method against every negative on ``n_windows`` real windows, joined with the
    ROC curves: one row per (negative, method, fpr) with ``auroc``, ``tpr`` and the sizes."""
    from musicneurons.analysis.detector import run_detector

    _, is_music = _order_and_music(neurons)
    rows = np.sort(rng.choice(len(windows), size=min(n_windows, len(windows)), replace=False))
    groups = pd.factorize(pd.Series(sources[rows]).astype(str))[0]
    result = run_detector(model, windows[rows], groups, is_music, rng=rng, qpm=qpm[rows])
    return result.roc.merge(result.table, on=["negative", "method"])


# --------------------------------------------------------------------------- summary keys
def summarize_interventions(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    effects = tables.get("interventions")
    if effects is None or not len(effects):
        return {}
    from musicneurons.analysis.interventions import effects_by_group

    by_group = effects_by_group(effects)
    groups = by_group.drop_duplicates("neuron").set_index("neuron")["top_group"]
    rho = by_group.pivot_table(index="neuron", columns="group", values="mean_abs_spearman")
    neurons = []
    for neuron, e in effects.groupby("neuron", sort=False):
        best = e.loc[e["spearman"].abs().idxmax()] if e["spearman"].notna().any() else None
        neurons.append({
            "dim": int(neuron), "rank": int(e["rank"].iloc[0]), "label": str(e["label"].iloc[0]),
            "top_group": str(groups[neuron]),
            "strongest_feature": None if best is None else str(best["feature"]),
            "strongest_spearman": None if best is None else float(best["spearman"]),
            "mean_change_share": float(e["change_share"].mean()),
            "mean_abs_spearman": {g: float(rho.loc[neuron, g]) for g in "PRM" if g in rho.columns},
        })  # fmt: skip
    out: dict[str, Any] = {"n_windows": int(effects["n_windows"].iloc[0]), "grid": list(PROBE_GRID)}
    out["neurons"] = neurons
    noise = [n["mean_change_share"] for n in neurons if n["label"] == "noise"]
    out["noise_max_change_share"] = max(noise) if noise else None
    for role, group in (("pitch_neuron", "P"), ("rhythm_neuron", "R")):
        dim = (part.get(role) or {}).get("dim")
        probed = next((n for n in neurons if n["dim"] == dim), None)
        out[f"{role}_moves_its_group"] = None if probed is None else probed["top_group"] == group
    out["caveat"] = CAVEATS["interventions"]
    return {"interventions": out}


def summarize_disentanglement(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    table = tables.get("disentanglement")
    if table is None or not len(table):
        return {}
    out: dict[str, Any] = {
        str(row["latents"]).replace(" ", "_"): {k: row[k] for k in table.columns if k != "latents"}
        for row in table.to_dict("records")
    }
    out["caveat"] = CAVEATS["disentanglement"]
    return {"disentanglement": out}


def summarize_detector(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    table = tables.get("detector")
    if table is None or not len(table):
        return {}
    first = table.drop_duplicates(["negative", "method"])
    auroc: dict[str, dict[str, float]] = {}
    for row in first.itertuples():
        auroc.setdefault(str(row.negative), {})[str(row.method)] = float(row.auroc)
    sizes = {"n_real": int(first["n_positive"].iloc[0]), "n_per_negative": int(first["n_negative"].iloc[0])}
    return {"detector": {"auroc": auroc, **sizes, "caveat": CAVEATS["detector"]}}


def say_beyond(part: Mapping[str, Any], label: str) -> list[str]:
    out = []
    probes = part.get("interventions")
    if probes:
        music = [n for n in probes["neurons"] if n["label"] == "music"]
        moved = ", ".join(f"neuron {n['rank']} → {n['top_group']}" for n in music[:4]) or "no music neuron"
        noise = probes["noise_max_change_share"]
        control = "" if noise is None else f"; moving a noise neuron changes at most {noise:.0%} of the steps"
        out.append(
            f"Causal probes ({probes['n_windows']} windows, greedy decodes), the feature group each neuron "
            f"moves most: {moved}{control}."
        )
    detector = part.get("detector")
    if detector and "music_probe" in next(iter(detector["auroc"].values()), {}):
        rungs = ", ".join(
            f"{neg.replace('_', ' ')} {m['music_probe']:.2f}" for neg, m in detector["auroc"].items()
        )
        out.append(
            f"A linear probe on the music neurons tells real windows from negatives with AUROC {rungs}."
        )
    return out


# --------------------------------------------------------------------------- rows for the study's tables
def _windows_for(part: Part, steps: int) -> int:
    """Windows in a budget of ``steps`` window steps (at least 1, at most every window)."""
    return max(1, min(len(part.windows), steps // part.windows.shape[1]))


def _interventions(p: Part) -> pd.DataFrame:
    n = _windows_for(p, p.config.probe_steps)
    rng = p.rng("interventions")
    return interventions_table(
        p.model, p.windows, p.mu, p.neurons, p.qpm, top_k=p.config.probe_top_k, n_windows=n, rng=rng
    )


def _disentanglement(p: Part) -> pd.DataFrame:
    n = p.config.disentanglement_samples
    return disentanglement_table(p.mu, p.neurons, p.features, max_samples=n, seed=p.config.seed)


def _detector(p: Part) -> pd.DataFrame:
    n = _windows_for(p, p.config.detector_steps)
    sources = p.sources
    return detector_table(p.model, p.windows, sources, p.qpm, p.neurons, n_windows=n, rng=p.rng("detector"))


#: Rows of ``musicneurons.study.pipeline.STAGES``: name, file, inputs, params, compute, when.
STAGE_ROWS = (
    (
        "interventions",
        "interventions.parquet",
        ("windows", "latents", "neurons"),
        lambda p: {**p.run_params, "n_windows": _windows_for(p, p.config.probe_steps),
                   "top_k": p.config.probe_top_k, "grid": PROBE_GRID, "seed": p.config.seed},
        _interventions,
        lambda p: p.config.probe_steps > 0,
    ),
    (
        "disentanglement",
        "disentanglement.parquet",
        ("features", "latents", "neurons"),
        lambda p: {"max_samples": p.config.disentanglement_samples, "seed": p.config.seed},
        _disentanglement,
        lambda p: p.config.disentanglement_samples > 0,
    ),
    (
        "detector",
        "detector.parquet",
        ("windows", "neurons"),
        lambda p: {**p.run_params, "n_windows": _windows_for(p, p.config.detector_steps),
                   "seed": p.config.seed},
        _detector,
        lambda p: p.config.detector_steps > 0,
    ),
)  # fmt: skip
STAGE_NAMES = tuple(row[0] for row in STAGE_ROWS)
#: Tables linked from the report: name in the report -> stage.
REPORT_TABLES = {
    "causal probes (per neuron and feature)": "interventions",
    "disentanglement scores": "disentanglement",
    "detector (AUROC and ROC curves)": "detector",
}

"""Draw every figure of one study part from its tables, skipping figures whose inputs have not changed.

Each figure is a :class:`FigurePlan`: a file stem, the heading and caption the report shows, the keys of
the artifacts it is drawn from, and a function that builds the matplotlib Figure. :func:`render` saves
PNG + SVG under ``<part>/figures/`` with a ``.meta.json`` sidecar holding that key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from musicneurons.figures import features as FF
from musicneurons.figures import latent as F
from musicneurons.study.artifacts import read_meta, stage_key, write_json
from musicneurons.study.report import FigureEntry

log = logging.getLogger(__name__)


def _drawing_code_hash() -> str:
    """Hash of the modules that draw figures: editing a figure function redraws the cached figures."""
    import hashlib

    from musicneurons.figures import features as figures_features

    h = hashlib.sha256()
    for module in (F, figures_features):
        h.update(Path(module.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class FigurePlan:
    """One figure to draw: file stem, report heading and caption, input keys, and its builder."""

    name: str
    heading: str
    caption: str
    inputs: Mapping[str, str]
    build: Callable[[], Figure]


def render(plans: list[FigurePlan], folder: Path, *, overwrite: bool = False) -> list[FigureEntry]:
    """Draw and save each planned figure unless its PNG, SVG and matching sidecar are already there."""
    entries = []
    code = _drawing_code_hash()
    for plan in plans:
        base = folder / plan.name
        png, svg = base.with_suffix(".png"), base.with_suffix(".svg")
        key = stage_key(f"figure:{plan.name}", {"code": code}, plan.inputs)
        meta = None if overwrite else read_meta(png)
        if meta is None or meta.get("key") != key or not svg.exists():
            fig = plan.build()
            F.save_figure(fig, base)
            write_json(
                png.with_name(png.name + ".meta.json"),
                {"stage": f"figure:{plan.name}", "key": key, "bytes": png.stat().st_size},
            )
            log.info("figure %s", png)
        entries.append(FigureEntry(plan.name, plan.heading, plan.caption, png))
    return entries


def _phik_wide(phik: pd.DataFrame, n_cols: int, groups: str = "PRM") -> pd.DataFrame:
    """Long φ_K table -> features (rows) x neuron ranks (columns), P/R/M features only."""
    rows = phik[phik["group"].isin(list(groups)) & (phik["rank"] <= n_cols)]
    return rows.pivot(index="feature", columns="rank", values="phik")


def _role_label(rank: int, roles: Mapping[str, Any]) -> str:
    tags = [
        word
        for key, word in (("pitch_neuron", "pitch"), ("rhythm_neuron", "rhythm"))
        if roles.get(key, {}).get("rank") == rank
    ]
    return f"neuron {rank}" + (f" ({' and '.join(tags)} neuron)" if tags else "")


def _curves(loess: pd.DataFrame, rank: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rows = loess[loess["rank"] == rank]
    return {f: (g["x"].to_numpy(), g["y"].to_numpy()) for f, g in rows.groupby("feature")}


def plan_part(
    *,
    label: str,
    data: Mapping[str, Any],
    keys: Mapping[str, str],
    summary: Mapping[str, Any],
    n_corr_dims: int,
    threshold: float,
    summary_panel: bool,
    rng: np.random.Generator,
) -> list[FigurePlan]:
    """The figures of one part (a model and its corpus), in the paper's order.

    ``data`` holds the loaded artifacts (``neurons``, ``latents``, ``features``, ``phik``, ``loess``,
    ``counts``, ``latent_corr``, ``feature_corr``, and optionally ``example``, ``random_latents``,
    ``ablation``); ``keys`` their stage keys; ``summary`` the part's numbers (roles of neurons, ...).
    """
    neurons = data["neurons"].sort_values("rank")
    dims = neurons["dim"].to_numpy()
    n_music = int(neurons["is_music"].sum())
    z_size = len(neurons)
    mu = data["latents"]["mu"][:, dims]
    sigma = data["latents"]["sigma"][:, dims]
    mu_random = data["random_latents"]["mu"][:, dims] if data.get("random_latents") else None
    plans: list[FigurePlan] = []
    roles = {k: summary.get(k) or {} for k in ("pitch_neuron", "rhythm_neuron")}
    from musicneurons.features.registry import FEATURE_NAMES, FEATURES

    labels = {
        k: f"{v} ({FEATURES[k].unit})" if k in FEATURES and FEATURES[k].unit else v
        for k, v in FEATURE_NAMES.items()
    }

    ex = data.get("example")
    if ex is not None:
        plans.append(
            FigurePlan(
                "fig02_piano_rolls",
                "Fig. 2 — a melody and its decodings",
                f"“Twinkle, twinkle, little star” ({len(ex['window']) // 16} bars, built in) as a piano roll, then the "
                "model's greedy (argmax) decoding of its posterior mean μ and of one sample z = μ + σ·ε. "
                "Decoding μ should give the melody back; the sample gives a variation.",
                {"example": keys["example"]},
                lambda: F.piano_roll_figure(
                    [ex["window"], ex["decoded_mu"], ex["decoded_z"]],
                    [
                        "input: “Twinkle, twinkle”",
                        "decoded from μ (argmax)",
                        "decoded from a sample z (argmax)",
                    ],
                ),
            )
        )
        plans.append(
            FigurePlan(
                "fig03_latent_profile",
                "Fig. 3 — the melody's latent encoding",
                "σ (top), μ (middle) and the sample z (bottom) of the example melody over the 100 most specific "
                "dimensions (ordered by mean σ over the whole corpus). Left of the dashed line (music neurons) σ is "
                "small and μ carries the melody; to the right σ ≈ 1, μ ≈ 0 and the sample is pure noise.",
                {"example": keys["example"], "neurons": keys["neurons"]},
                lambda: F.latent_profile_figure(
                    ex["mu"][dims],
                    ex["sigma"][dims],
                    ex["z"][dims],
                    n_music=n_music,
                    title="Latent encoding of “Twinkle, twinkle”",
                ),
            )
        )
    plans.append(
        FigurePlan(
            "fig04_sigma_mu_boxplots",
            "Fig. 4 — σ and μ across the corpus",
            f"Boxplots of σ (top) and μ (bottom) over {len(mu):,} real windows for the 100 most specific dimensions. "
            f"The dashed line separates the {n_music} music neurons (σ clearly below 1, μ varying from window to "
            "window) from the noise neurons (σ ≈ 1, μ ≈ 0 for every window).",
            {"latents": keys["latents"], "neurons": keys["neurons"]},
            lambda: F.latent_boxplot_figure(mu, sigma, n_music=n_music),
        )
    )
    plans.append(
        FigurePlan(
            "fig05_latent_correlations",
            "Fig. 5 — correlations between latent dimensions",
            f"Pearson correlation of μ between the {n_corr_dims} most specific dimensions over the real windows "
            "(0 = white). Music neurons are expected to be nearly uncorrelated with each other.",
            {"latent_corr": keys["latent_corr"], "neurons": keys["neurons"]},
            lambda: F.latent_correlation_figure(data["latent_corr"]["corr"], n_music=n_music),
        )
    )
    fc = data["feature_corr"].set_index("feature")
    plans.append(
        FigurePlan(
            "fig06_feature_correlations",
            "Fig. 6 — correlations between music features",
            "Pearson correlations between music21's jSymbolic features over the real windows, grouped as pitch (P), "
            "rhythm (R) and melody (M). Rhythm features computed at each window's own tempo.",
            {"feature_corr": keys["feature_corr"]},
            lambda: FF.feature_correlation_figure(fc),
        )
    )
    n_heat = min(max(40, n_music if summary_panel else 0), int(data["phik"]["rank"].max()))
    highlight = sorted({r["rank"] for r in roles.values() if r})
    plans.append(
        FigurePlan(
            "fig07_phik_features_neurons",
            "Fig. 7 — which features each neuron encodes",
            f"φ_K between every jSymbolic feature and the first {n_heat} neurons (by specificity). Outlined: the "
            "neurons with the strongest pitch and rhythm correlations.",
            {"phik": keys["phik"]},
            lambda: FF.phik_heatmap_figure(
                _phik_wide(data["phik"], n_heat), n_music=n_music, highlight=highlight
            ),
        )
    )
    features = data["features"]
    phik = data["phik"]
    for fig_name, heading, role, source_role, what in (
        (
            "fig08_rhythm_neuron_rhythm_features",
            "Fig. 8 — the rhythm neuron against rhythm features",
            "rhythm_neuron",
            "rhythm_neuron",
            "its six most correlated rhythm features",
        ),
        (
            "fig09_rhythm_neuron_pitch_features",
            "Fig. 9 — the rhythm neuron against pitch features",
            "rhythm_neuron",
            "pitch_neuron",
            "the pitch neuron's six most correlated pitch features",
        ),
        (
            "fig09b_pitch_neuron_pitch_features",
            "Fig. 9b — the pitch neuron against pitch features",
            "pitch_neuron",
            "pitch_neuron",
            "its six most correlated pitch features",
        ),
    ):
        r, src = roles.get(role), roles.get(source_role)
        if not r or not src:
            continue
        cols = [f["feature"] for f in src["top_features"]][:6]
        this = phik[(phik["rank"] == r["rank"]) & phik["feature"].isin(cols)].set_index("feature")["phik"]
        plans.append(
            FigurePlan(
                fig_name,
                heading,
                f"μ of neuron {r['rank']} (latent dimension {r['dim']}) against {what}, one point per real window; "
                "red: LOESS fit (local linear regression, span 0.3). Titles give φ_K.",
                {"phik": keys["phik"], "loess": keys["loess"], "features": keys["features"]},
                lambda r=r, cols=cols, this=this, what=what: FF.neuron_vs_features_figure(
                    mu[:, r["rank"] - 1],
                    features,
                    cols,
                    neuron_label=_role_label(r["rank"], roles),
                    curves=_curves(data["loess"], r["rank"]),
                    phik=this.to_dict(),
                    names=labels,
                    rng=rng,
                    what=what,
                ),
            )
        )
    if mu_random is not None:
        plans.append(
            FigurePlan(
                "fig10_neuron_histograms_real_random",
                "Fig. 10 — the first neurons: real music vs random notes",
                f"Distribution of μ for the four most specific neurons over {len(mu):,} real windows and "
                f"{len(mu_random):,} random note sequences (paper §5.1), each normalised to unit area.",
                {
                    "latents": keys["latents"],
                    "random_latents": keys["random_latents"],
                    "neurons": keys["neurons"],
                },
                lambda: F.neuron_histograms_figure(
                    mu, mu_random, labels=[_role_label(i, roles) for i in range(1, 5)]
                ),
            )
        )
    counts = data["counts"]
    real = counts.loc[counts["kind"] == "real", ["n_music_active", "n_noise_active"]].to_numpy()
    rand = counts.loc[counts["kind"] == "random", ["n_music_active", "n_noise_active"]].to_numpy()
    rand = rand if len(rand) else None
    plans.append(
        FigurePlan(
            "fig11_activation_counts",
            "Fig. 11 — how many neurons a window excites",
            f"Per window, the number of music neurons (left, of {n_music}) and noise neurons (right, of "
            f"{z_size - n_music}) with |μ| > {threshold:g}"
            + (", real music vs random note sequences." if rand is not None else " (real windows)."),
            {"counts": keys["counts"]},
            lambda: F.activation_counts_figure(
                real, rand, n_music=n_music, z_size=z_size, threshold=threshold
            ),
        )
    )
    if summary_panel:
        candidates = summary.get("melody_candidates", [])
        n_cols = min(int(data["phik"]["rank"].max()), max(n_music, 40))
        plans.append(
            FigurePlan(
                "fig12_summary",
                "Fig. 12 — the whole picture for this model",
                "(a) σ across the corpus with the music/noise cut; (b) φ_K between features and music neurons, "
                "melody-neuron candidates outlined (neurons whose melody score beats their pitch and rhythm scores); "
                "(c, d) excited music and noise neurons per window.",
                {
                    "latents": keys["latents"],
                    "neurons": keys["neurons"],
                    "phik": keys["phik"],
                    "counts": keys["counts"],
                },
                lambda: FF.summary_figure(
                    sigma,
                    _phik_wide(data["phik"], n_cols),
                    real,
                    rand,
                    n_music=n_music,
                    z_size=z_size,
                    candidates=candidates,
                    threshold=threshold,
                    title=f"{label} model: music neurons, what they encode, how many a window excites",
                ),
            )
        )
    ab = data.get("ablation")
    if ab is not None and len(ab):
        full = float(ab.sort_values("k")["accuracy"].iloc[-1])
        plans.append(
            FigurePlan(
                "ablation_kept_dims",
                "Ablation — how many dimensions the decoder needs",
                "Teacher-forced reconstruction accuracy (share of steps whose most likely class is the true one) when "
                "only the k most specific dimensions keep their μ and all others are set to 0 (the prior mean).",
                {"ablation": keys["ablation"], "neurons": keys["neurons"]},
                lambda: F.ablation_figure(
                    ab["k"].to_numpy(),
                    ab["accuracy"].to_numpy(),
                    n_music=n_music,
                    z_size=z_size,
                    reference={"all dimensions": full},
                ),
            )
        )
    return plans

"""The figures of a study part as a table: one :class:`FigureSpec` row per figure, in the report's order.

A row names the figure (its file stem), gives the heading and the caption the report shows, the stages
whose artifacts it is drawn from (their keys decide when it is redrawn), a function that draws it from a
:class:`FigureView`, and optionally when it applies. Captions are ``str.format`` templates over the
numbers of :meth:`FigureView.facts` (and a row's own ``facts``), so a caption states what was drawn and
never a number written by hand. Adding a figure is adding a row (and, when it needs a new number in its
caption, a fact). :mod:`musicneurons.study.rendering` draws the rows, in worker processes or in this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from musicneurons.analysis import captions as C
from musicneurons.figures import features as FF
from musicneurons.figures import latent as F
from musicneurons.study import beyond_figures
from musicneurons.study.artifacts import stage_rng

#: The φ_K heat map (Fig. 7) draws at most this many neurons: past it the column labels no longer read.
MAX_HEAT_NEURONS = 60


@dataclass(frozen=True)
class FigureSettings:
    """What a part's figures depend on besides its artifacts and its summary."""

    label: str  # "2-bar"
    seed: int
    threshold: float  # |μ| above which a window excites a neuron
    n_corr_dims: int
    summary_panel: bool  # draw Fig. 12 (the paper's 16-bar panel)


#: Stages every figure needs (its caption's numbers come from them), besides its own inputs.
BASE_INPUTS = ("latents", "neurons")


class FigureView:
    """A part's artifacts as the figures use them: latents in specificity order, roles, counts, labels.

    ``load(name)`` returns the artifact of a stage (None when that stage did not run); ``summary`` is the
    part's ``summary.json`` entry. Everything is computed on first use, so a figure pays only for what it
    draws.
    """

    def __init__(
        self, load: Callable[[str], Any], summary: Mapping[str, Any], settings: FigureSettings
    ) -> None:
        self.load = load
        self.summary = summary
        self.settings = settings

    def has(self, name: str) -> bool:
        value = self.load(name)
        return value is not None and (not isinstance(value, pd.DataFrame) or len(value) > 0)

    def rng(self, figure: str) -> np.random.Generator:
        """A generator per figure: the same points are drawn whichever process draws it, in whatever order."""
        return stage_rng(self.settings.seed, f"figure:{figure}")

    @cached_property
    def neurons(self) -> pd.DataFrame:
        return self.load("neurons").sort_values("rank")

    @cached_property
    def dims(self) -> np.ndarray:
        return self.neurons["dim"].to_numpy()

    @cached_property
    def n_music(self) -> int:
        return int(self.neurons["is_music"].sum())

    @property
    def z_size(self) -> int:
        return len(self.neurons)

    @cached_property
    def mu(self) -> np.ndarray:
        """μ of the real windows, columns in specificity order."""
        return self.load("latents")["mu"][:, self.dims]

    @cached_property
    def sigma(self) -> np.ndarray:
        return self.load("latents")["sigma"][:, self.dims]

    @cached_property
    def mu_random(self) -> np.ndarray:
        return self.load("random_latents")["mu"][:, self.dims]

    def role(self, name: str) -> dict[str, Any]:
        """``pitch_neuron`` or ``rhythm_neuron`` from the summary ({} when the part has none)."""
        return self.summary.get(name) or {}

    def role_label(self, rank: int) -> str:
        """ "neuron 2 (pitch neuron)": a rank with the roles it plays."""
        tags = [word for word in ("pitch", "rhythm") if self.role(f"{word}_neuron").get("rank") == rank]
        return f"neuron {rank}" + (f" ({' and '.join(tags)} neuron)" if tags else "")

    def counts(self, kind: str) -> np.ndarray | None:
        """Per window of ``kind`` (real/random): excited music and noise neurons, (n, 2); None if none."""
        counts = self.load("counts")
        rows = counts.loc[counts["kind"] == kind, ["n_music_active", "n_noise_active"]].to_numpy()
        return rows if len(rows) else None

    def phik_wide(self, n_cols: int) -> pd.DataFrame:
        """Long φ_K table -> P/R/M features (rows) x the first ``n_cols`` neuron ranks (columns)."""
        phik = self.load("phik")
        rows = phik[phik["group"].isin(list("PRM")) & (phik["rank"] <= n_cols)]
        return rows.pivot(index="feature", columns="rank", values="phik")

    @cached_property
    def n_phik(self) -> int:
        return int(self.load("phik")["rank"].max())

    @property
    def n_heat(self) -> int:
        """Neurons in Fig. 7: 40, or every music neuron of a summary-panel part; at most MAX_HEAT_NEURONS."""
        wanted = max(40, self.n_music if self.settings.summary_panel else 0)
        return min(wanted, MAX_HEAT_NEURONS, self.n_phik)

    def facts(self) -> dict[str, Any]:
        """The numbers captions may use, by name (see :data:`FACTS`), each computed when a caption uses it."""
        return _Facts(self)


def _n_random(v: FigureView) -> int:
    return len(v.mu_random) if v.has("random_latents") else 0


#: Numbers a caption may name, each a function of the view; a caption pays only for those it uses.
FACTS: dict[str, Callable[[FigureView], Any]] = {
    "label": lambda v: v.settings.label,
    "n_windows": lambda v: len(v.load("latents")["mu"]),
    "n_random": _n_random,
    "compared": lambda v: "real music vs random note sequences" if _n_random(v) else "real windows only",
    "n_music": lambda v: v.n_music,
    "n_noise": lambda v: v.z_size - v.n_music,
    "z_size": lambda v: v.z_size,
    "n_corr_dims": lambda v: v.settings.n_corr_dims,
    "n_heat": lambda v: v.n_heat,
    "threshold": lambda v: v.settings.threshold,
    "pitch_rank": lambda v: v.role("pitch_neuron").get("rank"),
    "pitch_dim": lambda v: v.role("pitch_neuron").get("dim"),
    "rhythm_rank": lambda v: v.role("rhythm_neuron").get("rank"),
    "rhythm_dim": lambda v: v.role("rhythm_neuron").get("dim"),
}


class _Facts(dict):
    """:data:`FACTS` of one view, computed on first use (``str.format_map`` asks only for what it needs)."""

    def __init__(self, view: FigureView) -> None:
        super().__init__()
        self.view = view

    def __missing__(self, name: str) -> Any:
        self[name] = FACTS[name](self.view)
        return self[name]


# ----------------------------------------------------------------------- caption facts, from the data drawn
def _decode_facts(v: FigureView) -> dict[str, str]:
    ex = v.load("example")
    return {
        "decode_mu": C.decode_caption(ex["window"], ex["decoded_mu"]),
        "decode_z": C.decode_caption(ex["window"], ex["decoded_z"], what="Decoding the sample"),
    }


def _example_noise_facts(v: FigureView) -> dict[str, str]:
    ex = v.load("example")
    noise = v.dims[v.n_music :]
    if not len(noise):
        return {"example_noise": "Every dimension is a music neuron at this split."}
    sigma = C.percentile_range(ex["sigma"][noise], "For this melody the noise neurons' σ")
    mu = C.percentile_range(ex["mu"][noise], "μ")
    return {"example_noise": f"{sigma}; {mu}."}


def _split_facts(v: FigureView) -> dict[str, str]:
    n = v.summary.get("neurons", {})
    gap = n.get("n_music_gap") or {}
    split = C.split_caption(
        v.n_music,
        float(v.summary.get("sigma_threshold", 0.95)),
        gap_n=gap.get("n_music"),
        gap_method=gap.get("method", "largest gap"),
        sensitivity={float(t): c for t, c in (n.get("threshold_sensitivity") or {}).items()},
    )
    return {"noise_mu": C.noise_mu_caption(v.mu[:, v.n_music :]), "split": split, "n_box": _n_box(v)}


def _significance_wide(v: FigureView) -> pd.DataFrame | None:
    """Per feature (rows) and neuron rank (columns): φ_K above the piece-shuffled null (None: none)."""
    null = v.load("phik_null")
    if null is None or not np.isfinite(null["null_threshold"]).any():
        return None
    return null.pivot(index="feature", columns="rank", values="significant").astype(bool)


def _n_box(v: FigureView) -> int:
    """Dimensions in Fig. 4: 100 as the paper, more when the cut lies beyond them (up to 20 past it)."""
    return min(v.z_size, max(100, v.n_music + 20))


# --------------------------------------------------------------------------- drawing functions
def _piano_rolls(v: FigureView) -> Figure:
    ex = v.load("example")
    return F.piano_roll_figure(
        [ex["window"], ex["decoded_mu"], ex["decoded_z"]],
        ["input: “Twinkle, twinkle”", "decoded from μ (argmax)", "decoded from a sample z (argmax)"],
    )


def _latent_profile(v: FigureView) -> Figure:
    ex = v.load("example")
    return F.latent_profile_figure(
        ex["mu"][v.dims],
        ex["sigma"][v.dims],
        ex["z"][v.dims],
        n_music=v.n_music,
        title="Latent encoding of “Twinkle, twinkle”",
    )


def _feature_labels() -> dict[str, str]:
    """Feature id -> name (unit), for axis labels."""
    from musicneurons.features.registry import FEATURE_NAMES, FEATURES

    return {
        k: f"{v} ({FEATURES[k].unit})" if k in FEATURES and FEATURES[k].unit else v
        for k, v in FEATURE_NAMES.items()
    }


def _neuron_vs_features(name: str, role: str, source: str, what: str) -> Callable[[FigureView], Figure]:
    """Figs. 8-9: the ``role`` neuron's μ against the six strongest features of the ``source`` neuron."""

    def draw(v: FigureView) -> Figure:
        r, src = v.role(role), v.role(source)
        cols = [f["feature"] for f in src["top_features"]][:6]
        phik = v.load("phik")
        this = phik[(phik["rank"] == r["rank"]) & phik["feature"].isin(cols)].set_index("feature")["phik"]
        loess = v.load("loess")
        rows = loess[loess["rank"] == r["rank"]]
        curves = {f: (g["x"].to_numpy(), g["y"].to_numpy()) for f, g in rows.groupby("feature")}
        return FF.neuron_vs_features_figure(
            v.mu[:, r["rank"] - 1],
            v.load("features"),
            cols,
            neuron_label=v.role_label(r["rank"]),
            curves=curves,
            phik=this.to_dict(),
            names=_feature_labels(),
            rng=v.rng(name),
            what=what,
        )

    return draw


def _has_roles(*roles: str) -> Callable[[FigureView], bool]:
    return lambda v: all(v.role(r) for r in roles)


def _ablation(v: FigureView) -> Figure:
    ab = v.load("ablation")
    full = float(ab.sort_values("k")["accuracy"].iloc[-1])
    return F.ablation_figure(
        ab["k"].to_numpy(),
        ab["accuracy"].to_numpy(),
        n_music=v.n_music,
        z_size=v.z_size,
        reference={"all dimensions": full},
    )


def _summary_panel(v: FigureView) -> Figure:
    n_cols = min(v.n_phik, max(v.n_music, 40))
    return FF.summary_figure(
        v.sigma,
        v.phik_wide(n_cols),
        v.counts("real"),
        v.counts("random"),
        n_music=v.n_music,
        z_size=v.z_size,
        candidates=v.summary.get("melody_candidates", []),
        threshold=v.settings.threshold,
        title=f"{v.settings.label} model: music neurons, what they encode, how many a window excites",
    )


# --------------------------------------------------------------------------- the figure table
def _always(v: FigureView) -> bool:
    return True


@dataclass(frozen=True)
class FigureSpec:
    """One row of the figure table.

    ``caption``: a ``str.format`` template over :meth:`FigureView.facts` and what ``facts`` (of the view)
    adds; ``inputs``: the stages the figure shows (their keys decide when it is redrawn; ``name?``: shown
    if that stage ran); ``draw`` builds the figure; ``when`` skips it for parts it does not apply to.
    """

    name: str
    heading: str
    caption: str
    inputs: tuple[str, ...]
    draw: Callable[[FigureView], Figure]
    when: Callable[[FigureView], bool] = _always
    facts: Callable[[FigureView], Mapping[str, Any]] = field(default=lambda v: {})

    def caption_for(self, view: FigureView) -> str:
        facts = view.facts()
        facts.update(self.facts(view))
        return self.caption.format_map(facts)


LOESS_CAPTION = (
    "μ of neuron {rank} (latent dimension {dim}) against {what}, one point per real window; red: LOESS fit "
    "(local linear regression, span 0.3, wider below 167 windows). Titles give φ_K."
)
LOESS_INPUTS = ("latents", "neurons", "features", "phik", "loess")
LOESS_FIGURES = (  # name, heading, neuron, whose features, the features in words
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
)


def _loess_spec(name: str, heading: str, role: str, source: str, what: str) -> FigureSpec:
    return FigureSpec(
        name,
        heading,
        LOESS_CAPTION,
        LOESS_INPUTS,
        _neuron_vs_features(name, role, source, what),
        when=_has_roles(role, source),
        facts=lambda v: {"rank": v.role(role)["rank"], "dim": v.role(role)["dim"], "what": what},
    )


#: Every figure of a part, in the report's order.
FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "fig02_piano_rolls",
        "Fig. 2 — a melody and its decodings",
        "“Twinkle, twinkle, little star” ({bars} bars, built in) as a piano roll, then the model's greedy "
        "(argmax) decoding of its posterior mean μ and of one sample z = μ + σ·ε. {decode_mu} {decode_z}",
        ("example",),
        _piano_rolls,
        when=lambda v: v.has("example"),
        facts=lambda v: {"bars": len(v.load("example")["window"]) // 16, **_decode_facts(v)},
    ),
    FigureSpec(
        "fig03_latent_profile",
        "Fig. 3 — the melody's latent encoding",
        "σ (top), μ (middle) and the sample z (bottom) of the example melody over the 100 most specific "
        "dimensions (ordered by mean σ over the whole corpus); left of the dashed line, the music neurons. "
        "{example_noise}",
        ("example", "neurons"),
        _latent_profile,
        when=lambda v: v.has("example"),
        facts=_example_noise_facts,
    ),
    FigureSpec(
        "fig04_sigma_mu_boxplots",
        "Fig. 4 — σ and μ across the corpus",
        "Boxplots of σ (top) and μ (bottom) over {n_windows:,} real windows for the {n_box} most specific "
        "dimensions (100, or enough to show the cut). The dashed line separates the {n_music} music neurons "
        "from the noise neurons. {noise_mu} {split}",
        ("latents", "neurons"),
        lambda v: F.latent_boxplot_figure(v.mu, v.sigma, n_music=v.n_music, n_dims=_n_box(v)),
        facts=_split_facts,
    ),
    FigureSpec(
        "fig05_latent_correlations",
        "Fig. 5 — correlations between latent dimensions",
        "Pearson correlation of μ between the {n_corr_dims} most specific dimensions over the real windows "
        "(0 = white). {corr}",
        ("latent_corr", "neurons"),
        lambda v: F.latent_correlation_figure(v.load("latent_corr")["corr"], n_music=v.n_music),
        facts=lambda v: {"corr": C.correlation_caption(v.load("latent_corr")["corr"], v.n_music)},
    ),
    FigureSpec(
        "fig06_feature_correlations",
        "Fig. 6 — correlations between music features",
        "Pearson correlations between music21's jSymbolic features over the real windows, grouped as pitch "
        "(P), rhythm (R) and melody (M). Rhythm features computed at each window's own tempo.",
        ("feature_corr",),
        lambda v: FF.feature_correlation_figure(v.load("feature_corr").set_index("feature")),
    ),
    FigureSpec(
        "fig07_phik_features_neurons",
        "Fig. 7 — which features each neuron encodes",
        "φ_K between every jSymbolic feature and the first {n_heat} neurons (by specificity; at most "
        "60 are drawn, every neuron's values are in phik.parquet). Outlined: the neurons among them with "
        "the strongest pitch and rhythm correlations. Pale: cells whose φ_K does not exceed "
        "what pieces shuffled between pieces give (so windows' clustering within pieces is not mistaken "
        "for a link).",
        ("phik", "neurons", "phik_null?"),
        lambda v: FF.phik_heatmap_figure(
            v.phik_wide(v.n_heat),
            n_music=v.n_music,
            highlight=sorted({v.role(r).get("rank", 0) for r in ("pitch_neuron", "rhythm_neuron")} - {0}),
            significant=_significance_wide(v),
        ),
    ),
    *(_loess_spec(*row) for row in LOESS_FIGURES),
    FigureSpec(
        "fig10_neuron_histograms_real_random",
        "Fig. 10 — the first neurons: real music vs random notes",
        "Distribution of μ for the four most specific neurons over {n_windows:,} real windows and "
        "{n_random:,} random note sequences (paper §5.1), each normalised to unit area.",
        ("latents", "random_latents", "neurons", "phik"),
        lambda v: F.neuron_histograms_figure(
            v.mu, v.mu_random, labels=[v.role_label(i) for i in range(1, 5)]
        ),
        when=lambda v: v.has("random_latents"),
    ),
    FigureSpec(
        "fig11_activation_counts",
        "Fig. 11 — how many neurons a window excites",
        "Per window, the number of music neurons (left, of {n_music}) and noise neurons (right, of "
        "{n_noise}) with |μ| > {threshold:g}: {compared}. {activation}",
        ("counts", "neurons"),
        lambda v: F.activation_counts_figure(
            v.counts("real"),
            v.counts("random"),
            n_music=v.n_music,
            z_size=v.z_size,
            threshold=v.settings.threshold,
        ),
        facts=lambda v: {
            "activation": C.activation_caption(
                v.counts("real")[:, 1], None if v.counts("random") is None else v.counts("random")[:, 1]
            )
        },
    ),
    FigureSpec(
        "fig12_summary",
        "Fig. 12 — the whole picture for this model",
        "(a) σ across the corpus with the music/noise cut; (b) φ_K between features and music neurons, "
        "melody-neuron candidates outlined (neurons whose melody score beats their pitch and rhythm scores); "
        "(c, d) excited music and noise neurons per window.",
        ("latents", "neurons", "phik", "counts"),
        _summary_panel,
        when=lambda v: v.settings.summary_panel,
    ),
    FigureSpec(
        "ablation_kept_dims",
        "Ablation — how many dimensions the decoder needs",
        "Teacher-forced reconstruction accuracy (share of steps whose most likely class is the true one) "
        "when only the k most specific dimensions keep their μ and all others are set to 0 (the prior mean).",
        ("ablation", "neurons"),
        _ablation,
        when=lambda v: v.has("ablation"),
    ),
    *(FigureSpec(*row) for row in beyond_figures.FIGURE_ROWS),  # causal probes, detector
)
FIGURES_BY_NAME = {spec.name: spec for spec in FIGURES}

#: Figures shown in the report's one-image preview (the first four that a study drew).
PREVIEW_FIGURES = (
    "fig04_sigma_mu_boxplots",
    "fig07_phik_features_neurons",
    "fig10_neuron_histograms_real_random",
    "fig11_activation_counts",
    "fig12_summary",
    "ablation_kept_dims",
)

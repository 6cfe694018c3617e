"""Headline numbers from the study's tables, ``summary.json``, and a self-contained HTML report.

:func:`summarize_part` turns one model's analysis tables into plain numbers (how many music neurons,
which neuron tracks pitch and which rhythm, how random notes differ, attribute vectors vs single neurons,
the ablation); :func:`headline_sentences` says the same in words; :func:`write_report` writes
``report/index.html`` with every figure embedded as base64 PNG, so the file can be mailed or attached on
its own. Only the numbers in ``summary.json`` are used for the words, so the two never disagree.

Tables (as written by :mod:`musicneurons.study.pipeline`)
-------------------------------------------------
neurons : one row per latent dimension in specificity order: ``rank`` (1 = smallest mean σ), ``dim``
    (index in the model's z), ``mean_sigma``, ``mean_mu``, ``var_mu``, ``is_music``, ``is_active``, and
    with random sequences ``ks_random`` (two-sample Kolmogorov-Smirnov distance of μ, real vs random).
phik : long table ``feature``, ``group`` (P/R/M/X), ``rank``, ``dim``, ``phik``.
counts : ``kind`` (``real``/``random``), ``n_music_active``, ``n_noise_active`` per window.
attributes : per feature ``feature``, ``group``, ``attribute_corr``, ``best_neuron_rank``, ``best_neuron_corr``.
ablation : ``k`` (dimensions kept), ``accuracy``.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from musicneurons.study.artifacts import atomic_write

GROUP_NAMES = {"P": "pitch", "R": "rhythm", "M": "melody"}
#: Descriptors whose medians the summary compares between real and random windows (name -> unit in words).
RANDOM_DESCRIPTORS = {
    "pitch_range": "semitones of pitch range",
    "n_pitch_classes": "pitch classes",
    "scale_consistency": "scale consistency",
    "n_notes": "notes",
}
TOP_SCORE = 3  # a neuron's score for a feature group: the mean of its TOP_SCORE largest φ_K in that group


@dataclass(frozen=True)
class FigureEntry:
    """One figure in the report: file stem, heading, caption (what the reader sees) and its PNG."""

    name: str
    heading: str
    caption: str
    png: Path


# --------------------------------------------------------------------------- numbers
def group_scores(phik: pd.DataFrame, *, top: int = TOP_SCORE) -> pd.DataFrame:
    """Per neuron rank (rows) and group P/R/M (columns): the mean of its ``top`` largest φ_K in that group."""
    rows = phik[phik["group"].isin(list(GROUP_NAMES))].dropna(subset=["phik"])

    def score(values: pd.Series) -> float:
        return float(np.sort(values.to_numpy())[::-1][:top].mean())

    table = rows.groupby(["rank", "group"])["phik"].apply(score).unstack("group")
    return table.reindex(columns=list(GROUP_NAMES))


def neuron_role(phik: pd.DataFrame, neurons: pd.DataFrame, group: str, *, top_features: int = 6) -> dict:
    """The neuron whose group score (see :func:`group_scores`) is highest for ``group`` (P, R or M).

    Returns its rank and latent dim, its score, and its ``top_features`` strongest features of that group
    with their φ_K, strongest first.
    """
    scores = group_scores(phik)[group].dropna()
    if scores.empty:
        return {}
    rank = int(scores.idxmax())
    rows = phik[(phik["rank"] == rank) & (phik["group"] == group)].dropna(subset=["phik"])
    rows = rows.sort_values("phik", ascending=False).head(top_features)
    dim = int(neurons.loc[neurons["rank"] == rank, "dim"].iloc[0])
    return {
        "rank": rank,
        "dim": dim,
        "score": float(scores.max()),
        "top_features": [
            {"feature": f, "phik": float(v)} for f, v in zip(rows["feature"], rows["phik"], strict=True)
        ],
    }


def melody_candidates(phik: pd.DataFrame, n_music: int, *, min_score: float = 0.1) -> list[int]:
    """Music neurons (ranks) whose melody score beats both their pitch and their rhythm score (and ``min_score``)."""
    scores = group_scores(phik)
    scores = scores[scores.index <= n_music].fillna(0.0)
    keep = (scores["M"] > scores["P"]) & (scores["M"] > scores["R"]) & (scores["M"] >= min_score)
    return [int(r) for r in scores.index[keep]]


def summarize_part(
    tables: Mapping[str, pd.DataFrame],
    *,
    info: Mapping[str, Any] | None = None,
    threshold: float = 0.1,
) -> dict[str, Any]:
    """The headline numbers of one model's study from its tables (see the module docstring for columns).

    ``tables`` needs ``neurons``; ``phik``, ``counts``, ``attributes``, ``ablation`` and ``features`` with
    ``random_features`` (feature tables of the real and random windows) are used when present.
    ``info`` (model, corpus, sizes) is copied into the result unchanged.
    """
    neurons = tables["neurons"].sort_values("rank")
    z_size = len(neurons)
    n_music = int(neurons["is_music"].sum())
    out: dict[str, Any] = dict(info or {})
    out["neurons"] = {
        "z_size": z_size,
        "n_music": n_music,
        "n_noise": z_size - n_music,
        "n_active_units": int(neurons["is_active"].sum()),
        "n_music_and_active": int((neurons["is_music"] & neurons["is_active"]).sum()),
        "max_mean_sigma_music": float(neurons.loc[neurons["is_music"], "mean_sigma"].max())
        if n_music
        else None,
        "min_mean_sigma_noise": float(neurons.loc[~neurons["is_music"], "mean_sigma"].min())
        if n_music < z_size
        else None,
        "max_abs_mean_mu_noise": float(neurons.loc[~neurons["is_music"], "mean_mu"].abs().max())
        if n_music < z_size
        else None,
    }
    phik = tables.get("phik")
    if phik is not None and len(phik):
        out["pitch_neuron"] = neuron_role(phik, neurons, "P")
        out["rhythm_neuron"] = neuron_role(phik, neurons, "R")
        out["melody_neuron"] = neuron_role(phik, neurons, "M")
        out["melody_candidates"] = melody_candidates(phik, n_music)
    counts = tables.get("counts")
    if counts is not None and len(counts):
        out["activation"] = {"threshold": threshold}
        for kind, rows in counts.groupby("kind"):
            out["activation"][str(kind)] = {
                "n_windows": len(rows),
                "median_music_active": float(rows["n_music_active"].median()),
                "median_noise_active": float(rows["n_noise_active"].median()),
                "share_over_100_noise_active": float((rows["n_noise_active"] > 100).mean()),
            }
    if "ks_random" in neurons and neurons["ks_random"].notna().any():
        first = neurons.head(4)
        out["random_vs_real"] = {
            "ks_first_neurons": {
                f"neuron {int(r)}": float(v) for r, v in zip(first["rank"], first["ks_random"], strict=True)
            },
            "median_ks_music": float(neurons.loc[neurons["is_music"], "ks_random"].median()),
            "median_ks_noise": float(neurons.loc[~neurons["is_music"], "ks_random"].median())
            if n_music < z_size
            else None,
        }
        for role in ("pitch_neuron", "rhythm_neuron"):
            if out.get(role):
                rank = out[role]["rank"]
                out["random_vs_real"][f"ks_{role}"] = float(
                    neurons.loc[neurons["rank"] == rank, "ks_random"].iloc[0]
                )
    feats, rfeats = tables.get("features"), tables.get("random_features")
    if feats is not None and rfeats is not None and len(rfeats):
        out.setdefault("random_vs_real", {})["descriptors"] = {
            name: {"median_real": float(feats[name].median()), "median_random": float(rfeats[name].median())}
            for name in RANDOM_DESCRIPTORS
            if name in feats and name in rfeats
        }
    attributes = tables.get("attributes")
    if attributes is not None and len(attributes):
        a = attributes.dropna(subset=["attribute_corr", "best_neuron_corr"])
        better = a["attribute_corr"].abs() > a["best_neuron_corr"].abs()
        out["attributes"] = {
            "n_features": len(a),
            "n_attribute_vector_better": int(better.sum()),
            "n_single_neuron_better": int((~better).sum()),
            "median_abs_attribute_corr": float(a["attribute_corr"].abs().median()),
            "median_abs_best_neuron_corr": float(a["best_neuron_corr"].abs().median()),
        }
    ablation = tables.get("ablation")
    if ablation is not None and len(ablation):
        ab = ablation.sort_values("k")
        full = float(ab["accuracy"].iloc[-1])
        none = float(ab["accuracy"].iloc[0])
        reach = ab.loc[ab["accuracy"] >= none + 0.99 * (full - none), "k"]
        at_music = ab.loc[ab["k"] <= n_music, "accuracy"]
        out["ablation"] = {
            "accuracy_all_dims": full,
            "accuracy_no_dims": none,
            "accuracy_music_dims": float(at_music.iloc[-1]) if len(at_music) else None,
            "k_music_dims": int(ab.loc[ab["k"] <= n_music, "k"].iloc[-1]) if len(at_music) else None,
            "k_for_99pct_of_gain": int(reach.iloc[0]) if len(reach) else None,
        }
    return out


# --------------------------------------------------------------------------- words
def _features_text(role: Mapping[str, Any], n: int = 3) -> str:
    return ", ".join(f"{f['feature']} (φ_K {f['phik']:.2f})" for f in role.get("top_features", [])[:n])


def headline_sentences(part: Mapping[str, Any], label: str) -> list[str]:
    """The headline numbers of one part (from :func:`summarize_part`) as plain sentences."""
    n = part["neurons"]
    text = (
        f"The {label} model uses {n['n_music']} of its {n['z_size']} latent dimensions as music neurons "
        f"(mean σ up to {_num(n['max_mean_sigma_music'])})"
    )
    if n["n_noise"]:
        text += (
            f"; the other {n['n_noise']} are noise neurons (mean σ from {_num(n['min_mean_sigma_noise'])}, "
            f"|mean μ| at most {_num(n['max_abs_mean_mu_noise'])})"
        )
    else:
        text += "; it has no noise neurons at this threshold"
    text += (
        f". By the active-unit rule (Var μ > 0.01) {n['n_active_units']} dimensions are active, "
        f"{n['n_music_and_active']} of them music neurons."
    )
    s = [text]
    for role, word in (("pitch_neuron", "pitch"), ("rhythm_neuron", "rhythm")):
        r = part.get(role)
        if r:
            s.append(
                f"Neuron {r['rank']} (latent dimension {r['dim']}) tracks {word} most closely: its strongest "
                f"{word} features are {_features_text(r)}."
            )
    if (
        part.get("pitch_neuron")
        and part.get("rhythm_neuron")
        and part["pitch_neuron"]["rank"] == part["rhythm_neuron"]["rank"]
    ):
        s.append("The same neuron leads for pitch and for rhythm: this model has not separated the two.")
    if "melody_candidates" in part:
        cands = part["melody_candidates"]
        s.append(
            "Melody-neuron candidates (music neurons that correlate more with melody than with pitch or rhythm "
            f"features): {', '.join(map(str, cands))}."
            if cands
            else "No music neuron correlates more with melody features than with pitch or rhythm features."
        )
    rv = part.get("random_vs_real")
    act = part.get("activation", {})
    if rv and "random" in act:
        real, rand = act["real"], act["random"]
        words = []
        if "ks_pitch_neuron" in rv:
            words.append(
                f"the pitch neuron's μ distribution differs by a KS distance of {rv['ks_pitch_neuron']:.2f}"
            )
        if "ks_rhythm_neuron" in rv:
            words.append(f"the rhythm neuron's by {rv['ks_rhythm_neuron']:.2f}")
        s.append(
            f"Random note sequences ({rand['n_windows']:,}) against real music ({real['n_windows']:,}): "
            + ("; ".join(words) + ". " if words else "")
            + f"A random sequence excites a median of {rand['median_music_active']:.0f} music and "
            f"{rand['median_noise_active']:.0f} noise neurons (|μ| > {act['threshold']:g}), real music "
            f"{real['median_music_active']:.0f} and {real['median_noise_active']:.0f}; "
            f"{100 * rand['share_over_100_noise_active']:.0f}% of random sequences excite over 100 noise neurons, "
            f"{100 * real['share_over_100_noise_active']:.0f}% of real windows do."
        )
    desc = (rv or {}).get("descriptors")
    if desc:
        s.append(
            "Typical random sequence vs typical real window (medians): "
            + "; ".join(
                f"{d['median_random']:.3g} vs {d['median_real']:.3g} {RANDOM_DESCRIPTORS[name]}"
                for name, d in desc.items()
            )
            + "."
        )
    at = part.get("attributes")
    if at:
        s.append(
            f"Attribute vectors (mean μ of the top minus the bottom quartile of a feature) vs single neurons: "
            f"for {at['n_single_neuron_better']} of {at['n_features']} features the best single neuron "
            f"correlates more strongly with the feature than the projection on its attribute vector "
            f"(median |r| {at['median_abs_best_neuron_corr']:.2f} vs {at['median_abs_attribute_corr']:.2f})."
        )
    ab = part.get("ablation")
    if ab:
        text = (
            f"Ablation: keeping only the music neurons' μ (k = {ab['k_music_dims']}) and zeroing the rest "
            f"gives a teacher-forced reconstruction accuracy of {_num(ab['accuracy_music_dims'], 3)}, against "
            f"{ab['accuracy_all_dims']:.3f} with all dimensions and {ab['accuracy_no_dims']:.3f} with none"
        )
        if ab.get("k_for_99pct_of_gain") is not None and ab["accuracy_all_dims"] > ab["accuracy_no_dims"]:
            text += f"; {ab['k_for_99pct_of_gain']} dimensions recover 99% of the gain"
        s.append(text + ".")
    return s


def part_description(part: Mapping[str, Any]) -> str:
    """One sentence on what a part studied: model, corpus, window counts, threshold."""
    cfg = part.get("model_config", {})
    arch = ""
    if cfg:
        arch = (
            f" (z = {cfg['z_size']}, encoder {'+'.join(map(str, cfg['enc_rnn_size']))}, decoder "
            f"{'+'.join(map(str, cfg['dec_rnn_size']))}{', hierarchical' if cfg.get('level_lengths') else ''})"
        )
    text = f"Model {part.get('model', '?')}{arch} on {part.get('corpus', 'its corpus')}"
    if "n_windows" in part:
        text += f"; {part['n_windows']:,} windows studied"
    if part.get("n_random"):
        text += f", {part['n_random']:,} random note sequences"
    if "sigma_threshold" in part:
        text += f"; music neuron = mean σ below {part['sigma_threshold']:g}"
    return text + "."


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# --------------------------------------------------------------------------- HTML
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
figure{margin:1.5em 0;padding:.5em;border:1px solid #eee;border-radius:6px}
figure img{max-width:100%;height:auto;display:block;margin:auto}
figcaption{font-size:.92em;color:#444;margin-top:.5em}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.headline li{margin:.4em 0}.meta{font-size:.85em}pre{background:#f7f7f7;padding:.7em;overflow-x:auto}
.note{background:#fff8e1;border-left:4px solid #f0c040;padding:.4em .8em}
"""


def _img_tag(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _table_html(df: pd.DataFrame, digits: int = 4) -> str:
    return df.to_html(
        index=False, float_format=lambda v: f"{v:.{digits}g}", border=0, na_rep="–", escape=True
    )


def write_report(
    path: Path,
    *,
    title: str,
    summary: Mapping[str, Any],
    parts: Sequence[tuple[str, str]],
    figures: Mapping[str, Sequence[FigureEntry]],
    tables: Mapping[str, Mapping[str, Path]],
    previews: Mapping[str, pd.DataFrame] | None = None,
    notes: Sequence[str] = (),
    metadata: Mapping[str, Any],
) -> Path:
    """Write the self-contained HTML report to ``path`` (atomically) and return it.

    Parameters
    ----------
    summary : the ``summary.json`` content; ``summary["parts"][key]`` feeds :func:`headline_sentences`.
    parts : (key, label) per model, e.g. ``("2bar", "2-bar")``, in report order.
    figures : part key -> figures, in reading order.
    tables : part key -> {table name: file}; linked relative to the report's folder.
    previews : "part key/name" -> small DataFrame shown inline (e.g. the first music neurons).
    notes : remarks shown at the top (e.g. "fewer random sequences than asked for").
    metadata : config, versions, seeds and stage timings, shown at the end.
    """
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        (
            "<p>A reproduction of <em>Exploring how a Generative AI interprets music</em> (Barenboim, Del Debbio, "
            "Hirn, Sanz) with <code>musicneurons study</code>. Latent dimensions are ordered by their mean "
            "posterior σ over the corpus; “neuron k” is the k-th most specific dimension.</p>"
        ),
    ]
    toc = " · ".join(
        [
            '<a href="#headline">Headline numbers</a>',
            *(f'<a href="#{key}">{html.escape(label)} model</a>' for key, label in parts),
            '<a href="#metadata">Run metadata</a>',
            '<a href="../summary.json">summary.json</a>',
            '<a href="../run.json">run.json</a>',
        ]
    )
    out.append(f"<nav>{toc}</nav>")
    out += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    out.append('<h2 id="headline">Headline numbers</h2><ul class="headline">')
    for key, label in parts:
        if key in summary.get("parts", {}):
            out += [f"<li>{html.escape(s)}</li>" for s in headline_sentences(summary["parts"][key], label)]
    out.append("</ul>")
    base = path.parent
    for key, label in parts:
        out.append(f'<h2 id="{key}">{html.escape(label)} model</h2>')
        if key in summary.get("parts", {}):
            out.append(f"<p>{html.escape(part_description(summary['parts'][key]))}</p>")
        for fig in figures.get(key, []):
            out.append(
                f'<figure id="{key}-{fig.name}">{_img_tag(fig.png, fig.heading)}'
                f"<figcaption><b>{html.escape(fig.heading)}.</b> {html.escape(fig.caption)} "
                f'(<a href="{_rel(fig.png.with_suffix(".svg"), base)}">SVG</a>)</figcaption></figure>'
            )
        for name, frame in (previews or {}).items():
            if name.split("/", 1)[0] == key:
                out.append(f"<h3>{html.escape(name.split('/', 1)[1])}</h3>{_table_html(frame)}")
        if tables.get(key):
            links = ", ".join(
                f'<a href="{_rel(p, base)}">{html.escape(n)}</a>' for n, p in tables[key].items()
            )
            out.append(f"<p>Tables (Parquet; open with pandas or DuckDB): {links}.</p>")
    out.append('<h2 id="metadata">Run metadata</h2><div class="meta">')
    out += _metadata_html(metadata)
    out.append("</div>")
    out.append(
        '<p>All numbers above are also in <a href="../summary.json">summary.json</a>.</p></body></html>'
    )
    text = "\n".join(out) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _metadata_html(metadata: Mapping[str, Any]) -> list[str]:
    """The command, stage timings and versions as small tables, then everything as JSON."""
    out = []
    if "command" in metadata:
        out.append(
            f"<p>Reproduce with <code>{html.escape(str(metadata['command']))}</code>"
            + (f" ({metadata['seconds_this_run']:.0f} s this run)" if "seconds_this_run" in metadata else "")
            + ". Each stage draws its random numbers from its own generator, seeded by the study seed and "
            "the stage name.</p>"
        )
    stages = metadata.get("stages")
    if stages:
        frame = pd.DataFrame(
            [
                {"stage": k, "seconds": v.get("seconds"), "computed at": v.get("created")}
                for k, v in stages.items()
            ]
        )
        out.append(
            "<h3>Stages (time when computed; reused stages keep their first time)</h3>" + _table_html(frame)
        )
    if metadata.get("versions"):
        frame = pd.DataFrame([{"package": k, "version": v} for k, v in metadata["versions"].items()])
        out.append("<h3>Versions</h3>" + _table_html(frame))
    out.append(f"<h3>Everything</h3><pre>{html.escape(json.dumps(metadata, indent=2, default=str))}</pre>")
    return out


def _rel(target: Path, base: Path) -> str:
    return html.escape(Path(os.path.relpath(target, base)).as_posix())


PREVIEW_FIGURES = (
    "fig04_sigma_mu_boxplots",
    "fig07_phik_features_neurons",
    "fig10_neuron_histograms_real_random",
    "fig11_activation_counts",
    "fig12_summary",
    "ablation_kept_dims",
)


def preview_figure(
    summary: Mapping[str, Any], parts: Sequence[tuple[str, str]], figures: Mapping[str, Sequence[FigureEntry]]
) -> Figure:
    """A one-image glimpse of the report (for a README): the headline sentences above four key figures."""
    import textwrap

    from matplotlib.image import imread

    sentences = [
        s
        for key, label in parts
        if key in summary.get("parts", {})
        for s in headline_sentences(summary["parts"][key], label)
    ][:6]
    chosen = [
        (label, e)
        for key, label in parts
        for name in PREVIEW_FIGURES
        for e in figures.get(key, [])
        if e.name == name
    ][:4]
    fig = Figure(figsize=(12, 11), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[0.75, 1, 1])
    text_ax = fig.add_subplot(grid[0, :])
    text_ax.axis("off")
    lines = ["musicneurons study — report/index.html", ""]
    for s in sentences:
        lines += textwrap.wrap(s, 135) + [""]
    text_ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=9, transform=text_ax.transAxes)
    for i, (label, entry) in enumerate(chosen):
        ax = fig.add_subplot(grid[1 + i // 2, i % 2])
        ax.imshow(imread(entry.png))
        ax.set_title(f"{label} model: {entry.heading}", fontsize=9)
        ax.axis("off")
    return fig

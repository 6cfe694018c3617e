"""The headline numbers of a study part (``summary.json``) and the same numbers in words.

:func:`summarize_part` turns one model's tables into plain numbers; :func:`headline_sentences` says them
in words. Only the numbers are used for the words, so the two never disagree. Both are tables of small
functions: adding a key to ``summary.json`` is one row in :data:`SECTIONS` (a function of the tables and of
the keys computed so far), adding a sentence one row in :data:`SENTENCES` (a function of those numbers).

Tables (as written by :mod:`musicneurons.study.pipeline`)
-----------------------------------------------------------
neurons : one row per latent dimension in specificity order: ``rank`` (1 = smallest mean σ), ``dim``
    (index in the model's z), ``mean_sigma``, ``mean_mu``, ``var_mu``, ``is_music``, ``is_active``, and
    with random sequences ``ks_random`` (two-sample Kolmogorov-Smirnov distance of μ, real vs random).
phik : long table ``feature``, ``group`` (P/R/M/X), ``rank``, ``dim``, ``phik``.
counts : ``kind`` (``real``/``random``), ``n_music_active``, ``n_noise_active`` per window.
attributes : per feature ``feature``, ``group``, ``attribute_corr``, ``best_neuron_rank``,
    ``best_neuron_corr``.
ablation : ``k`` (dimensions kept), ``accuracy``.
features, random_features : descriptor columns (``pitch_range``, ...) per real and random window.
interventions, disentanglement, detector : see :mod:`musicneurons.study.beyond`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from musicneurons.analysis.roles import melody_candidates, neuron_roles
from musicneurons.constants import EXCITED_MU
from musicneurons.study import beyond

Tables = Mapping[str, pd.DataFrame]
#: Descriptors whose medians the summary compares between real and random windows (name -> unit in words).
RANDOM_DESCRIPTORS = {
    "pitch_range": "semitones of pitch range",
    "n_pitch_classes": "pitch classes",
    "scale_consistency": "scale consistency",
    "n_notes": "notes",
}
NOISE_COUNT_MARK = 100  # the paper's Fig. 11: random sequences excite more than 100 noise neurons


# --------------------------------------------------------------------------- numbers, one function per key
def _neurons(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    neurons = tables["neurons"].sort_values("rank")
    z_size = len(neurons)
    music = neurons["is_music"]
    n_music = int(music.sum())
    has_noise = n_music < z_size
    return {
        "neurons": {
            "z_size": z_size,
            "n_music": n_music,
            "n_noise": z_size - n_music,
            "n_active_units": int(neurons["is_active"].sum()),
            "n_music_and_active": int((music & neurons["is_active"]).sum()),
            "max_mean_sigma_music": float(neurons.loc[music, "mean_sigma"].max()) if n_music else None,
            "min_mean_sigma_noise": float(neurons.loc[~music, "mean_sigma"].min()) if has_noise else None,
            "max_abs_mean_mu_noise": float(neurons.loc[~music, "mean_mu"].abs().max()) if has_noise else None,
        }
    }


def _roles(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    phik = tables.get("phik")
    if phik is None or not len(phik):
        return {}
    n_music = part["neurons"]["n_music"]
    return {**neuron_roles(phik, tables["neurons"]), "melody_candidates": melody_candidates(phik, n_music)}


def _activation(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    counts = tables.get("counts")
    if counts is None or not len(counts):
        return {}
    out: dict[str, Any] = {"threshold": part["activation_threshold"]}
    for kind, rows in counts.groupby("kind"):
        out[str(kind)] = {
            "n_windows": len(rows),
            "median_music_active": float(rows["n_music_active"].median()),
            "median_noise_active": float(rows["n_noise_active"].median()),
            "share_over_100_noise_active": float((rows["n_noise_active"] > NOISE_COUNT_MARK).mean()),
        }
    return {"activation": out}


def _random_vs_real(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    neurons = tables["neurons"].sort_values("rank")
    out: dict[str, Any] = {}
    if "ks_random" in neurons and neurons["ks_random"].notna().any():
        music = neurons["is_music"]
        first = neurons.head(4)
        out["ks_first_neurons"] = {
            f"neuron {int(r)}": float(v) for r, v in zip(first["rank"], first["ks_random"], strict=True)
        }
        out["median_ks_music"] = float(neurons.loc[music, "ks_random"].median())
        out["median_ks_noise"] = float(neurons.loc[~music, "ks_random"].median()) if (~music).any() else None
        for role in ("pitch_neuron", "rhythm_neuron"):
            if part.get(role):
                rank = part[role]["rank"]
                out[f"ks_{role}"] = float(neurons.loc[neurons["rank"] == rank, "ks_random"].iloc[0])
    feats, rfeats = tables.get("features"), tables.get("random_features")
    if feats is not None and rfeats is not None and len(rfeats):
        out["descriptors"] = {
            name: {"median_real": float(feats[name].median()), "median_random": float(rfeats[name].median())}
            for name in RANDOM_DESCRIPTORS
            if name in feats and name in rfeats
        }
    return {"random_vs_real": out} if out else {}


def _attributes(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    attributes = tables.get("attributes")
    if attributes is None or not len(attributes):
        return {}
    a = attributes.dropna(subset=["attribute_corr", "best_neuron_corr"])
    better = a["attribute_corr"].abs() > a["best_neuron_corr"].abs()
    return {
        "attributes": {
            "n_features": len(a),
            "n_attribute_vector_better": int(better.sum()),
            "n_single_neuron_better": int((~better).sum()),
            "median_abs_attribute_corr": float(a["attribute_corr"].abs().median()),
            "median_abs_best_neuron_corr": float(a["best_neuron_corr"].abs().median()),
        }
    }


def _ablation(tables: Tables, part: Mapping[str, Any]) -> dict[str, Any]:
    ablation = tables.get("ablation")
    if ablation is None or not len(ablation):
        return {}
    n_music = part["neurons"]["n_music"]
    ab = ablation.sort_values("k")
    full = float(ab["accuracy"].iloc[-1])
    none = float(ab["accuracy"].iloc[0])
    reach = ab.loc[ab["accuracy"] >= none + 0.99 * (full - none), "k"]
    at_music = ab.loc[ab["k"] <= n_music]
    return {
        "ablation": {
            "accuracy_all_dims": full,
            "accuracy_no_dims": none,
            "accuracy_music_dims": float(at_music["accuracy"].iloc[-1]) if len(at_music) else None,
            "k_music_dims": int(at_music["k"].iloc[-1]) if len(at_music) else None,
            "k_for_99pct_of_gain": int(reach.iloc[0]) if len(reach) else None,
        }
    }


#: The keys of a part's summary, in order: each function gets the tables and the keys computed before it,
#: and returns the keys it adds (nothing when its tables are missing).
SECTIONS: tuple[Callable[[Tables, Mapping[str, Any]], dict[str, Any]], ...] = (
    _neurons,
    _roles,
    _activation,
    _random_vs_real,
    _attributes,
    _ablation,
    beyond.summarize_interventions,
    beyond.summarize_disentanglement,
    beyond.summarize_detector,
)


def summarize_part(
    tables: Tables, *, info: Mapping[str, Any] | None = None, threshold: float = EXCITED_MU
) -> dict[str, Any]:
    """The headline numbers of one model's study from its tables (see the module docstring for columns).

    ``tables`` needs ``neurons``; ``phik``, ``counts``, ``attributes``, ``ablation`` and ``features`` with
    ``random_features`` (feature tables of the real and random windows) are used when present.
    ``info`` (model, corpus, sizes) is copied into the result unchanged; ``threshold`` is the |μ| above
    which a window excites a neuron.
    """
    out: dict[str, Any] = dict(info or {})
    context = {**out, "activation_threshold": threshold}
    for section in SECTIONS:
        added = section(tables, {**context, **out})
        out.update(added)
    return out


# --------------------------------------------------------------------------- words, one function per topic
def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _features_text(role: Mapping[str, Any], n: int = 3) -> str:
    return ", ".join(f"{f['feature']} (φ_K {f['phik']:.2f})" for f in role.get("top_features", [])[:n])


def _say_neurons(part: Mapping[str, Any], label: str) -> list[str]:
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
    return [text]


def _say_roles(part: Mapping[str, Any], label: str) -> list[str]:
    s = []
    for role, word in (("pitch_neuron", "pitch"), ("rhythm_neuron", "rhythm")):
        r = part.get(role)
        if r:
            s.append(
                f"Neuron {r['rank']} (latent dimension {r['dim']}) tracks {word} most closely: its strongest "
                f"{word} features are {_features_text(r)}."
            )
    pitch, rhythm = part.get("pitch_neuron"), part.get("rhythm_neuron")
    if pitch and rhythm and pitch["rank"] == rhythm["rank"]:
        s.append("The same neuron leads for pitch and for rhythm: this model has not separated the two.")
    if "melody_candidates" in part:
        cands = part["melody_candidates"]
        s.append(
            "Melody-neuron candidates (music neurons that correlate more with melody than with pitch or "
            f"rhythm features): {', '.join(map(str, cands))}."
            if cands
            else "No music neuron correlates more with melody features than with pitch or rhythm features."
        )
    return s


def _say_random(part: Mapping[str, Any], label: str) -> list[str]:
    s = []
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
            f"{100 * rand['share_over_100_noise_active']:.0f}% of random sequences excite over 100 noise "
            f"neurons, {100 * real['share_over_100_noise_active']:.0f}% of real windows do."
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
    return s


def _say_attributes(part: Mapping[str, Any], label: str) -> list[str]:
    at = part.get("attributes")
    if not at:
        return []
    text = (
        f"Attribute vectors (mean μ of the top minus the bottom quartile of a feature) vs single neurons: "
        f"for {at['n_single_neuron_better']} of {at['n_features']} features the best single neuron "
        f"correlates more strongly with the feature than the projection on its attribute vector "
        f"(median |r| {at['median_abs_best_neuron_corr']:.2f} vs {at['median_abs_attribute_corr']:.2f})."
    )
    return [text]


def _say_ablation(part: Mapping[str, Any], label: str) -> list[str]:
    ab = part.get("ablation")
    if not ab:
        return []
    text = (
        f"Ablation: keeping only the music neurons' μ (k = {ab['k_music_dims']}) and zeroing the rest "
        f"gives a teacher-forced reconstruction accuracy of {_num(ab['accuracy_music_dims'], 3)}, against "
        f"{ab['accuracy_all_dims']:.3f} with all dimensions and {ab['accuracy_no_dims']:.3f} with none"
    )
    if ab.get("k_for_99pct_of_gain") is not None and ab["accuracy_all_dims"] > ab["accuracy_no_dims"]:
        text += f"; {ab['k_for_99pct_of_gain']} dimensions recover 99% of the gain"
    return [text + "."]


#: The headline sentences, in order: each function gets a part's summary and its label ("2-bar").
SENTENCES: tuple[Callable[[Mapping[str, Any], str], list[str]], ...] = (
    _say_neurons,
    _say_roles,
    _say_random,
    _say_attributes,
    _say_ablation,
    beyond.say_beyond,
)


def headline_sentences(part: Mapping[str, Any], label: str) -> list[str]:
    """The headline numbers of one part (from :func:`summarize_part`) as plain sentences."""
    return [sentence for say in SENTENCES for sentence in say(part, label)]


def part_description(part: Mapping[str, Any]) -> str:
    """One sentence on what a part studied: model, corpus, window counts, threshold."""
    cfg = part.get("model_config", {})
    arch = ""
    if cfg:
        hierarchical = ", hierarchical" if cfg.get("level_lengths") else ""
        arch = (
            f" (z = {cfg['z_size']}, encoder {'+'.join(map(str, cfg['enc_rnn_size']))}, decoder "
            f"{'+'.join(map(str, cfg['dec_rnn_size']))}{hierarchical})"
        )
    text = f"Model {part.get('model', '?')}{arch} on {part.get('corpus', 'its corpus')}"
    if "n_windows" in part:
        text += f"; {part['n_windows']:,} windows studied"
        analysed = part.get("n_windows_analysis", part["n_windows"])
        if analysed < part["n_windows"]:
            text += (
                f" (mean σ, the music/noise split and the excitation counts over all of them; φ_K, "
                f"correlations, LOESS, attribute vectors, bootstrap and the other per-window analyses on a "
                f"random subset of {analysed:,} drawn from the study seed)"
            )
    if part.get("n_random"):
        text += f", {part['n_random']:,} random note sequences"
    if "sigma_threshold" in part:
        text += f"; music neuron = mean σ below {part['sigma_threshold']:g}"
    return text + "."

"""The numbers :func:`musicneurons.analysis.paper.compare_with_paper` checks, measured from a run's arrays.

:func:`measure_latents` and :func:`measure_counts` compute the claims' numbers that the study's tables do not
hold directly (noise-mu percentiles, correlations between music neurons, Fig. 11's shares and bimodality);
:func:`measures_from_summary` collects every number from one part of ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from musicneurons.analysis.paper import STRONG_R


def measure_latents(mu: object, is_music: object, *, strong_r: float = STRONG_R) -> dict[str, float | int]:
    """The latent numbers the claims use: noise μ percentiles, and correlations between music neurons.

    Parameters
    ----------
    mu : array-like, shape (n_windows, z_size)
    is_music : array-like of bool, shape (z_size,)
        Music neurons (in the model's dimension order, as ``mu``'s columns).

    Returns
    -------
    dict
        ``noise_mu_p05``, ``noise_mu_p95`` (over every window and noise neuron), ``max_abs_corr_music``
        and ``n_strong_pairs_music`` (distinct pairs of music neurons with |r| >= ``strong_r``); a key is
        left out when there are no such neurons.
    """
    import numpy as np

    from musicneurons.analysis.correlations import pearson_matrix

    m = np.asarray(mu, dtype=np.float64)
    mask = np.asarray(is_music, dtype=bool)
    out: dict[str, float | int] = {}
    if (~mask).any():
        lo, hi = np.percentile(m[:, ~mask], [5, 95])
        out.update(noise_mu_p05=float(lo), noise_mu_p95=float(hi))
    if mask.sum() >= 2:
        r = np.abs(pearson_matrix(m[:, mask]))
        off = r[np.triu_indices(int(mask.sum()), k=1)]
        off = off[np.isfinite(off)]
        if off.size:
            out.update(max_abs_corr_music=float(off.max()), n_strong_pairs_music=int((off >= strong_r).sum()))
    return out


def measure_counts(
    music_real: object, noise_real: object, music_random: object = None, noise_random: object = None
) -> dict[str, float]:
    """Fig. 11's numbers from per-window counts of excited music and noise neurons (real, and random)."""
    import numpy as np

    from musicneurons.analysis.uncertainty import bimodality_coefficient

    out = {
        "median_music_active_real": float(np.median(np.asarray(music_real, dtype=np.float64))),
        "median_noise_active_real": float(np.median(np.asarray(noise_real, dtype=np.float64))),
    }
    if music_random is not None and noise_random is not None and np.size(np.asarray(noise_random)):
        music = np.asarray(music_random, dtype=np.float64)
        noise = np.asarray(noise_random, dtype=np.float64)
        out.update(
            median_music_active_random=float(np.median(music)),
            median_noise_active_random=float(np.median(noise)),
            share_over_100_noise_random=float(np.mean(noise > 100)),
            random_noise_bimodality=bimodality_coefficient(noise),
            random_total_active_p95=float(np.percentile(music + noise, 95)),
        )
    return out


def measures_from_summary(part: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`MEASURES` found in one part of a study's ``summary.json`` (absent ones are left out).

    Reads ``neurons`` (``z_size``, ``n_music``, ``n_music_ci``, ``min_mean_sigma_noise`` and, when
    present, the latent measures of :func:`measure_latents`), ``pitch_neuron`` / ``rhythm_neuron``
    (``rank``, ``stability``, ``rank_shares``), ``melody_candidates``, ``pitch_score_by_rank``,
    ``attributes``, ``random_vs_real``, ``activation`` (``real`` / ``random`` medians and shares, and the
    measures of :func:`measure_counts`), ``ablation``, ``example`` (``decode_accuracy``), ``paper_model``.
    """
    out: dict[str, Any] = {}

    def take(src: Mapping[str, Any] | None, key: str, name: str | None = None) -> None:
        if src and src.get(key) is not None:
            out[name or key] = src[key]

    neurons = part.get("neurons") or {}
    for key in ("z_size", "n_music", "n_music_ci", "min_mean_sigma_noise", *measure_keys_latents()):
        take(neurons, key)
    take(part, "paper_model")
    take(part, "melody_candidates")
    take(part, "pitch_score_by_rank")
    take(part, "n_music_2bar")
    for role in ("pitch", "rhythm"):
        r = part.get(f"{role}_neuron") or {}
        take(r, "rank", f"{role}_rank")
        take(r, "stability", f"{role}_stability")
        take(r, "rank_shares", f"{role}_rank_shares")
    at = part.get("attributes")
    take(at, "n_features", "n_features_attributes")
    take(at, "n_attribute_vector_better")
    rv = part.get("random_vs_real")
    take(rv, "ks_pitch_neuron")
    take(rv, "ks_rhythm_neuron")
    act = part.get("activation") or {}
    for kind in ("real", "random"):
        take(act.get(kind), "median_music_active", f"median_music_active_{kind}")
        take(act.get(kind), "median_noise_active", f"median_noise_active_{kind}")
    take(act.get("random"), "share_over_100_noise_active", "share_over_100_noise_random")
    take(act, "random_noise_bimodality")
    take(act, "random_total_active_p95")
    ab = part.get("ablation")
    for key in ("accuracy_all_dims", "accuracy_music_dims", "k_music_dims"):
        take(ab, key)
    take(part.get("example"), "decode_accuracy", "twinkle_decode_accuracy")
    return out


def measure_keys_latents() -> tuple[str, ...]:
    """The keys :func:`measure_latents` can return."""
    return ("noise_mu_p05", "noise_mu_p95", "max_abs_corr_music", "n_strong_pairs_music")


def summary_additions(
    *,
    mu: Any,
    sigma: Any,
    sources: Any,
    threshold: float,
    features: Mapping[str, Any] | None = None,
    groups: Mapping[str, Any] | None = None,
    n_neurons: int = 64,
    counts: Mapping[str, Any] | None = None,
    example: Mapping[str, Any] | None = None,
    n_resamples: int = 200,
    rng: Any,
) -> dict[str, Any]:
    """Every number the paper comparison and the warnings need beyond the study's tables, JSON-ready.

    Parameters
    ----------
    mu, sigma : arrays, shape (n_windows, z_size)
    sources : array, shape (n_windows,)
        Source file of each window (the bootstrap's unit).
    threshold : float
        The headline mean-sigma threshold.
    features, groups : mappings, optional
        Feature name -> values, and role (``pitch_neuron``, ``rhythm_neuron``) -> its feature names.
    n_neurons : int
        The roles are looked for among this many most specific neurons (the study's phi_K table).
    counts : mapping, optional
        ``music_real``, ``noise_real`` and optionally ``music_random``, ``noise_random`` (per-window counts).
    example : mapping, optional
        ``window`` and ``decoded_mu`` (Twinkle and its greedy decode of mu).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``{"neurons": {...}, "pitch_neuron": {...}, "rhythm_neuron": {...}, "activation": {...},
        "example": {...}, "bootstrap": {...}}``: keys to merge into a ``summary.json`` part.
    """
    import numpy as np

    from musicneurons.analysis.neurons import n_music_gap, threshold_sensitivity
    from musicneurons.analysis.uncertainty import bootstrap_sources

    sig = np.asarray(sigma, dtype=np.float64)
    mean_sigma = sig.mean(axis=0)
    is_music = mean_sigma < threshold
    gap = n_music_gap(sig)
    mixture = n_music_gap(sig, method="two-component mixture")
    boot = bootstrap_sources(
        sources,
        sig,
        threshold=threshold,
        mu=mu,
        features=features,
        groups=groups,
        n_neurons=n_neurons,
        n_resamples=n_resamples,
        rng=rng,
    )
    neurons: dict[str, Any] = {
        "n_music_ci": list(boot.n_music_ci),
        "n_music_gap": {
            "n_music": gap.n_music,
            "method": gap.method,
            "threshold": gap.threshold,
            "gap": gap.gap,
        },
        "n_music_mixture": {
            "n_music": mixture.n_music,
            "method": mixture.method,
            "threshold": mixture.threshold,
        },
        "threshold_sensitivity": {f"{t:g}": c for t, c in threshold_sensitivity(sig).items()},
        **measure_latents(mu, is_music),
    }
    out: dict[str, Any] = {
        "neurons": neurons,
        "bootstrap": {"n_resamples": boot.n_resamples, "n_sources": boot.n_sources, "level": boot.level},
    }
    for role, r in boot.roles.items():
        out[role] = {
            "bootstrap_rank": r.rank,
            "stability": r.stability,
            "rank_shares": {str(k): v for k, v in sorted(r.shares.items(), key=lambda kv: -kv[1])},
            "score_ci": list(r.score_ci),
            "top_phik_ci": list(r.top_phik_ci),
            "is_tie": r.is_tie,
        }
    if counts:
        fig11 = measure_counts(
            counts["music_real"], counts["noise_real"], counts.get("music_random"), counts.get("noise_random")
        )
        new = ("random_noise_bimodality", "random_total_active_p95")  # the medians are in the summary already
        out["activation"] = {k: fig11[k] for k in new if k in fig11}
    if example:
        window, decoded = np.asarray(example["window"]), np.asarray(example["decoded_mu"])
        out["example"] = {"decode_accuracy": float(np.mean(window == decoded))}
    return out


def merge_into(part: dict[str, Any], additions: Mapping[str, Any]) -> dict[str, Any]:
    """Merge :func:`summary_additions` into a summary part in place (nested dicts merged key by key)."""
    for key, value in additions.items():
        if isinstance(value, Mapping) and isinstance(part.get(key), dict):
            merge_into(part[key], value)
        else:
            part[key] = value
    return part

"""Sentences about a figure computed from the numbers it draws, so a caption cannot claim what the data lack.

Each function takes the arrays a figure plots (or the few numbers derived from them) and returns one
sentence. Where the paper made a claim about the same figure, the sentence names the paper's value and
says whether this run agrees, by the same rules as :mod:`musicneurons.analysis.paper`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from musicneurons.analysis import paper
from musicneurons.analysis.paper import signed


def percentile_range(values: object, name: str, *, low: float = 5, high: float = 95, digits: int = 2) -> str:
    """``"noise-neuron μ: 5th–95th percentile −0.19…0.21"`` over every finite value of ``values``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return f"{name}: no values"
    lo, hi = np.percentile(v, [low, high])
    span = f"{signed(float(lo), digits)}…{signed(float(hi), digits)}"
    return f"{name}: {_ordinal(low)}–{_ordinal(high)} percentile {span}"


def _ordinal(p: float) -> str:
    n = int(p) if float(p).is_integer() else p
    suffix = "th"
    if isinstance(n, int) and n % 100 not in (11, 12, 13):
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def noise_mu_caption(mu_noise: object) -> str:
    """Fig. 4 (lower): how far the noise neurons' μ stray from 0, next to the paper's "very close to 0"."""
    v = np.asarray(mu_noise, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "No noise neurons at this split."
    lo, hi = np.percentile(v, [5, 95])
    near = max(abs(lo), abs(hi)) <= paper.MU_NEAR_ZERO
    verdict = "agrees" if near else "differs"
    return (
        f"{percentile_range(v, 'Noise-neuron μ')} over every window; the paper finds μ very close to 0 for "
        f"every melody; judged by |μ| ≤ {paper.MU_NEAR_ZERO:g} for the middle 90% of the values, this run "
        f"{verdict}."
    )


def correlation_caption(corr: object, n_music: int) -> str:
    """Fig. 5: largest and median |r| between distinct music neurons (the first ``n_music`` of ``corr``)."""
    full = np.asarray(corr, dtype=np.float64)
    shown = min(n_music, full.shape[0])  # the matrix may cover fewer dimensions than there are music neurons
    c = full[:shown, :shown]
    if shown < 2:
        return "Fewer than two music neurons: no correlation between them to show."
    off = np.abs(c[~np.eye(shown, dtype=bool)])
    off = off[np.isfinite(off)]
    if off.size == 0:
        return "The music neurons' correlations are undefined (constant μ)."
    top, median = float(off.max()), float(np.median(off))
    strong = int((off >= paper.STRONG_R).sum() // 2)
    verdict = "agrees" if top < paper.STRONG_R else "differs"
    among = (
        "music neurons"
        if shown == n_music
        else f"neurons among the first {shown} of the {n_music} music neurons"
    )
    return (
        f"Between distinct {among} |r| reaches {top:.2f} (median {median:.2f}; {strong} "
        f"{'pair' if strong == 1 else 'pairs'} at "
        f"|r| ≥ {paper.STRONG_R:g}); the paper calls its 37 music neurons quite uncorrelated, and this run "
        f"{verdict}."
    )


def activation_caption(noise_real: object, noise_random: object | None = None) -> str:
    """Fig. 11: median noise neurons excited by real music (and random sequences), against the paper's 100."""
    real = np.asarray(noise_real, dtype=np.float64)
    text = f"Real music excites a median of {np.median(real):.0f} noise neurons"
    rnd = None if noise_random is None else np.asarray(noise_random, dtype=np.float64)
    if rnd is not None and rnd.size:
        text += f", random note sequences {np.median(rnd):.0f} ({np.mean(rnd > 100):.0%} of them over 100)"
    verdict = "agrees" if np.median(real) < 100 else "differs"
    return text + f"; the paper finds fewer than 100 for real music, and this run {verdict}."


def decode_caption(original: object, decoded: object, *, what: str = "Decoding μ") -> str:
    """Figs. 2-3: how much of a melody a decode gives back, and whether it collapsed to one note.

    ``original`` and ``decoded`` are 90-class windows (class 0 = hold, 1 = rest, >= 2 = a note onset).
    """
    a = np.asarray(original).ravel()
    b = np.asarray(decoded).ravel()
    if a.shape != b.shape:
        msg = f"original has {a.size} steps but decoded has {b.size}"
        raise ValueError(msg)
    same = int((a == b).sum())
    text = f"{what} gives back {same} of {a.size} steps"
    onsets = b[b >= 2]
    if same == a.size:
        return text + " (the melody itself)."
    if onsets.size == 0:
        return text + "; the decode plays no note."
    if np.unique(onsets).size == 1 and np.unique(a[a >= 2]).size > 1:
        return text + f"; the decode repeats one pitch ({onsets.size} onsets), the melody has several."
    return text + "."


def paper_row_sentence(row: Mapping[str, Any]) -> str:
    """One row of :func:`musicneurons.analysis.paper.compare_with_paper` as a sentence."""
    return (
        f"Paper ({row['where']}): {row['claim']}: {row['paper']}. This run: {row['this_run']} — "
        f"{row['verdict']}."
    )


def roles_caption(
    role: str,
    rank: int,
    stability: float | None,
    top_feature: str,
    top_phik: float,
    ci: Sequence[float] | None,
) -> str:
    """The pitch or rhythm neuron, how sure the bootstrap is, and its strongest φ_K with its interval."""
    text = f"The {role} neuron is neuron {rank} (strongest: {top_feature}, φ_K {top_phik:.2f}"
    if ci is not None:
        text += f", 95% CI {ci[0]:.2f}–{ci[1]:.2f}"
    text += ")"
    if stability is not None:
        if stability < paper.STABLE:
            text += f"; it wins in only {stability:.0%} of bootstrap resamples over source files: a tie"
        else:
            text += f"; it wins in {stability:.0%} of bootstrap resamples over source files"
    return text + "."


def split_caption(
    n_music: int,
    threshold: float,
    *,
    gap_n: int | None = None,
    gap_method: str = "largest gap",
    sensitivity: Mapping[float, int] | None = None,
) -> str:
    """Fig. 4's cut line and the headline split: which split is used, and how much it moves."""
    text = f"The cut marks the {n_music} dimensions with mean σ below {threshold:g} (the headline split)"
    if gap_n is not None:
        same = " (the same)" if gap_n == n_music else ""
        text += f"; the threshold-free split ({gap_method} of the sorted mean σ) gives {gap_n}{same}"
    if sensitivity:
        pairs = ", ".join(f"{int(c)} at {float(t):g}" for t, c in sensitivity.items())
        text += f"; by threshold: {pairs}"
    return text + "."

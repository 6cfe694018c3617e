"""The paper's quantitative claims as data, and a side-by-side verdict for one study run.

:data:`CLAIMS` lists every number or checkable statement in *Exploring how a Generative AI interprets music*
(Barenboim, Del Debbio, Hirn, Sanz; the text in ``../shared/paper/``), one row each: an id, the window
length it is about, the claim in words, the paper's value and where the paper says it. Each row names a
check: a small function of the run's measured numbers that returns ``(this_run, verdict, note)``.

:func:`compare_with_paper` takes one part's measured numbers as a plain mapping (keys in :data:`MEASURES`;
a missing or None value makes the row ``not comparable``) and returns rows
``{id, claim, where, paper, this_run, verdict, note}`` with ``verdict`` one of ``agrees``, ``differs``,
``not comparable``. The tolerances are named constants below and quoted in each note, so a reader can
disagree with them.

The paper contradicts itself on the roles of the first two 2-bar neurons: the caption of Fig. 7 says
neuron 1 tracks rhythm and neuron 2 pitch; §4 (text after Fig. 7, Figs. 8-9) and the conclusion say
neuron 1 is pitch and neuron 2 rhythm. Both readings are rows, and each note says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

AGREES, DIFFERS, NOT_COMPARABLE = "agrees", "differs", "not comparable"
VERDICTS = (AGREES, DIFFERS, NOT_COMPARABLE)

COUNT_TOLERANCE = 0.15  # a count agrees when within 15 % of the paper's (or the paper's lies in the run's CI)
MU_NEAR_ZERO = 0.1  # "mu ~ 0": the paper's own excitation threshold (Fig. 11)
SIGMA_NEAR_ONE = 0.9  # "sigma ~ 1": the smallest mean sigma a noise neuron may have
STRONG_R = 0.5  # |Pearson r| from which two music neurons are "correlated" (Cohen's "large")
WEAK_PHIK = 0.3  # phi_K below which a neuron "is not correlated" with a feature group
KS_DIFFERENT = 0.3  # KS distance from which real and random distributions "differ"
STABLE = 0.8  # bootstrap share below which a neuron's role is a tie
ACCURACY_DROP = 0.01  # "minimal impact" on reconstruction accuracy: at most 1 point
SEVERAL_HUNDRED = 200  # "several hundred latents"
PAPER_INCONSISTENCY = (
    "The paper is inconsistent here: the Fig. 7 caption says neuron 1 = rhythm and neuron 2 = pitch; "
    "§4 (text and Figs. 8-9) and the conclusion say neuron 1 = pitch and neuron 2 = rhythm."
)

#: The measured numbers a part can provide (all optional; None or absent = not measured).
MEASURES: dict[str, str] = {
    "z_size": "latent dimensions of the model",
    "paper_model": "True for one of the paper's models (Magenta's cat-mel_2bar_big, hierdec-mel_16bar)",
    "n_music": "music neurons at the headline split",
    "n_music_ci": "(low, high) bootstrap interval of n_music",
    "n_music_2bar": "music neurons of the 2-bar part of the same study (16-bar rows only)",
    "noise_mu_p05": "5th percentile of mu over every window and noise neuron",
    "noise_mu_p95": "95th percentile of mu over every window and noise neuron",
    "min_mean_sigma_noise": "smallest mean sigma of a noise neuron",
    "max_abs_corr_music": "largest |Pearson r| of mu between two distinct music neurons",
    "n_strong_pairs_music": "pairs of music neurons with |r| >= STRONG_R",
    "pitch_rank": "specificity rank of the pitch neuron (best pitch score)",
    "pitch_stability": "bootstrap share of resamples in which pitch_rank wins",
    "pitch_rank_shares": "{rank: share of resamples it wins} for pitch",
    "rhythm_rank": "specificity rank of the rhythm neuron",
    "rhythm_stability": "bootstrap share of resamples in which rhythm_rank wins",
    "rhythm_rank_shares": "{rank: share of resamples it wins} for rhythm",
    "pitch_score_by_rank": "{rank: pitch score (mean of the top phi_K with pitch features)}",
    "melody_candidates": "ranks of music neurons whose melody score beats their pitch and rhythm scores",
    "n_features_attributes": "features compared in the attribute-vector test",
    "n_attribute_vector_better": "features for which the attribute vector beats the best single neuron",
    "ks_pitch_neuron": "KS distance of the pitch neuron's mu, real vs random",
    "ks_rhythm_neuron": "KS distance of the rhythm neuron's mu, real vs random",
    "median_music_active_real": "median number of music neurons with |mu| > 0.1, real windows",
    "median_music_active_random": "same, random note sequences",
    "median_noise_active_real": "median number of noise neurons with |mu| > 0.1, real windows",
    "median_noise_active_random": "same, random note sequences",
    "share_over_100_noise_random": "share of random sequences exciting over 100 noise neurons",
    "random_noise_bimodality": "Sarle's bimodality coefficient of the random noise counts (> 5/9: two modes)",
    "random_total_active_p95": "95th percentile of all neurons with |mu| > 0.1, random sequences",
    "twinkle_decode_accuracy": "share of steps of Twinkle's greedy decode of mu equal to Twinkle",
    "accuracy_all_dims": "reconstruction accuracy with every latent dimension",
    "accuracy_music_dims": "reconstruction accuracy keeping only the music neurons' mu",
    "k_music_dims": "dimensions kept for accuracy_music_dims",
}


@dataclasses.dataclass(frozen=True)
class Claim:
    """One quantitative claim of the paper."""

    id: str
    bars: int  # 2 or 16: the part it is about
    claim: str
    paper: str  # the paper's value, as the paper puts it
    where: str  # section / figure
    check: Callable[[Mapping[str, Any]], tuple[str, str, str]]  # measured -> (this_run, verdict, note)


class _Missing(Exception):
    """A measured number a check needs is absent."""


def _get(m: Mapping[str, Any], key: str) -> Any:
    value = m.get(key)
    if value is None:
        raise _Missing(key)
    return value


def _within(value: float, target: float, ci: Sequence[float] | None = None) -> bool:
    if ci is not None and ci[0] <= target <= ci[1]:
        return True
    return abs(value - target) <= COUNT_TOLERANCE * target


def signed(value: float, digits: int = 2) -> str:
    """A number with a true minus sign (U+2212), e.g. ``-0.19`` -> ``"−0.19"``; ``-0.00`` reads ``0.00``."""
    text = f"{value:.{digits}f}"
    if text.startswith("-"):
        text = "−" + text[1:]
    if text.lstrip("−").strip("0.") == "":
        text = text.lstrip("−")
    return text


def _ci_text(ci: Sequence[float] | None) -> str:
    return "" if ci is None else f" (95% CI {ci[0]:g}–{ci[1]:g})"


# ------------------------------------------------------------------------------------------- checks
def _count_check(target: int, key: str = "n_music") -> Callable[[Mapping[str, Any]], tuple[str, str, str]]:
    def check(m: Mapping[str, Any]) -> tuple[str, str, str]:
        n, ci = int(_get(m, key)), m.get("n_music_ci")
        verdict = AGREES if _within(n, target, ci) else DIFFERS
        note = f"agrees within {COUNT_TOLERANCE:.0%} of the paper's count or when it lies in the bootstrap CI"
        if m.get("paper_model") is False:
            note += "; a different model need not use the same number of dimensions"
        return f"{n}{_ci_text(ci)}", verdict, note

    return check


def _n_noise(m: Mapping[str, Any]) -> tuple[str, str, str]:
    z, n = int(_get(m, "z_size")), int(_get(m, "n_music"))
    text = f"{z - n} of {z}"
    if z != 512:
        return text, NOT_COMPARABLE, f"the model has {z} latent dimensions, the paper's 512"
    verdict = AGREES if _within(n, 37, m.get("n_music_ci")) else DIFFERS
    return text, verdict, "the complement of the music neurons: agrees when the music-neuron count does"


def _noise_prior(m: Mapping[str, Any]) -> tuple[str, str, str]:
    lo, hi = float(_get(m, "noise_mu_p05")), float(_get(m, "noise_mu_p95"))
    sig = float(_get(m, "min_mean_sigma_noise"))
    ok = max(abs(lo), abs(hi)) <= MU_NEAR_ZERO and sig >= SIGMA_NEAR_ONE
    text = f"noise μ 5th–95th percentile {signed(lo)}…{signed(hi)}; smallest noise mean σ {sig:.2f}"
    note = (
        f"agrees when the 5th–95th percentile of noise μ lies within ±{MU_NEAR_ZERO:g} (the paper's own "
        f"excitation threshold) and every noise neuron has mean σ ≥ {SIGMA_NEAR_ONE:g}"
    )
    return text, AGREES if ok else DIFFERS, note


def _uncorrelated(m: Mapping[str, Any]) -> tuple[str, str, str]:
    r = float(_get(m, "max_abs_corr_music"))
    pairs = m.get("n_strong_pairs_music")
    text = f"max |r| {r:.2f}" + ("" if pairs is None else f"; {int(pairs)} pairs with |r| ≥ {STRONG_R:g}")
    return (
        text,
        AGREES if r < STRONG_R else DIFFERS,
        f"agrees when no two music neurons have |r| ≥ {STRONG_R:g}",
    )


def _role_check(
    role: str, target: int, extra: str = ""
) -> Callable[[Mapping[str, Any]], tuple[str, str, str]]:
    def check(m: Mapping[str, Any]) -> tuple[str, str, str]:
        rank = int(_get(m, f"{role}_rank"))
        stability, shares = m.get(f"{role}_stability"), m.get(f"{role}_rank_shares") or {}
        text = f"neuron {rank}" + ("" if stability is None else f" (wins in {stability:.0%} of resamples)")
        verdict = AGREES if rank == target else DIFFERS
        note = extra
        if stability is not None and stability < STABLE:
            share = float({int(k): v for k, v in shares.items()}.get(target, 0.0))
            note = f"a tie: the winner changes between resamples (neuron {target} wins {share:.0%}). " + note
            if verdict == DIFFERS and share >= 1 - STABLE:
                verdict = NOT_COMPARABLE
        return text, verdict, note.strip()

    return check


def _fig7_caption(m: Mapping[str, Any]) -> tuple[str, str, str]:
    p, r = int(_get(m, "pitch_rank")), int(_get(m, "rhythm_rank"))
    verdict = AGREES if (p, r) == (2, 1) else DIFFERS
    return f"pitch neuron {p}, rhythm neuron {r}", verdict, PAPER_INCONSISTENCY


def _neuron2_not_pitch(m: Mapping[str, Any]) -> tuple[str, str, str]:
    scores = {int(k): float(v) for k, v in _get(m, "pitch_score_by_rank").items()}
    if 2 not in scores:
        raise _Missing("pitch_score_by_rank[2]")
    s = scores[2]
    note = f"pitch score = mean of neuron 2's top φ_K with pitch features; agrees below {WEAK_PHIK:g}"
    return f"pitch score {s:.2f}", AGREES if s < WEAK_PHIK else DIFFERS, note


def _attributes(m: Mapping[str, Any]) -> tuple[str, str, str]:
    n, better = int(_get(m, "n_features_attributes")), int(_get(m, "n_attribute_vector_better"))
    text = f"attribute vector better for {better} of {n} features"
    return text, AGREES if better < n / 2 else DIFFERS, "agrees when single neurons win for most features"


def _random_pitch(m: Mapping[str, Any]) -> tuple[str, str, str]:
    ks = float(_get(m, "ks_pitch_neuron"))
    return f"KS {ks:.2f}", AGREES if ks >= KS_DIFFERENT else DIFFERS, f"agrees when KS ≥ {KS_DIFFERENT:g}"


def _random_rhythm(m: Mapping[str, Any]) -> tuple[str, str, str]:
    ks, ks_p = float(_get(m, "ks_rhythm_neuron")), float(_get(m, "ks_pitch_neuron"))
    ok = ks <= ks_p / 2
    note = "agrees when the rhythm neuron's KS distance is at most half the pitch neuron's"
    return f"KS {ks:.2f} (pitch neuron {ks_p:.2f})", AGREES if ok else DIFFERS, note


def _music_active(m: Mapping[str, Any]) -> tuple[str, str, str]:
    n = int(_get(m, "n_music"))
    real, rand = float(_get(m, "median_music_active_real")), float(_get(m, "median_music_active_random"))
    if n == 0:
        return "no music neurons", NOT_COMPARABLE, ""
    lo = 0.85 * n  # the paper's 34-35 of 37 is 92-95 %
    ok = real >= lo and rand >= lo and abs(real - rand) <= 0.1 * n
    text = f"medians {real:.0f} (real) and {rand:.0f} (random) of {n}"
    return (
        text,
        AGREES if ok else DIFFERS,
        "agrees when both medians are ≥ 85 % of the music neurons and close",
    )


def _real_noise(m: Mapping[str, Any]) -> tuple[str, str, str]:
    v = float(_get(m, "median_noise_active_real"))
    return f"median {v:.0f}", AGREES if v < 100 else DIFFERS, "median over real windows"


def _random_noise(m: Mapping[str, Any]) -> tuple[str, str, str]:
    share = float(_get(m, "share_over_100_noise_random"))
    bc = m.get("random_noise_bimodality")
    text = f"{share:.0%} over 100" + ("" if bc is None else f"; bimodality coefficient {bc:.2f}")
    ok = share > 0.5 and (bc is None or bc > 5 / 9)
    note = "agrees when most random sequences excite over 100 and the counts are bimodal (coefficient > 5/9)"
    if bc is None:
        note += "; bimodality not measured"
    return text, AGREES if ok else DIFFERS, note


def _random_total(m: Mapping[str, Any]) -> tuple[str, str, str]:
    v = float(_get(m, "random_total_active_p95"))
    return f"95th percentile {v:.0f}", AGREES if v <= 350 else DIFFERS, "agrees when 95 % excite ≤ 350"


def _no_melody_2bar(m: Mapping[str, Any]) -> tuple[str, str, str]:
    cands = list(_get(m, "melody_candidates"))
    text = ", ".join(map(str, cands)) if cands else "none"
    return text, AGREES if not cands else DIFFERS, "candidates: melody score above pitch and rhythm"


def _melody_late(m: Mapping[str, Any]) -> tuple[str, str, str]:
    cands = [int(c) for c in _get(m, "melody_candidates")]
    text = ", ".join(map(str, cands)) if cands else "none"
    ok = bool(cands) and min(cands) > 4
    return text, AGREES if ok else DIFFERS, "agrees when candidates exist and none is among neurons 1-4"


def _melody_ids(m: Mapping[str, Any]) -> tuple[str, str, str]:
    paper = {23, 30, 43, 62, 68, 72}
    cands = {int(c) for c in _get(m, "melody_candidates")}
    both = sorted(cands & paper)
    text = f"{len(both)} of the paper's 6 among this run's {len(cands)}" + (f" ({both})" if both else "")
    if m.get("paper_model") is not True:
        return text, NOT_COMPARABLE, "neuron numbers are comparable only for the paper's own model"
    return text, AGREES if len(both) >= 3 else DIFFERS, "agrees when at least half of the paper's are found"


def _double(m: Mapping[str, Any]) -> tuple[str, str, str]:
    n16, n2 = int(_get(m, "n_music")), int(_get(m, "n_music_2bar"))
    if n2 == 0:
        return f"{n16} vs 0", NOT_COMPARABLE, "the 2-bar part has no music neurons"
    ratio = n16 / n2
    ok = 1.5 <= ratio <= 2.5
    return f"{n16} vs {n2} (× {ratio:.1f})", AGREES if ok else DIFFERS, "agrees for a ratio of 1.5 to 2.5"


def _best_in(role: str, ranks: tuple[int, ...]) -> Callable[[Mapping[str, Any]], tuple[str, str, str]]:
    def check(m: Mapping[str, Any]) -> tuple[str, str, str]:
        rank = int(_get(m, f"{role}_rank"))
        stability, shares = m.get(f"{role}_stability"), m.get(f"{role}_rank_shares") or {}
        text = f"neuron {rank}" + ("" if stability is None else f" (wins in {stability:.0%} of resamples)")
        verdict, note = (AGREES if rank in ranks else DIFFERS), ""
        if stability is not None and stability < STABLE:
            share = sum(float(v) for k, v in shares.items() if int(k) in ranks)
            note = f"a tie: the winner changes between resamples (neurons {ranks} win {share:.0%})"
            if verdict == DIFFERS and share >= 1 - STABLE:
                verdict = NOT_COMPARABLE
        return text, verdict, note

    return check


def _ablation(m: Mapping[str, Any]) -> tuple[str, str, str]:
    full, kept = float(_get(m, "accuracy_all_dims")), float(_get(m, "accuracy_music_dims"))
    k, z = int(_get(m, "k_music_dims")), int(_get(m, "z_size"))
    text = f"accuracy {kept:.3f} keeping {k} dims vs {full:.3f} with all {z}"
    ok = full - kept <= ACCURACY_DROP and z - k >= SEVERAL_HUNDRED
    note = (
        f"agrees when ≥ {SEVERAL_HUNDRED} dims are zeroed and accuracy drops ≤ {ACCURACY_DROP:g}; "
        "teacher-forced accuracy on a subset of windows"
    )
    return text, AGREES if ok else DIFFERS, note


def _twinkle(m: Mapping[str, Any]) -> tuple[str, str, str]:
    acc = float(_get(m, "twinkle_decode_accuracy"))
    return f"{acc:.0%} of steps equal", AGREES if acc == 1.0 else DIFFERS, "greedy decode of μ"


# fmt: off
_P, _R = PAPER_INCONSISTENCY, PAPER_INCONSISTENCY
CLAIMS: tuple[Claim, ...] = tuple(Claim(*row) for row in (
    # id, bars, claim, the paper's value, where, check
    ("n_music", 2, "music neurons (mean σ clearly below 1)", "37", "§3, Fig. 4", _count_check(37)),
    ("n_noise", 2, "noise neurons: σ ≈ 1, μ ≈ 0", "475 of 512", "§2, Fig. 3", _n_noise),
    ("noise_mu_zero", 2, "noise neurons' μ very close to 0 for every melody", "μ ≈ 0", "§3, Fig. 4",
     _noise_prior),
    ("music_uncorrelated", 2, "the music neurons are quite uncorrelated", "quite uncorrelated", "§3, Fig. 5",
     _uncorrelated),
    ("pitch_neuron", 2, "the pitch neuron", "neuron 1", "§4, §7", _role_check("pitch", 1, _P)),
    ("rhythm_neuron", 2, "the rhythm neuron", "neuron 2", "§4, Fig. 8, §7", _role_check("rhythm", 2, _R)),
    ("fig7_caption", 2, "Fig. 7 caption: neuron 1 = rhythm, neuron 2 = pitch", "rhythm 1, pitch 2",
     "Fig. 7 caption", _fig7_caption),
    ("neuron2_not_pitch", 2, "neuron 2 is not correlated with pitch features", "not correlated",
     "§4, Fig. 9", _neuron2_not_pitch),
    ("attributes_weaker", 2, "attribute vectors correlate less with features than single neurons",
     "single neurons better", "§4, footnote 5", _attributes),
    ("random_pitch", 2, "random notes differ from music in the pitch neuron", "differ", "§5.2, Fig. 10",
     _random_pitch),
    ("random_rhythm", 2, "random notes differ little from music in the rhythm neuron", "little difference",
     "§5.2, Fig. 10", _random_rhythm),
    ("music_active", 2, "music neurons excited (|μ| > 0.1), real and random alike", "~34–35 of 37",
     "§5.3, Fig. 11", _music_active),
    ("real_noise_active", 2, "real music excites fewer than 100 noise neurons", "< 100", "§5.3, Fig. 11",
     _real_noise),
    ("random_noise_active", 2, "random sequences: bimodal, most excite over 100 noise neurons",
     "bimodal, most > 100", "§5.3, Fig. 11", _random_noise),
    ("random_total_active", 2, "random note sequences excite 350 or fewer neurons in all", "≤ 350", "§7",
     _random_total),
    ("no_melody_2bar", 2, "no neuron carries melody independently of rhythm", "none", "§6", _no_melody_2bar),
    ("twinkle_decode", 2, "decoding Twinkle's μ gives the original melody back", "identical", "§2, Fig. 2",
     _twinkle),
    ("ablation", 2, "several hundred latents can be zeroed with minimal impact on accuracy",
     "minimal impact", "journal version", _ablation),
    ("n_music", 16, "music neurons", "77", "§6.1, Fig. 12", _count_check(77)),
    ("double", 16, "about double the 2-bar count", "≈ 2 × (77 vs 37)", "§6.1", _double),
    ("pitch_neurons", 16, "pitch is carried by neurons 1 and 2", "neurons 1–2", "§6.1, §7",
     _best_in("pitch", (1, 2))),
    ("rhythm_neurons", 16, "rhythm is carried by neurons 3 and 4", "neurons 3–4", "§6.1, §7",
     _best_in("rhythm", (3, 4))),
    ("melody_late", 16, "melody neurons appear only far down the list", "much lower down", "§6.1, §7",
     _melody_late),
    ("melody_ids", 16, "melody candidates", "23, 30, 43, 62, 68, 72", "§6.1", _melody_ids),
    ("ablation", 16, "several hundred latents can be zeroed with minimal impact on accuracy",
     "minimal impact", "journal version", _ablation),
))
# fmt: on


def claims_for(bars: int) -> tuple[Claim, ...]:
    """The claims about one window length (2 or 16 bars; any other length gets none)."""
    return tuple(c for c in CLAIMS if c.bars == bars)


def compare_with_paper(measured: Mapping[str, Any], bars: int) -> list[dict[str, str]]:
    """Each of the paper's claims about ``bars``-bar windows next to this run's measured numbers.

    Parameters
    ----------
    measured : mapping
        The run's numbers, keys as in :data:`MEASURES`; absent or None values make a row not comparable.
    bars : int
        2 or 16.

    Returns
    -------
    list of dict
        One row per claim: ``id`` (``"2bar.n_music"``), ``claim``, ``where``, ``paper``, ``this_run``,
        ``verdict`` (one of :data:`VERDICTS`) and ``note``.
    """
    rows = []
    for c in claims_for(bars):
        try:
            this_run, verdict, note = c.check(measured)
        except _Missing as missing:
            this_run, verdict, note = "not measured", NOT_COMPARABLE, f"needs {missing.args[0]}"
        rows.append(
            {
                "id": f"{bars}bar.{c.id}",
                "claim": c.claim,
                "where": c.where,
                "paper": c.paper,
                "this_run": this_run,
                "verdict": verdict,
                "note": note,
            }
        )
    return rows

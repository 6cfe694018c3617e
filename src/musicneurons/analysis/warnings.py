"""Warnings a study report must show, computed from the run's measured numbers.

:func:`study_warnings` takes one part's numbers as a plain mapping and returns a list of
``{"id": ..., "message": ...}`` (empty when nothing is worth a warning). Each rule is a small function in
:data:`RULES`; its limits are the named constants below, quoted in the message:

* ``few_windows``: fewer windows than :data:`MIN_WINDOWS_PHIK`; phi_K on 10 x 10 tables is biased upward
  with few windows, and the neuron roles rest on it;
* ``files_dropped``: files of the corpus that gave no window, with the most common reasons (from the
  extraction manifest's ``status`` and ``reason`` columns);
* ``near_hold_baseline``: free-running accuracy barely above copying the first step, then predicting "hold";
* ``mostly_music``: most latent dimensions classed as music neurons;
* ``unstable_split``: the music-neuron count moves a lot with the threshold;
* ``not_paper_model``: a model other than the paper's (the embedded defaults are named and described).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

MIN_WINDOWS_PHIK = 2000  # below this, phi_K (10 x 10 bins) and the roles built on it are shaky
MIN_GAIN_OVER_HOLD = 0.25  # free-running accuracy should fix at least this share of always-hold's errors
MOSTLY_MUSIC = 0.5  # warn when more than this share of the dimensions are music neurons
UNSTABLE_RATIO = 2.0  # warn when the largest count over the thresholds is at least this times the smallest

#: The paper's models (Magenta's releases), by architecture; ``model.musicvae.MAGENTA_CONFIGS`` has the same.
PAPER_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "cat-mel_2bar_big": {
        "z_size": 512,
        "enc_rnn_size": [2048],
        "dec_rnn_size": [2048] * 3,
        "max_seq_len": 32,
    },
    "hierdec-mel_16bar": {
        "z_size": 512,
        "enc_rnn_size": [2048, 2048],
        "dec_rnn_size": [1024, 1024],
        "max_seq_len": 256,
        "level_lengths": [16, 16],
    },
}

#: The embedded default models: one sentence each, and where their model card is.
EMBEDDED_MODELS: dict[str, tuple[str, str]] = {
    "default-2bar": (
        (
            "a small MusicVAE (encoder BiLSTM 128, decoder LSTM 128 x 2, z = 512) trained in four "
            "stages (3.2 hours of one CPU thread) on 44,230 two-bar windows of public-domain folk "
            "tunes from music21's corpus, not Magenta's cat-mel_2bar_big (BiLSTM 2048, decoder LSTM "
            "2048 x 3, trained on about 1.5 million MIDI files)"
        ),
        "musicneurons/assets/models/default-2bar/model_card.md",
    ),
    "default-16bar": (
        (
            "a small hierarchical MusicVAE (encoder BiLSTM 128, conductor and decoder LSTM 128 x 2, "
            "z = 512) trained in six stages (3.0 hours of one CPU thread) on 4,945 sixteen-bar "
            "windows of public-domain folk tunes from music21's corpus, not Magenta's hierdec-mel_16bar"
        ),
        "musicneurons/assets/models/default-16bar/model_card.md",
    ),
}


def paper_architecture(config: Mapping[str, Any] | None) -> str | None:
    """The name of the paper's model whose architecture ``config`` (a model config dict) has, else None."""
    if not config:
        return None
    for name, arch in PAPER_ARCHITECTURES.items():
        if all(_same(config.get(k), v) for k, v in arch.items()) and (
            "level_lengths" in arch or not config.get("level_lengths")
        ):
            return name
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


# ------------------------------------------------------------------------------------------- rules
def _few_windows(m: Mapping[str, Any]) -> str | None:
    n = m.get("n_windows")
    if n is None or n >= MIN_WINDOWS_PHIK:
        return None
    return (
        f"Only {n:,} windows (fewer than {MIN_WINDOWS_PHIK:,}): φ_K on 10 × 10 bins from so few windows, "
        "clustered in fewer pieces, is high by chance, so heatmaps look more correlated than they are and "
        "the pitch/rhythm roles are shaky."
    )


def _files_dropped(m: Mapping[str, Any]) -> str | None:
    manifest = m.get("manifest")
    if manifest is None:
        return None
    rows = _records(manifest)
    dropped = [r for r in rows if str(r.get("status", "ok")) != "ok"]
    if not dropped:
        return None
    reasons: dict[str, int] = {}
    for r in dropped:
        reason = str(r.get("reason") or r.get("status") or "unknown")
        reasons[reason] = reasons.get(reason, 0) + 1
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return (
        f"{len(dropped):,} of {len(rows):,} files gave no window ({len(dropped) / len(rows):.0%}); "
        "most common reasons: " + "; ".join(f"{reason} ({count:,})" for reason, count in top) + "."
    )


def _records(table: Any) -> list[Mapping[str, Any]]:
    """A DataFrame or a sequence of mappings -> list of row mappings."""
    if hasattr(table, "to_dict"):
        return list(table.to_dict(orient="records"))
    return list(table)


def _near_hold(m: Mapping[str, Any]) -> str | None:
    free, hold = m.get("free_running_accuracy"), m.get("hold_baseline_accuracy")
    if free is None or hold is None or hold >= 1:
        return None
    gain = (free - hold) / (1 - hold)
    if gain >= MIN_GAIN_OVER_HOLD:
        return None
    if free < hold:
        return (
            f"Free-running accuracy {free:.3f} is below the always-hold baseline {hold:.3f} (the first "
            "step copied, then “hold” at every step): the model's decodes say nothing about the melody."
        )
    return (
        f"Free-running accuracy {free:.3f} is close to the always-hold baseline {hold:.3f} (the first "
        f"step copied, then “hold” at every step): the model fixes {gain:.0%} of that baseline's errors "
        f"(warning below {MIN_GAIN_OVER_HOLD:.0%}), so its decodes say little about the melody."
    )


def _mostly_music(m: Mapping[str, Any]) -> str | None:
    n, z = m.get("n_music"), m.get("z_size")
    if n is None or not z or n <= MOSTLY_MUSIC * z:
        return None
    return (
        f"{n} of {z} dimensions are classed as music neurons: the split finds no small set of used "
        "dimensions (the paper's are 37 and 77 of 512)."
    )


def _unstable_split(m: Mapping[str, Any]) -> str | None:
    counts = m.get("threshold_sensitivity")
    if not counts:
        return None
    values = [int(v) for v in counts.values()]
    low, high = min(values), max(values)
    if high < UNSTABLE_RATIO * max(low, 1):
        return None
    pairs = ", ".join(f"{float(t):g}: {int(c)}" for t, c in counts.items())
    return (
        f"The music-neuron count moves a lot with the σ threshold ({pairs}): there is no clean gap, so any "
        "single count depends on the threshold chosen."
    )


def _not_paper_model(m: Mapping[str, Any]) -> str | None:
    name = str(m.get("model") or "")
    for key, (text, card) in EMBEDDED_MODELS.items():
        if name == key or name.endswith(f"/{key}"):
            return f"The model is the embedded {key}: {text}. Model card: {card} (in the installed package)."
    if m.get("paper_model") or paper_architecture(m.get("model_config")):
        return None
    return (
        f"The model ({name or 'unnamed'}) does not have the architecture of the paper's models "
        f"({', '.join(PAPER_ARCHITECTURES)}): neuron counts and numbers need not match the paper's."
    )


Rule = Callable[[Mapping[str, Any]], "str | None"]
RULES: tuple[tuple[str, Rule], ...] = (
    ("not_paper_model", _not_paper_model),
    ("few_windows", _few_windows),
    ("files_dropped", _files_dropped),
    ("near_hold_baseline", _near_hold),
    ("mostly_music", _mostly_music),
    ("unstable_split", _unstable_split),
)


def study_warnings(
    measured: Mapping[str, Any], rules: Sequence[tuple[str, Rule]] = RULES
) -> list[dict[str, str]]:
    """The warnings for one part of a study, most important first.

    Parameters
    ----------
    measured : mapping
        Any of: ``n_windows``; ``manifest`` (the extraction manifest as a DataFrame or records with
        ``status`` and ``reason``); ``free_running_accuracy`` and ``hold_baseline_accuracy``; ``n_music``
        and ``z_size``; ``threshold_sensitivity`` ({threshold: count}); ``model`` (name or path),
        ``model_config`` (dict) and ``paper_model`` (bool). Absent keys switch their rule off.

    Returns
    -------
    list of dict
        ``{"id": rule id, "message": one or two sentences}``.
    """
    out = []
    for rule_id, rule in rules:
        message = rule(measured)
        if message:
            out.append({"id": rule_id, "message": message})
    return out


def always_hold_accuracy(windows: object) -> float:
    """Accuracy of a trivial decoder: the first step copied, then "hold" (class 0, no event) at every step.

    The baseline a free-running decode must beat to show that it uses z: a decoder that ignores z can still
    repeat the opening note and hold it.
    """
    import numpy as np

    from musicneurons.constants import NO_EVENT_CLASS

    w = np.atleast_2d(np.asarray(windows))
    if w.size == 0:
        msg = "no windows"
        raise ValueError(msg)
    hits = (w[:, 1:] == NO_EVENT_CLASS).sum() + w.shape[0]  # step 0 is copied, so always right
    return float(hits / w.size)

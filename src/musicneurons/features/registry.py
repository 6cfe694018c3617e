"""Music features of melody windows: music21's 50 scalar jSymbolic P/R/M features and extra descriptors.

Start with :func:`compute_features`: it turns a window array (``int8 (n_windows, n_steps)``, 90-class
indices) and tempi into a table with one row per window and one column per feature, named by music21's
feature id in upper case (``P1`` ... ``M19``), then the extra descriptors. Everything is vectorised over the
batch (see :mod:`musicneurons.features.notes`); the definitions live in ``pitch``,
``rhythm``, ``melody`` (one function per feature, named after it) and ``descriptors``; the table of
features is :mod:`musicneurons.features.catalog`.

Two conventions:

- ``"music21"`` (default) equals music21 10.5.1's extractors on the same notes (a flat ``Part`` with one
  ``MetronomeMark`` and a 4/4 ``TimeSignature``; one shared ``DataInstance``) within 1e-9, and is NaN exactly
  where music21 raises. :data:`NAN_REASONS` says why; :func:`count_nan_reasons` counts them.
- ``"jsymbolic"`` follows jSymbolic2's definitions where music21 deviates (0 instead of errors, sample
  standard deviations, ties to the lowest bin, Melodic Octaves = 12 semitones only, integer tempo).

:data:`FEATURES` is the crosswalk (our function <-> music21 id and class <-> jSymbolic2 code <-> group);
``docs/features.md`` prints it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicneurons.constants import DEFAULT_QPM
from musicneurons.features.catalog import FEATURES, FeatureSpec
from musicneurons.features.descriptors import EXTRA_FEATURES
from musicneurons.features.notes import note_batch

__all__ = [
    "CONVENTIONS",
    "EXTRA_NAMES",
    "FEATURES",
    "FEATURE_GROUPS",
    "FEATURE_NAMES",
    "MUSIC21_IDS",
    "NAN_REASONS",
    "FeatureSpec",
    "compute_features",
    "count_nan_reasons",
    "crosswalk",
]

CONVENTIONS = ("music21", "jsymbolic")


#: music21's own ``id`` attribute where it is not the upper-case column name.
MUSIC21_IDS = {"M10": "m10", "M17": "m17"}

#: Labels of the extra descriptors (see :mod:`musicneurons.features.descriptors` for the definitions).
EXTRA_NAMES = {
    "n_notes": "Number of Notes",
    "pitch_range": "Pitch Range",
    "n_pitch_classes": "Number of Pitch Classes",
    "scale_consistency": "Scale Consistency",
    "pitch_class_entropy": "Pitch Class Entropy",
    "empty_beat_rate": "Empty Beat Rate",
    "note_density_per_bar": "Notes per Bar",
    "syncopation_16th": "16th-Note Syncopation",
    "syncopation_8th": "8th-Note Syncopation",
    "c_diatonic": "C Diatonic",
}

#: Column -> group: "P" (pitch), "R" (rhythm), "M" (melody) or "extra", in column order.
FEATURE_GROUPS: dict[str, str] = {
    **{k: s.group for k, s in FEATURES.items()},
    **dict.fromkeys(EXTRA_NAMES, "extra"),
}

#: Column -> human-readable name, for figure labels.
FEATURE_NAMES: dict[str, str] = {**{k: s.name for k, s in FEATURES.items()}, **EXTRA_NAMES}

#: Why a column can be NaN: where music21 raises (``music21`` convention only) or an extra is undefined.
NAN_REASONS: dict[str, str] = {
    **dict.fromkeys(("P1", "P2", "P4", "P10", "P12", "P13", "P14", "P15"), "no notes"),
    **dict.fromkeys(("R17", "R18", "R19", "R20", "R21", "R36"), "no notes"),
    **dict.fromkeys(("R22", "R23", "R24", "R25"), "fewer than two notes"),
    **dict.fromkeys(
        ("M2", "M5", "M6", "M7", "M10", "M11", "M12", "M13", "M14", "M15"),
        "fewer than two notes (no melodic interval)",
    ),
    "M8": "no unison, 3rd, 5th, 7th, octave or 10th among the melodic intervals",
    "M17": "no rising or falling interval (fewer than two notes, or only repeated pitches)",
    **dict.fromkeys(
        (
            "pitch_range",
            "scale_consistency",
            "pitch_class_entropy",
            "syncopation_16th",
            "syncopation_8th",
            "c_diatonic",
        ),
        "no notes (extra descriptor undefined)",
    ),
}


def compute_features(
    windows: np.ndarray, qpm: float | np.ndarray = DEFAULT_QPM, convention: str = "music21"
) -> pd.DataFrame:
    """Compute every feature for every window.

    Parameters
    ----------
    windows : array_like, shape (n_windows, n_steps)
        Class indices (0 = NO_EVENT holds, 1 = NOTE_OFF, k >= 2 = MIDI pitch k + 19), 16 steps per 4/4 bar.
    qpm : float or array_like, shape (n_windows,)
        Tempo in quarter notes per minute; the rhythm features are in seconds at this tempo.
    convention : {"music21", "jsymbolic"}
        ``"music21"`` reproduces music21 10.5.1 (NaN where it raises); ``"jsymbolic"`` follows jSymbolic2.

    Returns
    -------
    pandas.DataFrame
        One row per window (a RangeIndex in window order) and the float64 columns of
        :data:`FEATURE_GROUPS`: ``P1`` ... ``M19`` (music21 ids in upper case), then the extra descriptors.

    Raises
    ------
    ValueError
        For an unknown convention, a window array that is not 2-D class indices in 0..89, or a tempo that is
        not finite and positive.
    """
    if convention not in CONVENTIONS:
        msg = f"convention must be one of {CONVENTIONS}, got {convention!r}"
        raise ValueError(msg)
    batch = note_batch(windows, qpm)
    columns = {fid: spec.function(batch, convention) for fid, spec in FEATURES.items()}
    columns.update({name: fn(batch) for name, fn in EXTRA_FEATURES.items()})
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()})


def count_nan_reasons(features: pd.DataFrame) -> pd.DataFrame:
    """Count the NaN values of each feature column with the reason music21 raises there.

    Returns a table with columns ``feature``, ``n_nan`` and ``reason``, one row per column that has NaN.
    """
    rows = []
    for column in features.columns:
        n_nan = int(features[column].isna().sum())
        if n_nan:
            rows.append({"feature": column, "n_nan": n_nan, "reason": NAN_REASONS.get(column, "")})
    return pd.DataFrame(rows, columns=["feature", "n_nan", "reason"])


def crosswalk() -> pd.DataFrame:
    """The feature crosswalk: column, our function, music21 id and class, jSymbolic2 code, group."""
    return pd.DataFrame(
        [
            {
                "column": fid,
                "function": spec.function.__name__,
                "name": spec.name,
                "music21_id": MUSIC21_IDS.get(fid, fid),
                "music21_class": spec.music21_class,
                "jsymbolic2": spec.jsymbolic2,
                "jsymbolic2_name": spec.jsymbolic2_name,
                "group": spec.group,
                "unit": spec.unit,
            }
            for fid, spec in FEATURES.items()
        ]
    )

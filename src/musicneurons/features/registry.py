"""Music features of melody windows: music21's 50 scalar jSymbolic P/R/M features and extra descriptors.

Start with :func:`compute_features`: it turns a window array (``int8 (n_windows, n_steps)``, 90-class
indices) and tempi into a table with one row per window and one column per feature, named by music21's
feature id in upper case (``P1`` ... ``M19``), then the extra descriptors. Everything is vectorised over the
batch (see :mod:`musicneurons.features.notes`); the definitions live in ``features_pitch``,
``features_rhythm``, ``features_melody`` (one function per feature, named after it) and ``features_extra``.

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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from musicneurons.features import melody as mel
from musicneurons.features import pitch as pit
from musicneurons.features import rhythm as rhy
from musicneurons.features.descriptors import EXTRA_FEATURES
from musicneurons.features.notes import NoteBatch, note_batch

CONVENTIONS = ("music21", "jsymbolic")


@dataclass(frozen=True)
class FeatureSpec:
    """One jSymbolic feature: where it comes from and the function that computes it.

    ``jsymbolic2`` is the code in jSymbolic 2.2 (DDMAL/jSymbolic2), empty where jSymbolic 2.2 has no such
    feature (music21's ids are jSymbolic 1 / McKay's thesis codes).
    """

    id: str
    name: str
    group: str
    music21_class: str
    jsymbolic2: str
    jsymbolic2_name: str
    unit: str
    function: Callable[[NoteBatch, str], np.ndarray]


def _spec(fid: str, name: str, cls: str, code: str, code_name: str, unit: str, fn: Callable) -> FeatureSpec:
    return FeatureSpec(fid, name, fid[0], cls + "Feature", code, code_name, unit, fn)


FEATURES: dict[str, FeatureSpec] = {
    s.id: s
    for s in (
        _spec(
            "P1",
            "Most Common Pitch Prevalence",
            "MostCommonPitchPrevalence",
            "P-18",
            "Prevalence of Most Common Pitch",
            "fraction",
            pit.most_common_pitch_prevalence,
        ),
        _spec(
            "P2",
            "Most Common Pitch Class Prevalence",
            "MostCommonPitchClassPrevalence",
            "P-19",
            "Prevalence of Most Common Pitch Class",
            "fraction",
            pit.most_common_pitch_class_prevalence,
        ),
        _spec(
            "P3",
            "Relative Strength of Top Pitches",
            "RelativeStrengthOfTopPitches",
            "P-20",
            "Relative Prevalence of Top Pitches",
            "ratio",
            pit.relative_strength_of_top_pitches,
        ),
        _spec(
            "P4",
            "Relative Strength of Top Pitch Classes",
            "RelativeStrengthOfTopPitchClasses",
            "P-21",
            "Relative Prevalence of Top Pitch Classes",
            "ratio",
            pit.relative_strength_of_top_pitch_classes,
        ),
        _spec(
            "P5",
            "Interval Between Strongest Pitches",
            "IntervalBetweenStrongestPitches",
            "P-22",
            "Interval Between Most Prevalent Pitches",
            "semitones",
            pit.interval_between_strongest_pitches,
        ),
        _spec(
            "P6",
            "Interval Between Strongest Pitch Classes",
            "IntervalBetweenStrongestPitchClasses",
            "P-23",
            "Interval Between Most Prevalent Pitch Classes",
            "semitones",
            pit.interval_between_strongest_pitch_classes,
        ),
        _spec(
            "P7",
            "Number of Common Pitches",
            "NumberOfCommonPitches",
            "P-6",
            "Number of Common Pitches",
            "count",
            pit.number_of_common_pitches,
        ),
        _spec("P8", "Pitch Variety", "PitchVariety", "P-4", "Number of Pitches", "count", pit.pitch_variety),
        _spec(
            "P9",
            "Pitch Class Variety",
            "PitchClassVariety",
            "P-5",
            "Number of Pitch Classes",
            "count",
            pit.pitch_class_variety,
        ),
        _spec("P10", "Range", "Range", "P-8", "Range", "semitones", pit.range_),
        _spec(
            "P11",
            "Most Common Pitch",
            "MostCommonPitch",
            "P-16",
            "Most Common Pitch",
            "MIDI pitch",
            pit.most_common_pitch,
        ),
        _spec(
            "P12",
            "Primary Register",
            "PrimaryRegister",
            "P-14",
            "Mean Pitch",
            "MIDI pitch",
            pit.primary_register,
        ),
        _spec(
            "P13",
            "Importance of Bass Register",
            "ImportanceOfBassRegister",
            "P-9",
            "Importance of Bass Register",
            "fraction",
            pit.importance_of_bass_register,
        ),
        _spec(
            "P14",
            "Importance of Middle Register",
            "ImportanceOfMiddleRegister",
            "P-10",
            "Importance of Middle Register",
            "fraction",
            pit.importance_of_middle_register,
        ),
        _spec(
            "P15",
            "Importance of High Register",
            "ImportanceOfHighRegister",
            "P-11",
            "Importance of High Register",
            "fraction",
            pit.importance_of_high_register,
        ),
        _spec(
            "P16",
            "Most Common Pitch Class",
            "MostCommonPitchClass",
            "P-17",
            "Most Common Pitch Class",
            "pitch class",
            pit.most_common_pitch_class,
        ),
        _spec("P22", "Quality", "Quality", "P-33", "Major or Minor", "0/1", pit.quality),
        _spec("R15", "Note Density", "NoteDensity", "RT-5", "Note Density", "notes/s", rhy.note_density),
        _spec(
            "R17",
            "Average Note Duration",
            "AverageNoteDuration",
            "RT-13",
            "Average Note Duration",
            "s",
            rhy.average_note_duration,
        ),
        _spec(
            "R18",
            "Variability of Note Duration",
            "VariabilityOfNoteDuration",
            "RT-14",
            "Variability of Note Durations",
            "s",
            rhy.variability_of_note_duration,
        ),
        _spec(
            "R19",
            "Maximum Note Duration",
            "MaximumNoteDuration",
            "RT-12",
            "Maximum Note Duration",
            "s",
            rhy.maximum_note_duration,
        ),
        _spec(
            "R20",
            "Minimum Note Duration",
            "MinimumNoteDuration",
            "RT-11",
            "Minimum Note Duration",
            "s",
            rhy.minimum_note_duration,
        ),
        _spec(
            "R21",
            "Staccato Incidence",
            "StaccatoIncidence",
            "RT-15",
            "Amount of Staccato",
            "fraction",
            rhy.staccato_incidence,
        ),
        _spec(
            "R22",
            "Average Time Between Attacks",
            "AverageTimeBetweenAttacks",
            "RT-7",
            "Average Time Between Attacks",
            "s",
            rhy.average_time_between_attacks,
        ),
        _spec(
            "R23",
            "Variability of Time Between Attacks",
            "VariabilityOfTimeBetweenAttacks",
            "RT-9",
            "Variability of Time Between Attacks",
            "s",
            rhy.variability_of_time_between_attacks,
        ),
        _spec(
            "R24",
            "Average Time Between Attacks For Each Voice",
            "AverageTimeBetweenAttacksForEachVoice",
            "RT-8",
            "Average Time Between Attacks for Each Voice",
            "s",
            rhy.average_time_between_attacks_for_each_voice,
        ),
        _spec(
            "R25",
            "Average Variability of Time Between Attacks For Each Voice",
            "AverageVariabilityOfTimeBetweenAttacksForEachVoice",
            "RT-10",
            "Average Variability of Time Between Attacks for Each Voice",
            "s",
            rhy.average_variability_of_time_between_attacks_for_each_voice,
        ),
        _spec(
            "R30",
            "Initial Tempo",
            "InitialTempo",
            "RT-1",
            "Initial Tempo",
            "quarter notes/min",
            rhy.initial_tempo,
        ),
        _spec(
            "R32",
            "Compound Or Simple Meter",
            "CompoundOrSimpleMeter",
            "R-3",
            "Compound Initial Meter",
            "0/1",
            rhy.compound_or_simple_meter,
        ),
        _spec("R33", "Triple Meter", "TripleMeter", "R-6", "Triple Initial Meter", "0/1", rhy.triple_meter),
        _spec("R34", "Quintuple Meter", "QuintupleMeter", "", "", "0/1", rhy.quintuple_meter),
        _spec("R35", "Changes of Meter", "ChangesOfMeter", "", "", "0/1", rhy.changes_of_meter),
        _spec("R36", "Duration", "Duration", "RT-4", "Duration in Seconds", "s", rhy.duration),
        _spec(
            "M2",
            "Average Melodic Interval",
            "AverageMelodicInterval",
            "M-3",
            "Mean Melodic Interval",
            "semitones",
            mel.average_melodic_interval,
        ),
        _spec(
            "M3",
            "Most Common Melodic Interval",
            "MostCommonMelodicInterval",
            "M-2",
            "Most Common Melodic Interval",
            "semitones",
            mel.most_common_melodic_interval,
        ),
        _spec(
            "M4",
            "Distance Between Most Common Melodic Intervals",
            "DistanceBetweenMostCommonMelodicIntervals",
            "M-5",
            "Distance Between Most Prevalent Melodic Intervals",
            "semitones",
            mel.distance_between_most_common_melodic_intervals,
        ),
        _spec(
            "M5",
            "Most Common Melodic Interval Prevalence",
            "MostCommonMelodicIntervalPrevalence",
            "M-6",
            "Prevalence of Most Common Melodic Interval",
            "fraction",
            mel.most_common_melodic_interval_prevalence,
        ),
        _spec(
            "M6",
            "Relative Strength of Most Common Intervals",
            "RelativeStrengthOfMostCommonIntervals",
            "M-7",
            "Relative Prevalence of Most Common Melodic Intervals",
            "ratio",
            mel.relative_strength_of_most_common_intervals,
        ),
        _spec(
            "M7",
            "Number of Common Melodic Intervals",
            "NumberOfCommonMelodicIntervals",
            "M-4",
            "Number of Common Melodic Intervals",
            "count",
            mel.number_of_common_melodic_intervals,
        ),
        _spec(
            "M8",
            "Amount of Arpeggiation",
            "AmountOfArpeggiation",
            "M-8",
            "Amount of Arpeggiation",
            "fraction",
            mel.amount_of_arpeggiation,
        ),
        _spec(
            "M9", "Repeated Notes", "RepeatedNotes", "M-9", "Repeated Notes", "fraction", mel.repeated_notes
        ),
        _spec(
            "M10",
            "Chromatic Motion",
            "ChromaticMotion",
            "M-10",
            "Chromatic Motion",
            "fraction",
            mel.chromatic_motion,
        ),
        _spec(
            "M11",
            "Stepwise Motion",
            "StepwiseMotion",
            "M-11",
            "Stepwise Motion",
            "fraction",
            mel.stepwise_motion,
        ),
        _spec(
            "M12", "Melodic Thirds", "MelodicThirds", "M-12", "Melodic Thirds", "fraction", mel.melodic_thirds
        ),
        _spec(
            "M13",
            "Melodic Fifths",
            "MelodicFifths",
            "M-15",
            "Melodic Perfect Fifths",
            "fraction",
            mel.melodic_fifths,
        ),
        _spec(
            "M14",
            "Melodic Tritones",
            "MelodicTritones",
            "M-14",
            "Melodic Tritones",
            "fraction",
            mel.melodic_tritones,
        ),
        _spec(
            "M15",
            "Melodic Octaves",
            "MelodicOctaves",
            "M-18",
            "Melodic Octaves",
            "fraction",
            mel.melodic_octaves,
        ),
        _spec(
            "M17",
            "Direction of Motion",
            "DirectionOfMotion",
            "M-22",
            "Direction of Melodic Motion",
            "fraction",
            mel.direction_of_motion,
        ),
        _spec(
            "M18",
            "Duration of Melodic Arcs",
            "DurationOfMelodicArcs",
            "M-23",
            "Average Length of Melodic Arcs",
            "intervals",
            mel.duration_of_melodic_arcs,
        ),
        _spec(
            "M19",
            "Size of Melodic Arcs",
            "SizeOfMelodicArcs",
            "M-24",
            "Average Interval Spanned by Melodic Arcs",
            "semitones",
            mel.size_of_melodic_arcs,
        ),
    )
}

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
    windows: np.ndarray, qpm: float | np.ndarray = 120.0, convention: str = "music21"
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

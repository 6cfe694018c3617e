"""The jSymbolic feature table: one :class:`FeatureSpec` row per feature, in music21's column order.

Each row links our function (in :mod:`~musicneurons.features.pitch`, :mod:`~musicneurons.features.rhythm`
or :mod:`~musicneurons.features.melody`, named after the feature) to music21's id and class and to
jSymbolic2's code.
:mod:`musicneurons.features.registry` computes the table's features over windows and prints the crosswalk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from musicneurons.features import melody as mel
from musicneurons.features import pitch as pit
from musicneurons.features import rhythm as rhy
from musicneurons.features.notes import NoteBatch


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

"""Steps 1-4 of Magenta's melody extraction: a score -> pieces -> quantised melodies.

Every rule is Magenta's (``OneHotMelodyConverter`` over note_seq; see docs/extraction.md and
magenta_facts.md §8):

1. **Split** on tempo and time-signature changes (``split_note_sequence_on_time_changes``): a piece
   starts wherever a value really changes (never at t=0, never at or after the end); notes are assigned
   by start time, cut at the piece end and shifted to the piece start.
2. **Filter** notes: pitch 21..108 inclusive (dropped, never transposed) and, for the 2-bar config,
   programs 0..31.
3. **Quantise** at 4 steps per quarter: ``step = int(t * 4 * qpm / 60 + 0.5)``; a note of zero steps
   gets one. Only pieces whose bar is 16 steps (4/4, 2/2, 8/8, ...) go on.
4. **Extract melodies** per instrument (in CPython ``set`` order): notes sorted by (start, pitch
   descending); at a shared start the highest pitch wins, a later note truncates a sounding one, a gap
   of a bar or more after a note-off ends the melody; the final NOTE_OFF is dropped and the melody is
   padded to whole bars (a NOTE_OFF is put back where padding follows a sounding note); at most
   1600 steps.

Steps 5-6 (windows and de-duplication) are in :mod:`musicneurons.data.melody`, which also re-exports
every public name of this module. Every step is linear in the number of notes and tempo / time-signature
events (a file of 20,000 tempo changes splits into 20,000 pieces in well under a second).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicneurons.constants import (
    DEFAULT_QPM,
    MAX_PITCH,
    MEL_PROGRAMS,
    MELODY_NO_EVENT,
    MELODY_NOTE_OFF,
    MIN_PITCH,
)
from musicneurons.data.midi import MidiScore, read_midi

__all__ = [
    "CONFIGS",
    "Melody",
    "MelodyConfig",
    "Piece",
    "config_for_bars",
    "extract_melodies",
    "piece_melodies",
    "split_pieces",
    "with_time_signature",
]


@dataclass(frozen=True)
class MelodyConfig:
    """Extraction settings of one Magenta melody config (``OneHotMelodyConverter`` arguments).

    Attributes
    ----------
    name : str
        Magenta config name.
    slice_bars : int
        Window length in bars (2 or 16).
    valid_programs : tuple of int or None
        Programs whose notes are kept; None keeps every program (drum notes are still dropped).
    min_pitch, max_pitch : int
        Pitch range kept, inclusive (21..108); other notes are dropped, not transposed.
    steps_per_quarter, quarters_per_bar : int
        Grid: 4 steps per quarter, 4 quarters per bar.
    gap_bars : float
        A silence of this many bars after a note-off ends a melody.
    max_bars : int
        Melodies are truncated to this many bars before slicing.
    max_windows : int
        Windows returned per file in ``magenta`` mode (``max_tensors_per_notesequence``).
    """

    name: str
    slice_bars: int
    valid_programs: tuple[int, ...] | None
    min_pitch: int = MIN_PITCH
    max_pitch: int = MAX_PITCH
    steps_per_quarter: int = 4
    quarters_per_bar: int = 4
    gap_bars: float = 1.0
    max_bars: int = 100
    max_windows: int = 5

    def __post_init__(self) -> None:
        if self.valid_programs is not None:  # a hashable, canonical tuple whatever the caller passed
            object.__setattr__(self, "valid_programs", tuple(sorted(set(self.valid_programs))))

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_quarter * self.quarters_per_bar

    @property
    def window_steps(self) -> int:
        """Window length in steps (32 or 256)."""
        return self.steps_per_bar * self.slice_bars

    @property
    def max_steps(self) -> int:
        """Melody length cap in steps, a whole number of bars (1600)."""
        return self.steps_per_bar * self.max_bars


CONFIGS: dict[str, MelodyConfig] = {
    "cat-mel_2bar_big": MelodyConfig("cat-mel_2bar_big", slice_bars=2, valid_programs=MEL_PROGRAMS),
    "hierdec-mel_16bar": MelodyConfig("hierdec-mel_16bar", slice_bars=16, valid_programs=None),
}


def config_for_bars(bars: int) -> MelodyConfig:
    """The Magenta config for 2-bar (``cat-mel_2bar_big``) or 16-bar (``hierdec-mel_16bar``) windows."""
    for config in CONFIGS.values():
        if config.slice_bars == bars:
            return config
    msg = f"bars must be 2 or 16 (the released MusicVAE melody models), got {bars}"
    raise ValueError(msg)


# --------------------------------------------------------------------------- records
@dataclass(frozen=True, eq=False)
class Piece:
    """One piece of ``split_note_sequence_on_time_changes``: constant tempo and time signature.

    ``notes`` indexes the score's notes (in start-time order); ``start`` / ``end`` are their times in
    seconds relative to the piece start (``end`` cut at the piece end).
    """

    index: int
    start_time: float
    end_time: float
    qpm: float
    numerator: int
    denominator: int
    notes: np.ndarray
    start: np.ndarray
    end: np.ndarray


@dataclass(frozen=True, eq=False)
class Melody:
    """One melody of Magenta's extractor: ``events`` (int8 Magenta event codes) from ``start_step``.

    Steps are 16ths relative to the start of piece ``piece``; ``end_step = start_step + len(events)``
    (after truncation to ``max_bars``; Magenta's next search starts at the untruncated end).
    """

    piece: int
    instrument: int
    program: int
    start_step: int
    end_step: int
    events: np.ndarray


# --------------------------------------------------------------------------- step 1: split
def with_time_signature(score: MidiScore, numerator: int = 4, denominator: int = 4) -> MidiScore:
    """The score with every time signature replaced by one at t = 0 (the fixtures' ``ts4_4`` variant)."""
    return dataclasses.replace(score, time_signatures=((0.0, numerator, denominator),))


def split_pieces(score: MidiScore) -> list[Piece]:
    """Split like ``note_seq.split_note_sequence_on_time_changes`` (notes crossing a split are cut)."""
    total = score.total_time
    changes = sorted(  # stable: time signatures before tempos at equal times, as note_seq sorts
        [(t, 0, (num, den)) for t, num, den in score.time_signatures] + [(t, 1, q) for t, q in score.tempos],
        key=lambda change: change[0],
    )
    current = {0: (4, 4), 1: DEFAULT_QPM}
    splits = [0.0]
    for time, kind, value in changes:
        if time >= total or value == current[kind]:
            continue
        if time > splits[-1]:
            splits.append(time)
        current[kind] = value
    if total > splits[-1]:
        splits.append(total)
    if len(splits) < 2:
        return []

    order = np.argsort(score.start, kind="stable")
    boundaries = np.asarray(splits, dtype=np.float64)
    piece_of = np.searchsorted(boundaries, score.start[order], side="right") - 1
    # piece_of never decreases along ``order``: each piece's notes are one slice of it
    first = np.searchsorted(piece_of, np.arange(len(splits)), side="left")
    qpms = _states_at(score.tempos, splits[:-1], lambda e: e[1], DEFAULT_QPM)
    meters = _states_at(score.time_signatures, splits[:-1], lambda e: (e[1], e[2]), (4, 4))
    pieces = []
    for index, (begin, finish) in enumerate(itertools.pairwise(splits)):
        notes = order[first[index] : first[index + 1]]
        numerator, denominator = meters[index]
        pieces.append(
            Piece(
                index=index,
                start_time=begin,
                end_time=finish,
                qpm=qpms[index],
                numerator=numerator,
                denominator=denominator,
                notes=notes,
                start=score.start[notes] - begin,
                end=np.minimum(score.end[notes], finish) - begin,
            )
        )
    return pieces


def _states_at(events, times, value, default) -> list:
    """For each of the increasing ``times``, the value of the last event (in stable time order) at or
    before it: note_seq's piece state. One pass over the sorted events.

    With no such event the piece keeps its own first event, which cannot differ from the default
    (a different value would have started a new piece), so the default is returned.
    """
    ordered = sorted(events, key=lambda e: e[0])
    states = []
    state, i = default, 0
    for time in times:
        while i < len(ordered) and ordered[i][0] <= time:
            state = value(ordered[i])
            i += 1
        states.append(state)
    return states


# --------------------------------------------------------------------------- steps 2-4: melodies
def piece_melodies(score: MidiScore, piece: Piece, config: MelodyConfig) -> list[Melody] | None:
    """Melodies of one piece, or None when Magenta's converter skips the piece before extracting."""
    numerator, denominator = piece.numerator, piece.denominator
    if numerator == 0 or denominator <= 0 or denominator & (denominator - 1):
        return None  # BadTimeSignatureError
    if config.steps_per_quarter * (4.0 / denominator * numerator) != config.steps_per_bar:
        return None  # not a 16-step bar
    steps_per_bar = config.steps_per_bar
    if piece.notes.size == 0:
        return []

    idx = piece.notes
    pitch = score.pitch[idx]
    keep = (pitch >= config.min_pitch) & (pitch <= config.max_pitch)
    if config.valid_programs is not None:
        keep &= _program_mask(config.valid_programs)[score.program[idx]]
    idx, pitch = idx[keep], pitch[keep]
    if idx.size == 0:
        return []
    steps_per_second = config.steps_per_quarter * piece.qpm / 60.0
    q_start = (piece.start[keep] * steps_per_second + 0.5).astype(np.int64)
    q_end = (piece.end[keep] * steps_per_second + 0.5).astype(np.int64)
    q_end[q_end == q_start] += 1

    instrument = score.instrument[idx]
    playable = ~score.is_drum[idx] & (score.velocity[idx] > 0)
    position = np.arange(idx.size)
    melodies = []
    for inst in set(instrument.tolist()):  # CPython set order, as Magenta iterates instruments
        mine = position[instrument == inst]
        mine = mine[np.lexsort((mine, -pitch[mine].astype(np.int64), q_start[mine]))]
        program = int(score.program[idx[mine[0]]])
        melodies.extend(
            _instrument_melodies(
                q_start[mine],
                q_end[mine],
                pitch[mine],
                playable[mine],
                steps_per_bar,
                config,
                piece.index,
                int(inst),
                program,
            )
        )
    return melodies


@functools.lru_cache(maxsize=8)
def _program_mask(valid_programs: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(128, dtype=bool)
    mask[list(valid_programs)] = True
    return mask


def _instrument_melodies(starts, ends, pitches, playable, steps_per_bar, config, piece, inst, program):
    """Magenta's repeated ``Melody.from_quantized_sequence`` over one instrument's sorted notes."""
    gap_steps = config.gap_bars * steps_per_bar
    search = 0
    melodies: list[Melody] = []
    while True:
        first = int(np.searchsorted(starts, search, side="left"))
        if first == starts.size:
            return melodies
        # the bar of the first note at or after `search`, drums and silent notes included
        melody_start = int(starts[first]) - (int(starts[first]) - search) % steps_per_bar
        usable = first + np.flatnonzero(playable[first:])
        if usable.size == 0:
            return melodies
        s = starts[usable] - melody_start
        e = ends[usable] - melody_start
        p = pitches[usable]
        # among notes starting together only the first (highest pitch) is added
        lead = np.ones(s.size, dtype=bool)
        lead[1:] = s[1:] != s[:-1]
        s, e, p = s[lead], e[lead], p[lead]
        # a note starting a bar or more after the previous note's end stops the melody
        gap = np.flatnonzero(s[1:] - e[:-1] >= gap_steps)
        if gap.size:
            s, e, p = s[: gap[0] + 1], e[: gap[0] + 1], p[: gap[0] + 1]
        length = int(e[-1])  # the final NOTE_OFF (at e[-1]) is stripped
        padded = length + (-length % steps_per_bar)
        # melodies longer than max_bars are truncated: only build the steps that are kept
        kept = min(padded, config.max_steps - config.max_steps % steps_per_bar)
        events = np.full(kept, MELODY_NO_EVENT, dtype=np.int8)
        offs = e[:-1][e[:-1] < s[1:]]  # a note sounding until the next start is cut, not ended
        events[offs[offs < kept]] = MELODY_NOTE_OFF
        events[s[s < kept]] = p[s < kept]
        if kept > length:
            events[length] = MELODY_NOTE_OFF  # Melody.set_length ends the sustained last note
        end_step = melody_start + padded
        melodies.append(Melody(piece, inst, program, melody_start, melody_start + kept, events))
        search = end_step + (-end_step % steps_per_bar)


def extract_melodies(
    source: str | Path | bytes | MidiScore, config: MelodyConfig | None = None
) -> list[Melody]:
    """All melodies Magenta's melody extractor returns for a file, piece by piece, in its order."""
    config = config or CONFIGS["cat-mel_2bar_big"]
    score = source if isinstance(source, MidiScore) else read_midi(source)
    melodies = []
    for piece in split_pieces(score):
        melodies.extend(piece_melodies(score, piece, config) or [])
    return melodies

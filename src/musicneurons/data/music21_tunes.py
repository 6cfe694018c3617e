"""One music21 score -> one melody record, and one record -> one MIDI file (the music21 corpus's tune step).

The rules (meters kept and re-barred as 4/4, pickups aligned to a bar line, ties merged, chord symbols and
grace notes dropped, the first metronome mark as tempo) are listed in :mod:`musicneurons.data.music21_corpus`,
which runs this over whole collections. music21 and mido are imported inside the functions (``corpus`` and
``test`` extras).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicneurons.atomic_files import atomic_write
from musicneurons.constants import DEFAULT_QPM

log = logging.getLogger(__name__)

BAR_QUARTERS = 4.0  # every written file uses 4/4 bars
TICKS_PER_QUARTER = 480
VELOCITY = 80


@dataclass(frozen=True)
class TuneRecord:
    """One melody line: notes as (pitch, start, end) in quarter notes after bar alignment, plus provenance."""

    collection: str
    file: str  # relative to music21's corpus folder
    tune_index: int  # 0-based position in the file (an ABC file may hold hundreds of tunes)
    number: str
    title: str
    time_signature: str  # as written, e.g. "2/4"; "" when none
    qpm: float
    status: str  # "ok" or "skipped"
    reason: str
    notes: tuple[tuple[int, float, float], ...] = ()


def meter_is_kept(numerator: int, denominator: int) -> bool:
    """True for simple duple/quadruple meters (2/4, 4/4, 2/2, 4/2) that re-bar losslessly into 4/4."""
    return numerator in (2, 4) and denominator in (2, 4)


def _melody_part(score):
    """The part that carries the melody: the one named soprano if any, else the first."""
    parts = list(score.parts)
    if not parts:
        return None
    for p in parts:
        name = (p.partName or "").lower()
        if "soprano" in name:
            return p
    return parts[0]


def _tune_from_score(score, collection: str, rel: str, index: int) -> TuneRecord:
    from music21 import harmony, tempo

    md = score.metadata
    title = (md.title if md is not None and md.title else "") or ""
    number = str(md.number) if md is not None and md.number is not None else str(index + 1)
    base: dict[str, Any] = {
        "collection": collection,
        "file": rel,
        "tune_index": index,
        "number": number,
        "title": title,
    }
    part = _melody_part(score)
    if part is None:
        return TuneRecord(**base, time_signature="", qpm=DEFAULT_QPM, status="skipped", reason="no parts")
    measures = list(part.getElementsByClass("Measure"))
    # The meter of full bars: pickups carry odd signatures in music21's ABC reader (e.g. 1/32), so use the
    # signatures of measures whose length equals their signature's bar length.
    covered: dict[tuple[int, int], float] = {}  # quarter notes of full bars under each signature
    first_full_offset: float | None = None
    ts = None
    for m in measures:
        ts = m.timeSignature or ts
        if ts is None:
            continue
        if abs(m.duration.quarterLength - ts.barDuration.quarterLength) < 1e-6:
            key = (ts.numerator, ts.denominator)
            covered[key] = covered.get(key, 0.0) + float(m.duration.quarterLength)
            if first_full_offset is None:
                first_full_offset = float(m.offset)
    if not covered:
        return TuneRecord(
            **base,
            time_signature="",
            qpm=DEFAULT_QPM,
            status="skipped",
            reason="no full bar with a time signature",
        )
    ts_text = ",".join(f"{n}/{d}" for n, d in sorted(covered))
    total = sum(covered.values())
    kept = sum(q for (n, d), q in covered.items() if meter_is_kept(n, d))
    if 0 < kept < 0.95 * total:
        return TuneRecord(
            **base,
            time_signature=ts_text,
            qpm=DEFAULT_QPM,
            status="skipped",
            reason="meter changes to a meter without 4-quarter bars",
        )
    qpm = DEFAULT_QPM
    for mm in score.flatten().getElementsByClass(tempo.MetronomeMark):
        q = mm.getQuarterBPM()
        if q and q > 0:
            qpm = float(q)
            break
    if kept == 0:
        return TuneRecord(
            **base,
            time_signature=ts_text,
            qpm=qpm,
            status="skipped",
            reason=f"meter {ts_text} has no 4-quarter bars",
        )
    # stray bars in other meters (< 5%; music21 gives pickups odd signatures such as 1/32) are not reported
    ts_text = ",".join(f"{n}/{d}" for n, d in sorted(covered) if meter_is_kept(n, d))
    # shift so that the first full bar starts on a multiple of BAR_QUARTERS
    assert first_full_offset is not None  # set with the first full bar, and `covered` is not empty
    shift = (-first_full_offset) % BAR_QUARTERS
    notes: list[list] = []
    open_ties: dict[int, int] = {}  # pitch -> index in notes of a note whose tie continues
    for el in part.flatten().notes:
        if isinstance(el, harmony.Harmony):
            continue
        ql = float(el.duration.quarterLength)
        if ql <= 0:
            continue
        start = float(el.offset) + shift
        for p in el.pitches:
            tie = el.tie
            kind = tie.type if tie is not None else None
            k = open_ties.get(p.midi)
            if kind in ("stop", "continue") and k is not None and abs(notes[k][2] - start) < 1e-6:
                notes[k][2] = start + ql  # a tied continuation lengthens the open note
                if kind == "stop":
                    del open_ties[p.midi]
                continue
            notes.append([int(p.midi), start, start + ql])
            if kind in ("start", "continue"):
                open_ties[p.midi] = len(notes) - 1
            else:
                open_ties.pop(p.midi, None)
    if not notes:
        return TuneRecord(**base, time_signature=ts_text, qpm=qpm, status="skipped", reason="no notes")
    notes.sort(key=lambda n: (n[1], -n[0]))
    return TuneRecord(
        **base,
        time_signature=ts_text,
        qpm=qpm,
        status="ok",
        reason="",
        notes=tuple((int(p), float(a), float(b)) for p, a, b in notes),
    )


def parse_file(corpus_dir: str, rel: str, collection: str) -> list[TuneRecord]:
    """Parse one music21 corpus file (one score or an opus of many tunes) into tune records."""
    from music21 import converter

    t0 = time.perf_counter()
    try:
        parsed = converter.parse(str(Path(corpus_dir) / rel))
    except Exception as err:  # noqa: BLE001 (music21 raises many exception types on bad input)
        return [TuneRecord(collection, rel, 0, "", "", "", DEFAULT_QPM, "skipped", f"parse error: {err}")]
    scores = list(parsed.scores) if hasattr(parsed, "scores") else [parsed]
    out = []
    for i, sc in enumerate(scores):
        try:
            out.append(_tune_from_score(sc, collection, rel, i))
        except Exception as err:  # noqa: BLE001 (one bad tune must not lose the rest of the file)
            out.append(TuneRecord(collection, rel, i, "", "", "", DEFAULT_QPM, "skipped", f"error: {err}"))
    log.debug("%s: %d tunes in %.1f s", rel, len(out), time.perf_counter() - t0)
    return out


def write_tune_midi(tune: TuneRecord, path: str | os.PathLike) -> None:
    """Write one tune as a single-track type-1 MIDI file: its tempo, a 4/4 signature, program 0, velocity
    80."""
    import mido  # type: ignore[import-untyped]

    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=round(60_000_000 / tune.qpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    track.append(mido.Message("program_change", program=0, channel=0, time=0))
    events = []  # (tick, order, message kind, pitch): note-offs before note-ons at the same tick
    for pitch, start, end in tune.notes:
        if not 0 <= pitch <= 127:
            continue
        on, off = round(start * TICKS_PER_QUARTER), round(end * TICKS_PER_QUARTER)
        if off <= on:
            continue
        events.append((on, 1, "note_on", pitch))
        events.append((off, 0, "note_off", pitch))
    events.sort()
    now = 0
    for tick, _, kind, pitch in events:
        track.append(
            mido.Message(
                kind, note=pitch, velocity=VELOCITY if kind == "note_on" else 0, channel=0, time=tick - now
            )
        )
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    atomic_write(path, lambda tmp: mid.save(str(tmp)))

"""Benchmark: melody-window extraction over ../shared/corpora, ours vs the pretty_midi path.

The reference path is what a user without our reader would write: parse each file with pretty_midi
(as ``note_seq.midi_file_to_note_sequence`` does; note_seq itself when it is installed), build the same
note table and run the same Magenta-exact extraction. Both paths run over the same files with the
same number of worker processes; the script checks that they give identical windows for every file
and prints files/s, windows/s and the speed ratio, per config.

Run:  .venv/bin/python bench/bench_extract.py [--jobs 2] [--repeat 3] [DIR]
Magenta's own note_seq + converter path was measured here at ~215 files/s (1074 files, 2-bar, 5.0 s).

Event-heavy files:  .venv/bin/python bench/bench_extract.py --event-heavy
builds files with 5,000 / 20,000 / 80,000 tempo or time-signature changes (one note held across them,
one piece per change) and times reading and extraction; the time per event must stay flat (linear).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import time
import warnings
from pathlib import Path

import numpy as np

from musicneurons.data.corpus import find_midi_files
from musicneurons.data.melody import CONFIGS, extract_windows
from musicneurons.data.midi import MidiReadError, MidiScore, read_midi

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpora"
MAGENTA_FILES_PER_S = 215.0  # note_seq + OneHotMelodyConverter over these 1,074 files (2-bar), measured here
TARGET_S = 0.5  # the goal: >= 10x Magenta's path on 2 cores, i.e. the 1,074 files in <= 0.5 s per config


def score_via_pretty_midi(data: bytes) -> MidiScore:
    """The note table note_seq builds from pretty_midi (or from note_seq itself when installed)."""
    try:
        import note_seq

        ns = note_seq.midi_to_note_sequence(data)
        notes = list(ns.notes)
        tempos = tuple((t.time, t.qpm) for t in ns.tempos)
        signatures = tuple((t.time, t.numerator, t.denominator) for t in ns.time_signatures)
        rows = [
            (n.instrument, n.program, n.is_drum, n.pitch, n.velocity, n.start_time, n.end_time) for n in notes
        ]
        tpq = ns.ticks_per_quarter
    except ImportError:
        import pretty_midi

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
        rows = [
            (i, inst.program, inst.is_drum, n.pitch, n.velocity, n.start, n.end)
            for i, inst in enumerate(midi.instruments)
            for n in inst.notes
        ]
        times, qpms = midi.get_tempo_changes()
        tempos = tuple(zip(times.tolist(), qpms.tolist(), strict=True))
        signatures = tuple((t.time, t.numerator, t.denominator) for t in midi.time_signature_changes)
        tpq = midi.resolution
    columns = list(zip(*rows, strict=True)) if rows else [()] * 7
    end = np.array(columns[6], dtype=np.float64)
    return MidiScore(
        ticks_per_quarter=tpq,
        total_time=float(end.max()) if end.size else 0.0,
        instrument=np.array(columns[0], dtype=np.int32),
        program=np.array(columns[1], dtype=np.int16),
        is_drum=np.array(columns[2], dtype=bool),
        pitch=np.array(columns[3], dtype=np.int16),
        velocity=np.array(columns[4], dtype=np.int16),
        start=np.array(columns[5], dtype=np.float64),
        end=end,
        tempos=tempos,
        time_signatures=signatures,
    )


def _ours(job: tuple[str, str]) -> tuple[str, bytes, int]:
    path, config = job
    try:
        table = extract_windows(path, CONFIGS[config])
    except MidiReadError:
        return path, b"", -1
    return path, _digest(table.windows), len(table)


def _reference(job: tuple[str, str]) -> tuple[str, bytes, int]:
    path, config = job
    try:
        score = score_via_pretty_midi(Path(path).read_bytes())
    except Exception:  # noqa: BLE001 (note_seq refuses whatever pretty_midi raises)
        return path, b"", -1
    table = extract_windows(score, CONFIGS[config])
    return path, _digest(table.windows), len(table)


def _digest(windows: np.ndarray) -> bytes:
    return b"".join(sorted(map(bytes, windows)))


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished children (the pool workers), in seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(function, files: list[str], config: str, jobs: int) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds, {path: (digest, n_windows)}) of one pass over ``files``."""
    work = [(path, config) for path in files]
    # small chunks: files sorted by path cluster the heavy ones, and 16 big chunks left one worker
    # idle for ~10% of the run; a chunk of ~8 files costs far less to send than it balances
    chunk = max(1, len(work) // (64 * jobs))
    cpu = _cpu_seconds()
    started = time.perf_counter()
    if jobs == 1:
        results = [function(job) for job in work]
    else:
        with multiprocessing.get_context().Pool(jobs) as pool:
            results = pool.map(function, work, chunksize=chunk)
            pool.close()
            pool.join()
    seconds = time.perf_counter() - started
    return seconds, _cpu_seconds() - cpu, {path: (digest, n) for path, digest, n in results}


def event_heavy_file(n_events: int, kind: str) -> bytes:
    """One track: a note held across ``n_events`` tempo (or time-signature) changes one tick apart."""
    changes = {
        "tempo": (b"\xff\x51\x03\x07\xa1\x20", b"\xff\x51\x03\x06\x1a\x80"),  # 500,000 / 400,000 us
        "time signature": (b"\xff\x58\x04\x04\x02\x18\x08", b"\xff\x58\x04\x03\x02\x18\x08"),  # 4/4, 3/4
    }[kind]
    body = bytearray(b"\x00\x90\x3c\x5a")
    for i in range(n_events):
        body += b"\x01" + changes[i % 2]
    body += b"\x01\x80\x3c\x00\x00\xff\x2f\x00"
    head = b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01\x00\x60"
    return head + b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def bench_event_heavy(sizes: tuple[int, ...] = (5_000, 20_000, 80_000)) -> None:
    """Seconds to read and extract files of many tempo / time-signature changes (must grow linearly)."""
    print(f"event-heavy files; load average {os.getloadavg()[0]:.1f}")
    print(f"{'kind':<16}{'events':>8}{'read s':>9}{'extract s':>11}{'us/event':>10}")
    for kind in ("tempo", "time signature"):
        for n in sizes:
            data = event_heavy_file(n, kind)
            started = time.perf_counter()
            score = read_midi(data)
            read_s = time.perf_counter() - started
            extract_windows(score, CONFIGS["cat-mel_2bar_big"])
            extract_s = time.perf_counter() - started - read_s
            print(f"{kind:<16}{n:>8}{read_s:>9.3f}{extract_s:>11.3f}{(read_s + extract_s) / n * 1e6:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs of our path")
    parser.add_argument("--event-heavy", action="store_true", help="time files of many tempo/meter changes")
    args = parser.parse_args()
    if args.event_heavy:
        bench_event_heavy()
        return
    root = Path(args.dir)
    files = [str(root / rel) for rel in find_midi_files(root)]
    load = os.getloadavg()[0]
    print(f"{len(files)} files under {root}; {args.jobs} worker processes; load average {load:.1f}")
    print(
        f"{'config':<20}{'path':<12}{'wall s':>8}{'files/s':>9}{'windows/s':>11}{'CPU s':>8}"
        f"{'files/CPU-s':>13}{'windows':>9}"
    )
    for config in CONFIGS:
        runs = [run(_ours, files, config, args.jobs) for _ in range(args.repeat)]
        ours_s, ours_cpu, ours = min(runs, key=lambda r: r[0])
        ref_s, ref_cpu, ref = run(_reference, files, config, args.jobs)
        n_windows = sum(max(n, 0) for _, n in ours.values())
        for name, seconds, cpu in (("ours", ours_s, ours_cpu), ("pretty_midi", ref_s, ref_cpu)):
            print(
                f"{config:<20}{name:<12}{seconds:>8.3f}{len(files) / seconds:>9.0f}"
                f"{n_windows / seconds:>11.0f}{cpu:>8.2f}{len(files) / cpu:>13.0f}{n_windows:>9}"
            )
        differing = [path for path in files if ours[path] != ref[path]]
        print(
            f"{config:<20}ratio {ref_s / ours_s:.1f}x wall, {ref_cpu / ours_cpu:.1f}x CPU; "
            f"files with different windows: {len(differing)}"
        )
        for path in differing[:5]:
            print(f"  differs: {path}")
        magenta_s = len(files) / MAGENTA_FILES_PER_S
        print(
            f"{config:<20}vs Magenta's note_seq path (~{MAGENTA_FILES_PER_S:.0f} files/s measured here, "
            f"{magenta_s:.1f} s): {magenta_s / ours_s:.1f}x; target <= {TARGET_S} s: "
            f"{'met' if ours_s <= TARGET_S else 'NOT met'}"
        )


if __name__ == "__main__":
    main()

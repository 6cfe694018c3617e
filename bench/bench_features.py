"""Benchmark: musicneurons.compute_features vs music21's fastest path, on the same real windows.

Ours runs on N windows at once (default 50,000, drawn from the real Nottingham 2-bar and 16-bar windows of the
Magenta fixtures, with tempi drawn uniformly in 60-200 qpm). music21 runs its 50 scalar P/R/M extractors on a
small subset, one flat Part per melody built directly (no MIDI file) and one shared DataInstance, its fastest
path; its time per melody is extrapolated to N. Both are timed in the same run, so the ratio holds even when
the machine is busy (the load average is printed).

    .venv/bin/python bench/bench_features.py [--n 50000] [--music21-2bar 200] [--music21-16bar 30]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from musicneurons.data.encoding import notes_from_classes
from musicneurons.features.registry import FEATURES, compute_features

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MUSICNEURONS_SHARED", PROJECT_ROOT.parent / "shared"))
FIXTURES = {
    2: "extraction_nottingham_cat-mel_2bar_big.json",
    16: "extraction_nottingham_hierdec-mel_16bar.json",
}


def load_windows(bars: int) -> np.ndarray:
    path = SHARED / "fixtures" / "magenta" / FIXTURES[bars]
    data = json.loads(path.read_text())
    rows = [w for f in data["files"].values() for ex in f["extraction"].values() for w in ex["windows"]]
    return np.array(rows, dtype=np.int8)


def music21_seconds_per_melody(windows: np.ndarray, qpm: np.ndarray) -> tuple[float, float]:
    """Wall and CPU seconds per melody: build the Part, one DataInstance, run the 50 extractors."""
    from music21 import features, meter, note, stream, tempo
    from music21.features import jSymbolic

    classes = [getattr(jSymbolic, spec.music21_class) for spec in FEATURES.values()]
    note_lists = [notes_from_classes(w) for w in windows]  # decoding is not music21's cost
    wall, cpu = time.perf_counter(), time.process_time()
    for notes, q in zip(note_lists, qpm, strict=True):
        part = stream.Part()
        part.insert(0, tempo.MetronomeMark(number=float(q)))
        part.insert(0, meter.TimeSignature("4/4"))
        for pitch, start, end in notes:
            n = note.Note(pitch)
            n.quarterLength = (end - start) / 4
            part.insert(start / 4, n)
        data = features.DataInstance(part)
        for cls in classes:
            extractor = cls()
            extractor.setData(data)
            try:
                extractor.extract()
            except Exception:  # noqa: BLE001, S112 - raising is part of music21's normal output here
                continue
    n = len(windows)
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def ours_seconds(windows: np.ndarray, qpm: np.ndarray, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds for the whole batch over ``repeats`` runs."""
    best = (np.inf, np.inf)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        compute_features(windows, qpm=qpm)
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000, help="windows for our batch (default 50,000)")
    parser.add_argument("--music21-2bar", type=int, default=200, help="2-bar melodies for music21")
    parser.add_argument("--music21-16bar", type=int, default=30, help="16-bar melodies for music21")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours; the best counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; N = {args.n:,} windows per size")
    print(
        f"{'':8}{'ours s':>9}{'ours mel/s':>12}{'music21 ms/mel':>16}{'music21 mel/s':>15}"
        f"{'music21 s (N, extrap.)':>24}{'ratio':>8}"
    )
    for bars, subset in ((2, args.music21_2bar), (16, args.music21_16bar)):
        real = load_windows(bars)
        windows = real[rng.integers(0, len(real), args.n)]
        qpm = rng.uniform(60.0, 200.0, args.n)
        wall, cpu = ours_seconds(windows, qpm, args.repeats)
        m21_wall, m21_cpu = music21_seconds_per_melody(windows[:subset], qpm[:subset])
        for label, ours, m21 in (("wall", wall, m21_wall), ("cpu", cpu, m21_cpu)):
            print(
                f"{bars:>2}-bar {label:<4}{ours:>7.3f}{args.n / ours:>12,.0f}"
                f"{1e3 * m21:>16.2f}{1 / m21:>15,.0f}"
                f"{m21 * args.n:>24,.0f}{m21 * args.n / ours:>8,.0f}x"
            )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()

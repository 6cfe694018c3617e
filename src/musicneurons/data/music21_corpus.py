"""Build a training corpus of public-domain melodies from the scores bundled with music21 (a build step).

music21 ships folk-tune collections in ABC notation (Ryan's Mammoth Collection, O'Neill's 1850, the Essen
folksong collection, Aird's Airs, ...) and Bach's chorales in MusicXML. This module writes each melody line to
its own MIDI file (one track, program 0, one tempo, one time signature at t = 0) so that windows are then
extracted by our own MIDI pipeline (`musicneurons extract`), exactly like any user's MIDI.

Rules, all recorded per tune in ``provenance.parquet``:

- **Meters.** Magenta keeps only 16-step (4-quarter) bars. Tunes whose time signature is a simple duple or
  quadruple meter (numerator 2 or 4, denominator 2 or 4: 2/4, 4/4, 2/2 and 4/2) are kept and written as 4/4:
  a 4/4 or 2/2 bar is one bar, two 2/4 bars become one 4/4 bar and a 4/2 bar becomes two 4/4 bars (note values
  are not changed, so nothing is heard differently). Triple and compound meters (3/4, 6/8, 9/8 ...) are
  skipped, and so is a tune with more than 5% of its full bars in such a meter (stray odd bars, e.g.
  the 1/32 signature music21's ABC reader gives some pickups, are ignored).
- **Bar alignment.** A pickup (anacrusis) is shifted so that the first full bar starts on a 4/4 bar line.
- **Repeats are not expanded** (music21's expandRepeats costs ~0.2 s a tune and fails on many); tied notes
  are merged.
- **Notes.** Chord symbols are ignored, grace notes (zero duration) dropped, and written chords (double stops)
  kept as simultaneous notes: the extractor keeps the highest, as Magenta does.
- **Tempo.** The first metronome mark if any, else 120 qpm.
- **Split by tune**, never by window: a stable hash of ``collection/file#index`` puts 80% of tunes in
  ``train``, 5% in ``valid`` and 15% in ``study`` (held out from training; the default study corpus).

Only the ``corpus`` extra (music21) is needed, and only to run this build step; nothing at run time uses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from musicneurons.atomic_files import atomic_write
from musicneurons.data.music21_tunes import (
    TICKS_PER_QUARTER,
    TuneRecord,
    meter_is_kept,
    parse_file,
    write_tune_midi,
)

__all__ = [
    "TICKS_PER_QUARTER",
    "TuneRecord",
    "build_music21_corpus",
    "build_training_corpus",
    "meter_is_kept",
    "music21_corpus_dir",
    "parse_file",
    "split_of",
    "write_study_corpus",
    "write_tune_midi",
]

log = logging.getLogger(__name__)

# collection name -> glob patterns inside music21's corpus folder; part = which part holds the melody
COLLECTIONS: dict[str, tuple[str, ...]] = {
    "ryansMammoth": ("ryansMammoth/*.abc",),
    "oneills1850": ("oneills1850/*.abc",),
    "essenFolksong": ("essenFolksong/*.abc",),
    "airdsAirs": ("airdsAirs/*.abc",),
    "miscFolk": ("miscFolk/*.abc",),
    "nottingham": ("nottingham-dataset/*.abc",),
    "bachChorales": ("bach/*.mxl",),
}
# Bach chorales are left out by default: MusicXML parsing is slow and the soprano lines are few (see docs)
DEFAULT_COLLECTIONS = ("ryansMammoth", "oneills1850", "essenFolksong", "airdsAirs", "miscFolk", "nottingham")
SPLIT_FRACTIONS = (("train", 0.80), ("valid", 0.05), ("study", 0.15))


def music21_corpus_dir() -> Path:
    """music21's bundled corpus folder (raises ImportError with a hint when music21 is missing)."""
    try:
        import music21
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "building the music21 corpus needs music21: pip install 'musicneurons[corpus]'"
        raise ImportError(msg) from err
    return Path(music21.__file__).parent / "corpus"


def split_of(key: str) -> str:
    """Stable train/valid/study assignment of a tune key (sha1, independent of Python's hash seed)."""
    u = int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / float(16**12)
    acc = 0.0
    for name, frac in SPLIT_FRACTIONS:
        acc += frac
        if u < acc:
            return name
    return SPLIT_FRACTIONS[-1][0]


def _files(corpus_dir: Path, collections: Iterable[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name in collections:
        if name not in COLLECTIONS:
            msg = f"unknown collection {name!r}; known: {', '.join(COLLECTIONS)}"
            raise ValueError(msg)
        for pattern in COLLECTIONS[name]:
            out.extend((name, str(p.relative_to(corpus_dir))) for p in sorted(corpus_dir.glob(pattern)))
    return out


def _parse_cached(args: tuple[str, str, str, str]) -> list[TuneRecord]:
    corpus_dir, rel, collection, cache_dir = args
    cache = Path(cache_dir) / (hashlib.sha1(rel.encode()).hexdigest()[:16] + ".json")
    if cache.exists():
        return [
            TuneRecord(**{**d, "notes": tuple(tuple(n) for n in d["notes"])})
            for d in json.loads(cache.read_text())
        ]
    tunes = parse_file(corpus_dir, rel, collection)
    text = json.dumps([t.__dict__ for t in tunes])
    atomic_write(cache, lambda tmp: tmp.write_text(text))
    return tunes


def build_music21_corpus(
    out: str | os.PathLike,
    *,
    collections: Sequence[str] = DEFAULT_COLLECTIONS,
    jobs: int = 2,
    limit_files: int | None = None,
    files: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Export music21's bundled melodies to ``OUT/midi/<split>/<collection>/...mid`` with a provenance table.

    Parameters
    ----------
    out : folder to write; ``OUT/cache/`` keeps parsed files so a rerun is fast and resumes after a crash.
    collections : names from :data:`COLLECTIONS`.
    jobs : worker processes for music21 parsing (the slow part, ~40-70 ms per ABC tune).
    limit_files : parse only the first N files of each collection (for tests).
    files : parse only these files (paths relative to music21's corpus folder, e.g.
        ``"oneills1850/0001-0050.abc"``) of the chosen collections; the embedded models list theirs in
        ``assets/corpus/music21_files.txt``.

    Returns
    -------
    The provenance table, also written to ``OUT/provenance.parquet``: one row per tune with ``collection``,
    ``file``, ``tune_index``, ``number``, ``title``, ``time_signature``, ``qpm``,
    ``status``, ``reason``, ``n_notes``, ``split`` and ``midi`` (path relative to OUT, "" when skipped).
    """
    out = Path(out)
    corpus_dir = music21_corpus_dir()
    (out / "cache").mkdir(parents=True, exist_ok=True)
    wanted = set(files) if files is not None else None
    chosen = [(c, rel) for c, rel in _files(corpus_dir, collections) if wanted is None or rel in wanted]
    if wanted is not None and len(chosen) != len(wanted):
        found = {rel for _, rel in chosen}
        msg = f"{len(wanted - found)} requested files are not in collections {list(collections)}: "
        msg += ", ".join(sorted(wanted - found)[:5])
        raise ValueError(msg)
    if limit_files is not None:
        per: dict[str, int] = {}
        kept = []
        for c, rel in chosen:
            per[c] = per.get(c, 0) + 1
            if per[c] <= limit_files:
                kept.append((c, rel))
        chosen = kept
    tasks = [(str(corpus_dir), rel, c, str(out / "cache")) for c, rel in chosen]
    t0 = time.perf_counter()
    if jobs > 1:
        # collection by collection (in the order asked), big files first within each
        order = {name: i for i, name in enumerate(collections)}
        tasks.sort(key=lambda t: (order[t[2]], -(Path(t[0]) / t[1]).stat().st_size))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_parse_cached, tasks, chunksize=1))
    else:
        results = [_parse_cached(t) for t in tasks]
    log.info("parsed %d files in %.1f s", len(tasks), time.perf_counter() - t0)
    rows = []
    for tunes in results:
        for t in tunes:
            key = f"{t.collection}/{t.file}#{t.tune_index}"
            split = split_of(key)
            midi = ""
            if t.status == "ok":
                stem = Path(t.file).with_suffix("").as_posix().replace("/", "_")
                rel_midi = Path("midi") / split / t.collection / f"{stem}_{t.tune_index:04d}.mid"
                (out / rel_midi).parent.mkdir(parents=True, exist_ok=True)
                write_tune_midi(t, out / rel_midi)
                midi = rel_midi.as_posix()
            rows.append(
                {
                    "collection": t.collection,
                    "file": t.file,
                    "tune_index": t.tune_index,
                    "number": t.number,
                    "title": t.title,
                    "time_signature": t.time_signature,
                    "qpm": t.qpm,
                    "status": t.status,
                    "reason": t.reason,
                    "n_notes": len(t.notes),
                    "split": split,
                    "midi": midi,
                }
            )
    table = pd.DataFrame(rows)
    atomic_write(out / "provenance.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    return table


def write_study_corpus(
    windows_parquet: str | os.PathLike,
    provenance: pd.DataFrame,
    out_npz: str | os.PathLike,
    *,
    max_windows: int,
    rng: np.random.Generator,
    source_prefix: str = "",
) -> int:
    """Write the compact default study corpus (see ``defaults.py``) from extracted held-out windows.

    Parameters
    ----------
    windows_parquet : ``windows.parquet`` of ``musicneurons extract`` run on ``OUT/midi/study``.
    provenance : the table returned by :func:`build_music21_corpus`.
    out_npz : the ``.npz`` to write (atomically).
    max_windows : keep at most this many windows, drawn uniformly without replacement with ``rng`` and
        then put back in corpus order.
    source_prefix : prefix that turns the parquet's ``source`` into the provenance ``midi`` path (e.g.
        ``"midi/study/"`` when extraction ran on ``OUT/midi/study``).

    Returns the number of windows written.
    """
    from musicneurons.data.corpus import read_windows

    windows, table = read_windows(windows_parquet, allow_empty=True)  # a small build may hold none
    prov = provenance[provenance["status"] == "ok"].set_index("midi")
    keys = source_prefix + table["source"].astype(str)
    missing = ~keys.isin(prov.index)
    if missing.any():
        msg = f"{int(missing.sum())} windows have no provenance row, e.g. {keys[missing].iloc[0]!r}"
        raise ValueError(msg)
    if len(table) > max_windows:
        keep = np.sort(rng.choice(len(table), size=max_windows, replace=False))
        table, keys = table.iloc[keep].reset_index(drop=True), keys.iloc[keep].reset_index(drop=True)
        windows = windows[keep]
    p = prov.loc[keys.to_numpy()]
    arrays = {
        "windows": windows,
        "qpm": table["qpm"].to_numpy(np.float32),
        "window_id": np.arange(len(table), dtype=np.int32),
        "source": keys.to_numpy().astype(str),
        "collection": p["collection"].to_numpy().astype(str),
        "score_file": p["file"].to_numpy().astype(str),  # ("file" would clash with savez's argument)
        "title": p["title"].to_numpy().astype(str),
        "time_signature": p["time_signature"].to_numpy().astype(str),
        "tune_index": p["tune_index"].to_numpy(np.int32),
        "window_start": table["window_start"].to_numpy(np.int32),
    }

    def write(tmp: Path) -> None:
        with tmp.open("wb") as file:  # a file object: savez would add ".npz" to a temporary name
            np.savez_compressed(file, **arrays)

    atomic_write(out_npz, write)
    return len(table)


STUDY_LIMITS = {2: 20_000, 16: 3_000}  # windows kept in the embedded study corpus


def build_training_corpus(
    out: str | os.PathLike,
    *,
    collections: Sequence[str] = DEFAULT_COLLECTIONS,
    jobs: int = 2,
    seed: int = 0,
    files: Sequence[str] | None = None,
) -> dict:
    """The whole build step: MIDI export + provenance, window extraction per split, study corpus files.

    Writes ``OUT/midi/<split>/...``, ``OUT/provenance.parquet``,
    ``OUT/windows_<bars>bar/<split>/windows.parquet`` (``musicneurons extract`` output, for bars 2 and 16
    and splits train / valid / study), and ``OUT/study_<bars>bar.npz`` (the embedded default corpus format
    of ``defaults.py``, at most :data:`STUDY_LIMITS` windows drawn with ``seed``). ``files`` restricts the
    build to those music21 files (see :func:`build_music21_corpus`). Returns (and writes to
    ``OUT/summary.json``) the counts.
    """
    from musicneurons.data.corpus import extract_corpus

    out = Path(out)
    table = build_music21_corpus(out, collections=collections, jobs=jobs, files=files)
    ok = table[table["status"] == "ok"]
    summary: dict = {
        "tunes": len(table),
        "tunes_ok": len(ok),
        "tunes_per_collection": {k: int(v) for k, v in ok.groupby("collection").size().items()},
        "tunes_per_split": {k: int(v) for k, v in ok.groupby("split").size().items()},
        "skip_reasons": {
            k: int(v) for k, v in table[table["status"] != "ok"]["reason"].value_counts().items()
        },
        "meters_kept": {k: int(v) for k, v in ok["time_signature"].value_counts().items()},
        "windows": {},
    }
    for bars in (2, 16):
        for split, _ in SPLIT_FRACTIONS:
            (out / "midi" / split).mkdir(parents=True, exist_ok=True)  # a small build may leave one empty
            res = extract_corpus(
                out / "midi" / split, bars=bars, out=out / f"windows_{bars}bar" / split, jobs=1
            )
            summary["windows"][f"{bars}bar_{split}"] = int(res.n_windows)
        n = write_study_corpus(
            out / f"windows_{bars}bar" / "study" / "windows.parquet",
            table,
            out / f"study_{bars}bar.npz",
            max_windows=STUDY_LIMITS[bars],
            rng=np.random.default_rng([seed, bars]),
            source_prefix="midi/study/",
        )
        summary["windows"][f"{bars}bar_study_embedded"] = n
    atomic_write(out / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=1)))
    return summary

"""Folder of MIDI files -> Parquet tables of Magenta-exact melody windows (parallel, resumable).

``extract_corpus(dir, bars, out, mode)`` walks ``dir`` recursively for ``.mid`` / ``.midi`` files,
extracts windows from each with :func:`musicneurons.data.melody.extract_windows` in worker processes, and
writes

* ``OUT/windows.parquet``: one row per window: ``window_id`` (row number), ``source`` (path relative
  to ``dir``, ``/``-separated), ``window`` (list of 90-class indices, int8), ``qpm`` (tempo of the piece
  the window comes from), and provenance ``window_index`` (order within the file), ``piece``,
  ``piece_start`` (seconds), ``instrument``, ``program``, ``melody_start``, ``window_start`` (steps
  from the piece start);
* ``OUT/manifest.parquet``: one row per file: ``source``, ``status`` (``ok``, ``no_windows``,
  ``unreadable``, ``error``), ``reason`` (empty for ``ok``, otherwise why the file gave nothing),
  ``n_windows``, ``n_notes``, ``bytes``;
* ``OUT/extract.json``: the settings and counts of the run.

Finished work is cached under ``OUT/.cache/<config>-<mode>/`` in shards of a few hundred files, each
written to a temporary name and renamed; a file is reused while its path, size and modification time
are unchanged, so an interrupted or repeated run only processes what is new. The final
``windows.parquet`` is streamed from the shards one at a time, so memory stays at one shard's windows
however large the corpus (all of Lakh in 16-bar ``all`` mode included).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from musicneurons.atomic_files import atomic_write
from musicneurons.data.melody import MelodyConfig, Mode, config_for_bars, extract_windows, split_pieces
from musicneurons.data.midi import MidiReadError, MidiScore, read_midi

__all__ = ["CorpusSummary", "extract_corpus", "extract_file", "find_midi_files", "read_windows"]

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")
CACHE_VERSION = 2  # bump when extraction output changes, so old caches are not reused
PROVENANCE = ("piece", "piece_start", "instrument", "program", "melody_start", "window_start")


@dataclass(frozen=True)
class CorpusSummary:
    """What one ``extract_corpus`` run wrote."""

    windows_path: Path
    manifest_path: Path
    n_files: int
    n_windows: int
    n_reused: int
    status_counts: dict[str, int]
    seconds: float


# --------------------------------------------------------------------------- one file
def extract_file(path: str | Path, config: MelodyConfig, mode: Mode = "all"):
    """Windows of one file plus its manifest fields; never raises for a bad file.

    Returns
    -------
    (status, reason, n_notes, table)
        ``table`` is a :class:`musicneurons.data.melody.WindowTable` (None unless status is ``ok``).
    """
    try:
        score = read_midi(path)
    except MidiReadError as exc:
        return "unreadable", str(exc), 0, None
    except OSError as exc:
        return "unreadable", f"cannot read file: {exc.strerror or exc}", 0, None
    try:
        table = extract_windows(score, config, mode=mode)
    except Exception as exc:  # a bug or an unforeseen input must not stop a corpus run
        log.exception("extraction failed for %s", path)
        return "error", f"{type(exc).__name__}: {exc}", score.n_notes, None
    if len(table) == 0:
        return "no_windows", _why_no_windows(score, config), score.n_notes, None
    return "ok", "", score.n_notes, table


def _why_no_windows(score: MidiScore, config: MelodyConfig) -> str:
    """A short human reason for a readable file that yields no window."""
    if score.n_notes == 0:
        return "no notes"
    if score.is_drum.all():
        return "drums only"
    pieces = split_pieces(score)
    meters = {(p.numerator, p.denominator) for p in pieces}
    good = [p for p in pieces if config.steps_per_quarter * 4.0 / p.denominator * p.numerator == 16]
    if not good:
        listed = ", ".join(f"{n}/{d}" for n, d in sorted(meters))
        return f"time signature {listed}: Magenta needs 16 steps per bar (4/4, 2/2, ...)"
    programs = "any program" if config.valid_programs is None else "programs 0-31"
    usable = ~score.is_drum & (score.pitch >= config.min_pitch) & (score.pitch <= config.max_pitch)
    if config.valid_programs is not None:
        usable &= np.isin(score.program, config.valid_programs)
    if not usable.any():
        return f"no non-drum notes with {programs} and pitch {config.min_pitch}..{config.max_pitch}"
    return f"no melody spans {config.slice_bars} bars of 4/4 (gaps, short pieces or tempo changes)"


# --------------------------------------------------------------------------- folder walking
def find_midi_files(root: str | Path) -> list[str]:
    """Paths of the MIDI files under ``root`` (recursive), relative and ``/``-separated, sorted."""
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.lower().endswith(MIDI_SUFFIXES):
                found.append(Path(folder, name).relative_to(root).as_posix())
    return sorted(found)


# --------------------------------------------------------------------------- shards
_MANIFEST_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("n_windows", pa.int32()),
        ("n_notes", pa.int32()),
        ("bytes", pa.int64()),
        ("mtime_ns", pa.int64()),
    ]
)


def _windows_schema() -> pa.Schema:
    return pa.schema(
        [
            ("source", pa.string()),
            ("window_index", pa.int32()),
            ("window", pa.list_(pa.int8())),
            ("qpm", pa.float64()),
            ("piece", pa.int32()),
            ("piece_start", pa.float64()),
            ("instrument", pa.int32()),
            ("program", pa.int16()),
            ("melody_start", pa.int32()),
            ("window_start", pa.int32()),
        ]
    )


def _write_parquet(table: pa.Table, path: Path) -> None:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _list_column(windows: np.ndarray) -> pa.Array:
    n, steps = windows.shape
    offsets = pa.array(np.arange(0, (n + 1) * steps, steps, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(windows.reshape(-1), type=pa.int8()))


def _run_shard(job: tuple) -> dict[str, int]:
    """Worker: extract a list of files and write one windows shard then one manifest shard."""
    root, entries, config, mode, shard_dir, shard_name = job
    manifest_rows = []
    tables = []
    sources = []
    for rel, size, mtime_ns in entries:
        status, reason, n_notes, table = extract_file(Path(root) / rel, config, mode)
        n = 0 if table is None else len(table)
        manifest_rows.append((rel, status, reason, n, n_notes, size, mtime_ns))
        if n:
            tables.append(table)
            sources.extend([rel] * n)
    if tables:
        windows = np.concatenate([t.windows for t in tables])
        columns = {
            "source": pa.array(sources, pa.string()),
            "window_index": pa.array(np.concatenate([np.arange(len(t), dtype=np.int32) for t in tables])),
            "window": _list_column(windows),
            "qpm": pa.array(np.concatenate([t.qpm for t in tables])),
        }
        for name in PROVENANCE:
            columns[name] = pa.array(np.concatenate([getattr(t, name) for t in tables]))
        window_table = pa.table(columns, schema=_windows_schema())
    else:
        window_table = _windows_schema().empty_table()
    shard_dir = Path(shard_dir)
    _write_parquet(window_table, shard_dir / f"{shard_name}.windows.parquet")
    manifest = pa.table(list(zip(*manifest_rows, strict=True)), schema=_MANIFEST_SCHEMA)
    _write_parquet(manifest, shard_dir / f"{shard_name}.manifest.parquet")  # last: marks it done
    counts: dict[str, int] = {"files": len(entries), "windows": window_table.num_rows}
    return counts


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _load_cache(shard_dir: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(shard_dir.glob("*.manifest.parquet")):
        frame = pq.read_table(path).to_pandas()
        frame["shard"] = path.name.removesuffix(".manifest.parquet")
        frames.append(frame)
    if not frames:
        frame = _MANIFEST_SCHEMA.empty_table().to_pandas()
        frame["shard"] = pd.Series([], dtype=str)
        return frame
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- the corpus run
def extract_corpus(
    dir: str | Path,
    bars: int = 2,
    out: str | Path = "windows",
    mode: Mode = "all",
    *,
    jobs: int = 0,
    progress: bool = False,
    chunk_size: int | None = None,
) -> CorpusSummary:
    """Extract melody windows from every MIDI file under ``dir`` into ``out`` (see module docstring).

    Parameters
    ----------
    dir : path
        Folder searched recursively for ``.mid`` / ``.midi`` files (any case).
    bars : {2, 16}
        Window length: Magenta's ``cat-mel_2bar_big`` or ``hierdec-mel_16bar`` converter.
    out : path
        Output folder (created); ``windows.parquet`` and ``manifest.parquet`` are replaced.
    mode : {"all", "magenta"}
        Every distinct window per file, or Magenta's default <= 5 per file.
    jobs : int
        Worker processes; 0 uses every available core, 1 runs in this process.
    progress : bool
        Show a tqdm progress bar on stderr.
    chunk_size : int, optional
        Files per cached shard (default: a few hundred, fewer for small folders).
    """
    started = time.perf_counter()
    root = Path(dir)
    if not root.is_dir():
        msg = f"not a folder: {root}"
        raise NotADirectoryError(msg)
    config = config_for_bars(bars)
    if mode not in ("all", "magenta"):
        msg = f"mode must be 'all' or 'magenta', got {mode!r}"
        raise ValueError(msg)
    out = Path(out)
    shard_dir = out / ".cache" / f"{config.name}-{mode}-v{CACHE_VERSION}"
    shard_dir.mkdir(parents=True, exist_ok=True)

    files = find_midi_files(root)
    stats = [(root / rel).stat() for rel in files]
    current = pd.DataFrame(
        {
            "source": pd.Series(files, dtype=str),
            "bytes": pd.Series([s.st_size for s in stats], dtype="int64"),
            "mtime_ns": pd.Series([s.st_mtime_ns for s in stats], dtype="int64"),
        }
    )
    cache = _load_cache(shard_dir)
    key = ["source", "bytes", "mtime_ns"]
    done = current.merge(cache[key].drop_duplicates(), on=key, how="inner")
    todo = current[~current["source"].isin(done["source"])]
    n_jobs = jobs if jobs > 0 else len(os.sched_getaffinity(0))
    size = chunk_size or max(8, min(256, len(todo) // (4 * n_jobs) + 1))
    entries = list(todo.itertuples(index=False, name=None))
    stamp = f"{time.time_ns():x}-{os.getpid()}"
    work = [
        (str(root), chunk, config, mode, str(shard_dir), f"shard-{stamp}-{i:05d}")
        for i, chunk in enumerate(_chunks(entries, size))
    ]
    log.info(
        "%d MIDI files under %s: %d cached, %d to extract (%s, mode %s, %d jobs)",
        len(files), root, len(done), len(todo), config.name, mode, n_jobs,
    )  # fmt: skip
    _run_all(work, n_jobs, progress, len(entries))

    windows_path, manifest_path, n_windows, status_counts = _assemble(out, shard_dir, current)
    summary = CorpusSummary(
        windows_path=windows_path,
        manifest_path=manifest_path,
        n_files=len(files),
        n_windows=n_windows,
        n_reused=len(done),
        status_counts=status_counts,
        seconds=time.perf_counter() - started,
    )
    info = {
        "dir": str(root.resolve()),
        "config": config.name,
        "bars": bars,
        "mode": mode,
        "n_files": summary.n_files,
        "n_windows": summary.n_windows,
        "n_reused": summary.n_reused,
        "status_counts": status_counts,
        "seconds": round(summary.seconds, 3),
    }
    atomic_write(out / "extract.json", lambda tmp: tmp.write_text(json.dumps(info, indent=2) + "\n"))
    return summary


def _run_all(work: list[tuple], n_jobs: int, progress: bool, n_files: int) -> None:
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_files, unit="file", desc="extract", smoothing=0.1)
    try:
        if n_jobs == 1 or len(work) <= 1:
            for job in work:
                counts = _run_shard(job)
                if bar is not None:
                    bar.update(counts["files"])
            return
        with multiprocessing.get_context().Pool(min(n_jobs, len(work))) as pool:
            for counts in pool.imap_unordered(_run_shard, work):
                if bar is not None:
                    bar.update(counts["files"])
    finally:
        if bar is not None:
            bar.close()


def _assemble(out: Path, shard_dir: Path, current: pd.DataFrame) -> tuple[Path, Path, int, dict[str, int]]:
    """Gather the newest cached result of every current file into the two output tables."""
    cache = _load_cache(shard_dir)
    key = ["source", "bytes", "mtime_ns"]
    chosen = current[key].merge(cache, on=key, how="inner")
    chosen = chosen.sort_values(["source", "shard"]).drop_duplicates("source", keep="last")
    chosen = chosen.sort_values("source", ignore_index=True)

    windows_path = out / "windows.parquet"
    n_windows = _stream_windows(shard_dir, chosen, windows_path)
    columns = ["source", "status", "reason", "n_windows", "n_notes", "bytes"]
    schema = pa.schema([_MANIFEST_SCHEMA.field(name) for name in columns])
    manifest = pa.Table.from_pandas(chosen[columns], schema=schema, preserve_index=False)
    manifest_path = out / "manifest.parquet"
    _write_parquet(manifest, manifest_path)
    counts = chosen["status"].value_counts().to_dict()
    return windows_path, manifest_path, n_windows, {k: int(v) for k, v in counts.items()}


def _stream_windows(shard_dir: Path, chosen: pd.DataFrame, path: Path) -> int:
    """Write the chosen files' windows in source order, one shard in memory at a time; the row count.

    ``chosen`` (sorted by source) names the shard holding each file's newest result. Consecutive files
    from one shard are copied together, so a fresh run reads every shard once and memory stays at one
    shard's windows whatever the corpus size; the file appears under its final name only when complete.
    """
    schema = pa.schema([pa.field("window_id", pa.int64()), *_windows_schema()])
    runs = (chosen["shard"] != chosen["shard"].shift()).cumsum()
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        loaded: tuple[str, pa.Table] | None = None
        with pq.ParquetWriter(tmp, schema) as writer:
            for _, run in chosen.groupby(runs, sort=True):
                shard = run["shard"].iloc[0]
                if loaded is None or loaded[0] != shard:
                    loaded = (shard, pq.read_table(shard_dir / f"{shard}.windows.parquet"))
                table = loaded[1]
                mask = pc.is_in(table["source"], value_set=pa.array(run["source"].tolist(), pa.string()))
                part = table.filter(mask).sort_by([("source", "ascending"), ("window_index", "ascending")])
                ids = pa.array(np.arange(written, written + part.num_rows, dtype=np.int64))
                writer.write_table(part.add_column(0, "window_id", ids))
                written += part.num_rows
            if written == 0:
                writer.write_table(schema.empty_table())

    atomic_write(path, write)
    return written


def read_windows(path: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Read ``windows.parquet`` (or the folder holding it) as ``(windows int8 (n, T), other columns)``."""
    path = Path(path)
    if path.is_dir():
        path = path / "windows.parquet"
    table = pq.read_table(path)
    column = table["window"].combine_chunks()
    n = table.num_rows
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.int8, copy=False)
    windows = values.reshape(n, -1) if n else np.zeros((0, 0), np.int8)
    frame = table.drop_columns(["window"]).to_pandas()
    return windows, frame

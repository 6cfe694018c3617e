"""Shards of a corpus run: worker processes extract files in shards, cached on disk, then gathered.

A shard is a few hundred files extracted by one worker process into ``<shard>.windows.parquet`` and
``<shard>.manifest.parquet`` (written last: its presence marks the shard done), each written to a
temporary name and renamed. :func:`run_shards` runs them in a process pool and survives a worker that
dies (killed by the out-of-memory killer, say): the pool's unfinished shards are rerun one per fresh
process, and a shard whose process dies again is rerun one file per process, so that only the file that
kills its process is recorded as failed. :func:`gather` writes the final tables from the newest cached
result of every current file, streaming one shard at a time.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from musicneurons.atomic_files import atomic_write
from musicneurons.data.corpus_files import CorpusFile, ManifestRow, extract_file
from musicneurons.data.melody import MelodyConfig, Mode

__all__ = ["MANIFEST_SCHEMA", "ShardJob", "gather", "load_cache", "run_shards", "windows_schema"]

log = logging.getLogger(__name__)

PROVENANCE = ("piece", "piece_start", "instrument", "program", "melody_start", "window_start")
MANIFEST_SCHEMA = pa.schema(
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
MANIFEST_COLUMNS = ["source", "status", "reason", "n_windows", "n_notes", "bytes"]  # what the user gets


def windows_schema(window_steps: int | None = None) -> pa.Schema:
    """Columns of a windows shard; with ``window_steps``, the schema metadata records the window length
    (so that an empty table still says how long its windows are)."""
    schema = pa.schema(
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
    return schema if window_steps is None else schema.with_metadata({"window_steps": str(window_steps)})


@dataclass(frozen=True)
class ShardJob:
    """Files for one worker: extracted from ``root`` with ``config`` into ``shard_dir/name.*.parquet``."""

    root: str
    files: tuple[CorpusFile, ...]
    config: MelodyConfig
    mode: Mode
    shard_dir: str
    name: str
    max_bytes: int

    def done(self) -> bool:
        return (Path(self.shard_dir) / f"{self.name}.manifest.parquet").exists()

    def one_file(self, i: int) -> ShardJob:
        return ShardJob(
            self.root, self.files[i : i + 1], self.config, self.mode, self.shard_dir, f"{self.name}-f{i:04d}",
            self.max_bytes,
        )  # fmt: skip


def _write_parquet(table: pa.Table, path: Path) -> None:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _list_column(windows: np.ndarray) -> pa.Array:
    n, steps = windows.shape
    offsets = pa.array(np.arange(0, (n + 1) * steps, steps, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(windows.reshape(-1), type=pa.int8()))


def run_shard(job: ShardJob) -> int:
    """Worker: extract the job's files and write one windows shard then one manifest shard; the file count."""
    manifest_rows = []
    tables = []
    sources = []
    for file in job.files:
        path = Path(job.root) / file.path
        status, reason, n_notes, table = extract_file(path, job.config, job.mode, job.max_bytes)
        n = 0 if table is None else len(table)
        manifest_rows.append((file.source, status, reason, n, n_notes, file.size, file.mtime_ns))
        if n:
            tables.append(table)
            sources.extend([file.source] * n)
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
        window_table = pa.table(columns, schema=windows_schema())
    else:
        window_table = windows_schema().empty_table()
    shard_dir = Path(job.shard_dir)
    _write_parquet(window_table, shard_dir / f"{job.name}.windows.parquet")
    manifest = pa.table(list(zip(*manifest_rows, strict=True)), schema=MANIFEST_SCHEMA)
    _write_parquet(manifest, shard_dir / f"{job.name}.manifest.parquet")  # last: marks it done
    return len(job.files)


def run_shards(jobs: list[ShardJob], n_jobs: int, update: Callable[[int], object]) -> list[ManifestRow]:
    """Run every job (in a pool of ``n_jobs`` processes, or here when ``n_jobs`` is 1); ``update(n)`` is
    called as files finish. Returns manifest rows for files whose worker process died (never cached, so
    a rerun tries them again)."""
    if n_jobs == 1 or len(jobs) <= 1:
        failed = []
        for job in jobs:
            try:
                update(run_shard(job))
            except Exception:  # MemoryError outside a file, say: retry the shard file by file, in processes
                log.warning("shard %s failed; retrying its files one by one", job.name, exc_info=True)
                failed += _run_isolated(job, update)
        return failed
    try:
        context = multiprocessing.get_context()
        with ProcessPoolExecutor(min(n_jobs, len(jobs)), mp_context=context) as pool:
            futures = [pool.submit(run_shard, job) for job in jobs]
            for future in as_completed(futures):
                update(future.result())
        return []
    except (BrokenProcessPool, Exception) as exc:  # noqa: BLE001 (a dead worker, or MemoryError in one)
        remaining = [job for job in jobs if not job.done()]
        log.warning(
            "a worker process failed (%s: %s, e.g. killed by the out-of-memory killer); "
            "%d unfinished shards are rerun one per process",
            type(exc).__name__, exc, len(remaining),
        )  # fmt: skip
    failed = []
    for job in remaining:
        failed += _run_isolated(job, update)
    return failed


def _run_isolated(job: ShardJob, update: Callable[[int], object]) -> list[ManifestRow]:
    """Run ``job`` in a fresh process; if that process dies, each of its files in a fresh process of its own.
    Manifest rows for the files whose own process died."""
    if len(job.files) > 1 and _in_process(job) == 0:
        update(len(job.files))
        return []
    failed = []
    for i, file in enumerate(job.files):
        code = _in_process(job.one_file(i))
        update(1)
        if code != 0:
            log.warning("the worker process died while extracting %s (exit code %s)", file.source, code)
            failed.append((file.source, "error", _death(code), 0, 0, file.size, file.mtime_ns))
    return failed


def _in_process(job: ShardJob) -> int | None:
    """Exit code of ``run_shard(job)`` run in a child process (negative: killed by that signal)."""
    process = multiprocessing.get_context().Process(target=run_shard, args=(job,), daemon=True)
    process.start()
    process.join()
    return process.exitcode


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"was killed by {name}" + (" (the out-of-memory killer does this)" if -code == 9 else "")
    else:
        how = f"exited with code {code}"
    return f"the worker process {how} while extracting this file"


def load_cache(shard_dir: Path) -> pd.DataFrame:
    """Every finished shard's manifest rows, with a ``shard`` column naming the shard."""
    frames = []
    for path in sorted(shard_dir.glob("*.manifest.parquet")):
        frame = pq.read_table(path).to_pandas()
        frame["shard"] = path.name.removesuffix(".manifest.parquet")
        frames.append(frame)
    if not frames:
        frame = MANIFEST_SCHEMA.empty_table().to_pandas()
        frame["shard"] = pd.Series([], dtype=str)
        return frame
    return pd.concat(frames, ignore_index=True)


def gather(
    out: Path, shard_dir: Path, current: pd.DataFrame, extra: list[ManifestRow], window_steps: int
) -> tuple[Path, Path, pd.DataFrame, int]:
    """Write ``windows.parquet`` and ``manifest.parquet`` from the newest cached result of every current
    file (``current``: source, bytes, mtime_ns) plus the uncached rows ``extra``.

    Returns (windows path, manifest path, the manifest, number of windows).
    """
    cache = load_cache(shard_dir)
    key = ["source", "bytes", "mtime_ns"]
    chosen = current[key].merge(cache, on=key, how="inner")
    chosen = chosen.sort_values(["source", "shard"]).drop_duplicates("source", keep="last")
    chosen = chosen.sort_values("source", ignore_index=True)

    windows_path = out / "windows.parquet"
    n_windows = _stream_windows(shard_dir, chosen, windows_path, window_steps)
    rows = pd.DataFrame(extra, columns=MANIFEST_SCHEMA.names)
    manifest = pd.concat([chosen[MANIFEST_COLUMNS], rows[MANIFEST_COLUMNS]], ignore_index=True)
    manifest = manifest.sort_values("source", ignore_index=True)
    schema = pa.schema([MANIFEST_SCHEMA.field(name) for name in MANIFEST_COLUMNS])
    manifest_path = out / "manifest.parquet"
    _write_parquet(pa.Table.from_pandas(manifest, schema=schema, preserve_index=False), manifest_path)
    return windows_path, manifest_path, manifest, n_windows


def _stream_windows(shard_dir: Path, chosen: pd.DataFrame, path: Path, window_steps: int) -> int:
    """Write the chosen files' windows in source order, one shard in memory at a time; the row count.

    ``chosen`` (sorted by source) names the shard holding each file's newest result. Consecutive files
    from one shard are copied together, so a fresh run reads every shard once and memory stays at one
    shard's windows whatever the corpus size; the file appears under its final name only when complete.
    """
    schema = pa.schema([pa.field("window_id", pa.int64()), *windows_schema()])
    schema = schema.with_metadata({"window_steps": str(window_steps)})
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
                part = part.add_column(0, "window_id", ids).replace_schema_metadata(schema.metadata)
                writer.write_table(part)
                written += part.num_rows
            if written == 0:
                writer.write_table(schema.empty_table())

    atomic_write(path, write)
    return written

"""Folder of MIDI files -> Parquet tables of Magenta-exact melody windows (parallel, resumable).

``extract_corpus(dir, bars, out, mode)`` walks ``dir`` recursively for ``.mid`` / ``.midi`` files,
extracts windows from each with :func:`musicneurons.data.melody.extract_windows` in worker processes, and
writes

* ``OUT/windows.parquet``: one row per window: ``window_id`` (row number), ``source`` (path relative
  to ``dir``, ``/``-separated), ``window`` (list of 90-class indices, int8), ``qpm`` (tempo of the piece
  the window comes from), and provenance ``window_index`` (order within the file), ``piece``,
  ``piece_start`` (seconds), ``instrument``, ``program``, ``melody_start``, ``window_start`` (steps
  from the piece start); the schema metadata ``window_steps`` gives the window length;
* ``OUT/manifest.parquet``: one row per file: ``source``, ``status`` (``ok``, ``no_windows``,
  ``unreadable``, ``error``), ``reason`` (empty for ``ok``, otherwise why the file gave nothing),
  ``n_windows``, ``n_notes``, ``bytes``;
* ``OUT/extract.json``: the settings and counts of the run.

Finished work is cached under ``OUT/.cache/<config>-<mode>-v<version>/`` in shards (see
:mod:`musicneurons.data.corpus_shards`); a file is reused while its path, size and modification time are
unchanged, so an interrupted or repeated run only processes what is new. One bad file never stops a run
(see :mod:`musicneurons.data.corpus_files`); a run refuses an ``OUT`` that holds windows of other settings
or another folder, or that another run is writing to.
"""

from __future__ import annotations

import contextlib
import json
import logging
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

from musicneurons.arrays import check_windows
from musicneurons.atomic_files import atomic_write, remove_stale_temporaries
from musicneurons.data.corpus_files import extract_file, find_midi_files, list_corpus
from musicneurons.data.corpus_shards import ShardJob, gather, load_cache, run_shards
from musicneurons.data.melody import Mode, config_for_bars
from musicneurons.data.midi import MAX_FILE_BYTES
from musicneurons.errors import UserError

__all__ = ["CorpusSummary", "extract_corpus", "extract_file", "find_midi_files", "read_windows"]

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # bump when extraction output changes, so old caches are not reused


@dataclass(frozen=True)
class CorpusSummary:
    """What one ``extract_corpus`` run wrote.

    ``skipped`` lists ``(status, reason, n_files)`` for the files that gave no window, the most frequent
    reason first.
    """

    windows_path: Path
    manifest_path: Path
    dir: Path
    n_files: int
    n_windows: int
    n_reused: int
    status_counts: dict[str, int]
    skipped: tuple[tuple[str, str, int], ...]
    seconds: float

    def skip_report(self, limit: int = 3) -> str:
        """The skipped files in a line: "3 skipped: 2 unreadable (truncated MIDI data ...), 1 ..."."""
        n_skipped = sum(n for _, _, n in self.skipped)
        if not n_skipped:
            return "no file skipped"
        parts = [f"{n} {status} ({reason})" for status, reason, n in self.skipped[:limit]]
        more = sum(n for _, _, n in self.skipped[limit:])
        if more:
            parts.append(f"{more} more (see {self.manifest_path})")
        return f"{n_skipped} skipped: " + ", ".join(parts)

    def diagnosis(self) -> str | None:
        """Why the run gave no window ("no MIDI file in DIR" / "0 of N files gave windows: ..."), or None."""
        if self.n_windows:
            return None
        if self.n_files == 0:
            return f"no MIDI file (.mid, .midi) in {self.dir}"
        return f"0 of {self.n_files} files in {self.dir} gave windows; {self.skip_report()}"


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
    max_bytes: int = MAX_FILE_BYTES,
    require_windows: bool = False,
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
    max_bytes : int
        Files larger than this are recorded as ``unreadable`` without being read (default 64 MB).
    require_windows : bool
        Raise :class:`~musicneurons.errors.UserError` with :meth:`CorpusSummary.diagnosis` when no file
        gave a window (the tables are written first).

    Raises
    ------
    FileNotFoundError, NotADirectoryError, PermissionError
        If ``dir`` is missing, not a folder or cannot be listed.
    musicneurons.errors.UserError
        If ``out`` is a file or not writable, holds windows of other settings or from another folder,
        or another run is writing to it.
    """
    started = time.perf_counter()
    root = _input_folder(dir)
    config = config_for_bars(bars)
    if mode not in ("all", "magenta"):
        msg = f"mode must be 'all' or 'magenta', got {mode!r}"
        raise ValueError(msg)
    out = _output_folder(out)
    settings = {"dir": str(root.resolve()), "config": config.name, "bars": bars, "mode": mode}
    shard_dir = out / ".cache" / f"{config.name}-{mode}-v{CACHE_VERSION}"
    with _exclusive(out):
        _check_settings(out, settings)
        # only OUT itself and our cache: OUT may be a big folder of other things
        stale = remove_stale_temporaries(out, recursive=False) + remove_stale_temporaries(out / ".cache")
        if stale:
            log.info("removed %d temporary files left by an interrupted run in %s", len(stale), out)
        shard_dir.mkdir(parents=True, exist_ok=True)
        files, refused = list_corpus(root, max_bytes)
        current = pd.DataFrame(
            {
                "source": pd.Series([f.source for f in files], dtype=str),
                "bytes": pd.Series([f.size for f in files], dtype="int64"),
                "mtime_ns": pd.Series([f.mtime_ns for f in files], dtype="int64"),
            }
        )
        key = ["source", "bytes", "mtime_ns"]
        done = current.merge(load_cache(shard_dir)[key].drop_duplicates(), on=key, how="inner")
        reused = set(done["source"])
        todo = [f for f in files if f.source not in reused]
        n_jobs = jobs if jobs > 0 else len(os.sched_getaffinity(0))
        size = chunk_size or max(8, min(256, len(todo) // (4 * n_jobs) + 1))
        stamp = f"{time.time_ns():x}-{os.getpid()}"
        work = [
            ShardJob(str(root), tuple(todo[i : i + size]), config, mode, str(shard_dir), name, max_bytes)
            for name, i in ((f"shard-{stamp}-{k:05d}", i) for k, i in enumerate(range(0, len(todo), size)))
        ]
        log.info(
            "%d MIDI files under %s: %d cached, %d to extract, %d refused (%s, mode %s, %d jobs)",
            len(files) + len(refused), root, len(done), len(todo), len(refused), config.name, mode, n_jobs,
        )  # fmt: skip
        with _progress_bar(progress, len(todo)) as update:
            died = run_shards(work, n_jobs, update)
        remove_stale_temporaries(shard_dir)  # what a worker killed mid-write left; every worker is done
        windows_path, manifest_path, manifest, n_windows = gather(
            out, shard_dir, current, refused + died, config.window_steps
        )
        summary = _summary(root, windows_path, manifest_path, manifest, n_windows, len(done), started)
        info = {**settings, "n_files": summary.n_files, "n_windows": n_windows, "n_reused": len(done)}
        info |= {"status_counts": summary.status_counts, "seconds": round(summary.seconds, 3)}
        atomic_write(out / "extract.json", lambda tmp: tmp.write_text(json.dumps(info, indent=2) + "\n"))
    if require_windows and summary.diagnosis():
        raise UserError(f"{summary.diagnosis()}; the manifest is {manifest_path}")
    return summary


def _summary(root, windows_path, manifest_path, manifest, n_windows, n_reused, started) -> CorpusSummary:
    skipped = manifest[manifest["status"] != "ok"]
    grouped = skipped.groupby(["status", "reason"]).size().reset_index(name="n")
    grouped = grouped.sort_values(["n", "status", "reason"], ascending=[False, True, True])
    counts = manifest["status"].value_counts().to_dict()
    return CorpusSummary(
        windows_path=windows_path,
        manifest_path=manifest_path,
        dir=root,
        n_files=len(manifest),
        n_windows=n_windows,
        n_reused=n_reused,
        status_counts={str(k): int(v) for k, v in counts.items()},
        skipped=tuple((str(s), str(r), int(n)) for s, r, n in grouped.itertuples(index=False)),
        seconds=time.perf_counter() - started,
    )


def _input_folder(dir: str | Path) -> Path:
    root = Path(dir)
    if not root.exists():
        msg = f"no such folder: {root}"
        raise FileNotFoundError(msg)
    if not root.is_dir():
        msg = f"{root} is a file, not a folder of MIDI files"
        raise NotADirectoryError(msg)
    if not os.access(root, os.R_OK | os.X_OK):
        msg = f"cannot read folder {root} (permission denied)"
        raise PermissionError(msg)
    return root


def utf8_path(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` if its name is valid UTF-8 (pyarrow reads and writes no other), else a UserError."""
    path = Path(path)
    try:
        str(path.absolute()).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UserError(f"{what} {shown}: the path is not valid UTF-8, which Parquet files need") from None
    return path


def _output_folder(out: str | Path) -> Path:
    out = utf8_path(out, "output folder")
    for folder in (out, *out.parents):  # the nearest folder that exists must be a writable folder
        if folder.exists():
            if not folder.is_dir():
                raise UserError(f"output folder {out}: {folder} is a file, not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise UserError(f"output folder {out}: cannot write to {folder} (permission denied)")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    return out


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold ``OUT/.cache/lock`` for the run: a second run into the same folder is refused, not mixed."""
    import fcntl

    (out / ".cache").mkdir(exist_ok=True)
    with (out / ".cache" / "lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"another extract run is writing to {out}; wait for it or use another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _check_settings(out: Path, settings: dict) -> None:
    """Refuse an ``out`` holding windows of other settings or another folder; record ours otherwise."""
    path = out / ".cache" / "settings.json"
    previous = None
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            previous = json.loads(path.read_text())
    elif (out / "extract.json").exists():  # written by a version without settings.json
        with contextlib.suppress(ValueError, OSError):
            previous = {
                k: v for k, v in json.loads((out / "extract.json").read_text()).items() if k in settings
            }
    if isinstance(previous, dict) and previous and previous != settings:
        before = _describe(previous)
        raise UserError(
            f"{out} holds {before}; this run asks for {_describe(settings)}: mixing them would give one "
            f"table of two kinds, so use another --out (or delete {out})"
        )
    if previous != settings:
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(settings, indent=2) + "\n"))


def _describe(settings: dict) -> str:
    bars = settings.get("bars", "?")
    return f"{bars}-bar windows (mode {settings.get('mode', '?')}) from {settings.get('dir', '?')}"


@contextlib.contextmanager
def _progress_bar(show: bool, total: int) -> Iterator:
    if not show or not total:
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="file", desc="extract", smoothing=0.1) as bar:
        yield bar.update


# --------------------------------------------------------------------------- reading the result
def read_windows(
    path: str | os.PathLike[str], *, allow_empty: bool = False
) -> tuple[np.ndarray, pd.DataFrame]:
    """Read ``windows.parquet`` (or the folder holding it) as ``(windows int8 (n, T), other columns)``.

    Raises
    ------
    FileNotFoundError
        If there is no such file (or no ``windows.parquet`` in the folder).
    musicneurons.errors.UserError
        If the file is not a Parquet windows table (no ``window`` column, windows of unequal length or
        class indices outside 0..89), or holds no window and ``allow_empty`` is False (the message says
        why, from the manifest beside it when there is one).
    """
    path = utf8_path(path, "windows table")
    if path.is_dir():
        path = path / "windows.parquet"
    if not path.exists():
        msg = f"no such file: {path}"
        raise FileNotFoundError(msg)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path} is not a readable Parquet file: {exc}") from exc
    if "window" not in table.column_names:
        raise UserError(
            f"{path} has no 'window' column: not a windows table written by `musicneurons extract`"
        )
    n = table.num_rows
    if n == 0 and not allow_empty:
        raise UserError(f"{path} holds no windows{_why_empty(path)}")
    column = table["window"].combine_chunks()
    try:
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        values = column.flatten().to_numpy(zero_copy_only=False)
    except (pa.ArrowException, TypeError) as exc:
        raise UserError(f"{path}: the 'window' column is not a list of class indices ({exc})") from exc
    if n and (lengths != lengths[0]).any():
        raise UserError(f"{path}: windows of different lengths ({sorted(set(lengths.tolist()))[:5]} steps)")
    steps = int(lengths[0]) if n else int((table.schema.metadata or {}).get(b"window_steps", 0))
    try:
        windows = check_windows(values.reshape(n, steps), name=str(path))
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    frame = table.drop_columns(["window"]).to_pandas()
    return windows, frame


def _why_empty(path: Path) -> str:
    """ ": 0 of 12 files gave windows; ..." from the manifest beside ``path``, or "" without one."""
    manifest_path = path.parent / "manifest.parquet"
    try:
        manifest = pq.read_table(manifest_path).to_pandas()
    except (pa.ArrowException, OSError):
        return ""
    if manifest.empty:
        return ": the extraction found no MIDI file"
    counts = manifest.groupby(["status", "reason"]).size().sort_values(ascending=False)
    top = ", ".join(f"{n} {status} ({reason})" for (status, reason), n in counts.head(3).items())
    return f": 0 of {len(manifest)} files gave windows ({top}; see {manifest_path})"

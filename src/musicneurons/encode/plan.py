"""Plan a corpus encoding: find the input tables, fingerprint them, cut them into parts, share parts out.

A *part* is a fixed range of rows of one input file (``part_rows`` rows, the last one of a file shorter);
parts are numbered in input order (files sorted by path, rows in file order), and part ``i`` is written to
``part-{i:06d}.parquet``. The cut depends only on the input and ``part_rows``, so every run, shard and worker
agrees on it: shard ``K`` of ``N`` takes the parts with ``i % N == K`` and the workers of one shard deal that
list out in turn. Reading is streamed batch by batch with pyarrow; nothing here holds more than a batch.

Window ids come from each table's ``window_id`` column. Tables from separate ``extract`` runs each number
their windows from 0, so in a folder of several tables the ids of a file are offset by the ids used before it
(in path order): ``offset(f) = sum over earlier files g of (max id of g + 1)``; with one input file the ids
are the input's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from musicneurons.errors import UserError

DEFAULT_PART_ROWS = 50_000
_HASH_CHUNK = 1 << 22


@dataclass(frozen=True)
class InputFile:
    """One input table: its path, row count, byte size, id offset and largest input id."""

    path: Path
    rows: int
    bytes: int
    id_offset: int
    max_id: int


@dataclass(frozen=True)
class Part:
    """Rows ``[start, stop)`` of ``file`` (an index into the input list), written as part ``index``."""

    index: int
    file: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def name(self) -> str:
        return f"part-{self.index:06d}.parquet"


# --------------------------------------------------------------------------- inputs
def find_inputs(windows: str | Path) -> list[Path]:
    """The window tables named by ``windows``: a Parquet file, or every ``*.parquet`` under a folder.

    In a folder, hidden paths (``extract``'s ``.cache``) and ``manifest.parquet`` files are skipped; the rest
    are sorted by path. Raises FileNotFoundError or UserError when nothing usable is there.
    """
    root = Path(windows)
    if not root.exists():
        msg = f"no such file or folder: {root}"
        raise FileNotFoundError(msg)
    if root.is_file():
        return [root]
    found = [
        p
        for p in root.rglob("*.parquet")
        if p.name != "manifest.parquet" and not any(s.startswith(".") for s in p.relative_to(root).parts)
    ]
    if not found:
        msg = f"{root}: no .parquet window tables in this folder (expected windows.parquet from `extract`)"
        raise UserError(msg)
    return sorted(found)


def _check_schema(path: Path) -> pq.ParquetFile:
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        msg = f"{path}: not a readable Parquet file ({exc})"
        raise UserError(msg) from exc
    names = pf.schema_arrow.names
    for column in ("window_id", "window"):
        if column not in names:
            msg = (
                f"{path}: no {column!r} column (tables from `musicneurons extract` have window_id and window)"
            )
            raise UserError(msg)
    if not pa.types.is_integer(pf.schema_arrow.field("window_id").type):
        msg = f"{path}: window_id must be an integer column, got {pf.schema_arrow.field('window_id').type}"
        raise UserError(msg)
    return pf


def _id_range(pf: pq.ParquetFile, path: Path, batch_size: int) -> int:
    """Largest window id of one file, after checking the ids are unique and >= 0 (-1 for an empty file).

    Ids that increase row by row (as ``extract`` writes them) are checked batch by batch; otherwise the whole
    column is checked at once (8 bytes per row).
    """
    previous = None
    for batch in pf.iter_batches(batch_size=batch_size, columns=["window_id"]):
        ids = batch.column(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        if ids.size == 0:
            continue
        if previous is None and ids[0] < 0:
            msg = f"{path}: window_id must be >= 0, found {ids[0]}"
            raise UserError(msg)
        if (previous is not None and ids[0] <= previous) or np.any(np.diff(ids) <= 0):
            return _id_range_unsorted(pf, path)
        previous = int(ids[-1])
    return -1 if previous is None else previous


def _id_range_unsorted(pf: pq.ParquetFile, path: Path) -> int:
    ids = pf.read(columns=["window_id"]).column(0).to_numpy().astype(np.int64, copy=False)
    unique = np.unique(ids)
    if unique.size != ids.size:
        msg = f"{path}: window_id has repeated values; encode needs one id per window"
        raise UserError(msg)
    if unique[0] < 0:
        msg = f"{path}: window_id must be >= 0, found {unique[0]}"
        raise UserError(msg)
    return int(unique[-1])


def describe_inputs(paths: list[Path], batch_size: int = 65_536) -> list[InputFile]:
    """Row counts, sizes, id offsets and id maxima of the input files (ids checked unique, see module doc)."""
    files = []
    offset = 0
    for path in paths:
        pf = _check_schema(path)
        max_id = _id_range(pf, path, batch_size)
        files.append(InputFile(path, pf.metadata.num_rows, path.stat().st_size, offset, max_id))
        offset += max_id + 1
    return files


def fingerprint_inputs(files: list[InputFile]) -> str:
    """sha256 over each file's name, size and bytes (names relative to their common folder)."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.path.name}\0{f.bytes}\0".encode())
        with open(f.path, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- parts and shards
def cut_parts(files: list[InputFile], part_rows: int = DEFAULT_PART_ROWS) -> list[Part]:
    """Every part of the input, in order (see module doc)."""
    if part_rows < 1:
        msg = f"part_rows must be >= 1, got {part_rows}"
        raise UserError(msg)
    parts: list[Part] = []
    for k, f in enumerate(files):
        for start in range(0, f.rows, part_rows):
            parts.append(Part(len(parts), k, start, min(start + part_rows, f.rows)))
    return parts


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), with 0 <= K < N (K counts from 0, as Slurm's ``--array=0-(N-1)``)."""
    try:
        k_text, n_text = text.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        msg = f"--shard must be K/N with integers, e.g. 0/4, got {text!r}"
        raise UserError(msg) from None
    if n < 1 or not 0 <= k < n:
        msg = f"--shard {text}: need N >= 1 and 0 <= K < N (K counts from 0)"
        raise UserError(msg)
    return k, n


def shard_parts(parts: list[Part], shard: tuple[int, int]) -> list[Part]:
    """The parts of shard ``K`` of ``N``: those with ``index % N == K``."""
    k, n = shard
    return [p for p in parts if p.index % n == k]


def split_among_workers(parts: list[Part], n_workers: int) -> list[list[Part]]:
    """Deal ``parts`` out to ``n_workers`` in turn (worker w gets parts w, w + n, ...), each part once."""
    if n_workers < 1:
        msg = f"need at least one worker, got {n_workers}"
        raise ValueError(msg)
    return [parts[w::n_workers] for w in range(n_workers)]


# --------------------------------------------------------------------------- reading
def read_window_tables(windows: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Every window of a table or folder, in memory, with the ids ``encode`` gives them (offsets applied).

    Returns ``(windows int8 (n, T), frame)`` as :func:`musicneurons.data.corpus.read_windows` does, the
    frame's ``window_id`` shifted by each file's offset so that it matches the ids of ``encode``'s latents.
    """
    from musicneurons.data.corpus import read_windows

    arrays, frames = [], []
    for f in describe_inputs(find_inputs(windows)):
        array, frame = read_windows(f.path)
        frame["window_id"] = frame["window_id"].to_numpy(dtype=np.int64) + f.id_offset
        arrays.append(array)
        frames.append(frame)
    steps = {a.shape[1] for a in arrays if len(a)}
    if len(steps) > 1:
        msg = f"{windows}: the tables hold windows of different lengths ({sorted(steps)} steps)"
        raise UserError(msg)
    return np.concatenate(arrays), pd.concat(frames, ignore_index=True)


def iter_part(
    file: InputFile, part: Part, batch_size: int, steps: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stream ``(window_id int64 (b,), windows int8 (b, steps))`` over the rows of one part.

    Ids already carry the file's offset. Only the row groups that overlap the part are read.
    """
    pf = pq.ParquetFile(file.path)
    groups: list[int] = []
    first_row, row = 0, 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if row < part.stop and row + n > part.start:
            first_row = first_row if groups else row
            groups.append(g)
        row += n
    if not groups:
        return
    row = first_row
    for batch in pf.iter_batches(batch_size=batch_size, row_groups=groups, columns=["window_id", "window"]):
        lo, hi = max(part.start - row, 0), min(part.stop - row, batch.num_rows)
        row += batch.num_rows
        if hi <= lo:
            if row >= part.stop:
                break
            continue
        batch = batch.slice(lo, hi - lo)
        ids = batch.column(0).to_numpy(zero_copy_only=False).astype(np.int64) + file.id_offset
        yield ids, window_matrix(batch.column(1), steps, file.path)


def window_matrix(column: pa.Array, steps: int, path: Path | str) -> np.ndarray:
    """A list column of class indices -> int8 (n, steps); raises UserError when a row has another length."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if lengths.size and (lengths.min() != steps or lengths.max() != steps):
        bad = int(np.flatnonzero(lengths != steps)[0])
        msg = (
            f"{path}: a window has {lengths[bad]} steps but the model takes {steps} (check --bars / --model)"
        )
        raise UserError(msg)
    values = column.flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.int8, copy=False).reshape(len(column), steps)

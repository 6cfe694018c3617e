"""The latents folder: ``part-*.parquet`` tables of ``window_id``, ``mu``, ``sigma``, and ``encode.json``.

Each part holds ``window_id`` (int64) and ``mu`` and ``sigma`` as fixed-size lists of ``z_size`` float32 (or
float16) values, in input order. A part appears under its final name only when complete (written beside it
and renamed), so a part file that exists is finished. ``encode.json`` (``encode-K-of-N.json`` for a shard)
records the job: model fingerprint and config, input files and fingerprint, settings, versions and counts; a
rerun refuses a folder whose record names another model, input or setting.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from musicneurons.atomic_files import atomic_write
from musicneurons.errors import UserError

FORMAT = "musicneurons-latents/1"
DTYPES = {"float32": pa.float32(), "float16": pa.float16()}
# settings that change the numbers or the cut: parts of runs that differ in any of them cannot be mixed
JOB_KEYS = ("backend", "model_fingerprint", "input_fingerprint", "part_rows", "dtype", "precision")


def latents_schema(z_size: int, dtype: str = "float32") -> pa.Schema:
    """``window_id`` int64, ``mu`` and ``sigma`` fixed-size lists of ``z_size`` values of ``dtype``."""
    value = DTYPES[dtype]
    return pa.schema(
        [
            ("window_id", pa.int64()),
            ("mu", pa.list_(value, z_size)),
            ("sigma", pa.list_(value, z_size)),
        ]
    )


def latents_table(ids: np.ndarray, mu: np.ndarray, sigma: np.ndarray, dtype: str = "float32") -> pa.Table:
    """One batch of latents as a table of :func:`latents_schema`."""
    z_size = mu.shape[1]
    value = DTYPES[dtype]
    np_dtype = np.float16 if dtype == "float16" else np.float32

    def column(x: np.ndarray) -> pa.Array:
        flat = pa.array(np.ascontiguousarray(x, dtype=np_dtype).reshape(-1), type=value)
        return pa.FixedSizeListArray.from_arrays(flat, z_size)

    arrays = [pa.array(np.asarray(ids, dtype=np.int64)), column(mu), column(sigma)]
    return pa.Table.from_arrays(arrays, schema=latents_schema(z_size, dtype))


def write_part(path: Path, schema: pa.Schema, batches: Callable[[], Any]) -> int:
    """Write the tables yielded by ``batches()`` into ``path`` atomically; returns the rows written."""
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        with pq.ParquetWriter(tmp, schema, use_dictionary=["window_id"]) as writer:
            for table in batches():
                writer.write_table(table)
                written += table.num_rows

    atomic_write(path, write)
    return written


def part_is_complete(path: Path, rows: int) -> bool:
    """Whether ``path`` is a finished part of ``rows`` rows (a readable footer with that row count)."""
    if not path.exists():
        return False
    try:
        return pq.read_metadata(path).num_rows == rows
    except (OSError, pa.ArrowInvalid):
        return False


# --------------------------------------------------------------------------- the job record
def model_fingerprint(state: dict[str, Any]) -> str:
    """sha256 over a model's state dict: names, shapes and float32 bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        array = (
            state[name].detach().to("cpu").float().numpy() if hasattr(state[name], "detach") else state[name]
        )
        array = np.ascontiguousarray(array, dtype=np.float32)
        digest.update(f"{name}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers
    (:func:`musicneurons.provenance.versions`)."""
    from musicneurons.provenance import versions as versions_of

    return versions_of(("python", "musicneurons", "torch", "numpy", "pyarrow"))


def record_name(shard: tuple[int, int]) -> str:
    """``encode.json`` for a whole run, ``encode-K-of-N.json`` for shard K of N."""
    k, n = shard
    return "encode.json" if n == 1 else f"encode-{k}-of-{n}.json"


def check_folder(out: Path, job: dict[str, Any]) -> None:
    """Refuse ``out`` if a record there names another model, input or setting (see :data:`JOB_KEYS`)."""
    for path in sorted(out.glob("encode*.json")):
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        changed = [key for key in JOB_KEYS if old.get(key) != job.get(key)]
        if changed:
            diffs = ", ".join(f"{key} {old.get(key)!r} -> {job.get(key)!r}" for key in changed)
            msg = (
                f"{out} holds latents of another job ({path.name}: {diffs}); use another --out or --overwrite"
            )
            raise UserError(msg)


def write_record(out: Path, shard: tuple[int, int], record: dict[str, Any]) -> Path:
    """Write the job record of this run (atomically) and return its path."""
    text = json.dumps({"format": FORMAT, **record, "versions": versions(), "argv": sys.argv}, indent=1)
    return atomic_write(out / record_name(shard), lambda tmp: tmp.write_text(text + "\n"))


def read_records(out: str | Path) -> list[dict[str, Any]]:
    """The job records (``encode*.json``) of a latents folder, in name order (unreadable ones skipped)."""
    records = []
    for path in sorted(Path(out).glob("encode*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return records


def folder_fingerprint(out: str | Path) -> str:
    """sha256 over a latents folder's job identity and its parts' names and sizes (changes as parts land)."""
    digest = hashlib.sha256()
    for record in read_records(out):
        digest.update(json.dumps([record.get(key) for key in JOB_KEYS]).encode())
    for path in sorted(Path(out).glob("part-*.parquet")):
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
    return digest.hexdigest()


def clear_folder(out: Path) -> None:
    """Remove the parts and records of an earlier job (``--overwrite``)."""
    for path in [*out.glob("part-*.parquet"), *out.glob("encode*.json")]:
        path.unlink()


# --------------------------------------------------------------------------- reading
def read_latents(out: str | Path, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(window_id int64 (n,), mu float32 (n, z), sigma float32 (n, z))`` from a latents folder, by part.

    With ``ids``, only those windows, in that order (memory: the selected rows plus one part); otherwise every
    row in part order. Raises UserError when the folder has no parts, an id occurs twice or one of ``ids`` is
    missing.
    """
    out = Path(out)
    paths = sorted(out.glob("part-*.parquet"))
    if not paths:
        msg = f"{out}: no part-*.parquet latents here (write them with `musicneurons encode`)"
        raise UserError(msg)
    wanted = None if ids is None else np.unique(np.asarray(ids, dtype=np.int64))
    found: list[np.ndarray] = []
    mus: list[np.ndarray] = []
    sigmas: list[np.ndarray] = []
    for path in paths:
        table = pq.read_table(path)
        z_size = table.schema.field("mu").type.list_size
        part_ids = table["window_id"].to_numpy()
        if wanted is not None:
            table = table.filter(pa.array(np.isin(part_ids, wanted)))
            part_ids = table["window_id"].to_numpy()
        found.append(part_ids)
        for name, store in (("mu", mus), ("sigma", sigmas)):
            values = table[name].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            store.append(values.astype(np.float32, copy=False).reshape(-1, z_size))
    window_id = np.concatenate(found)
    mu, sigma = np.concatenate(mus), np.concatenate(sigmas)
    if np.unique(window_id).size != window_id.size:
        msg = f"{out}: a window_id occurs in more than one part (mixed jobs?)"
        raise UserError(msg)
    if ids is None:
        return window_id, mu, sigma
    order = np.argsort(window_id)
    where = np.searchsorted(window_id[order], np.asarray(ids, dtype=np.int64))
    where = np.minimum(where, len(order) - 1) if len(order) else where
    if len(order) == 0 or not np.array_equal(window_id[order][where], np.asarray(ids, dtype=np.int64)):
        n_missing = wanted.size - window_id.size if wanted is not None else 0
        msg = f"{out}: {n_missing} of the {len(ids)} windows asked for have no latents here"
        raise UserError(msg)
    rows = order[where]
    return window_id[rows], mu[rows], sigma[rows]

"""Resumable study artifacts: each stage writes one file plus a ``.meta.json`` sidecar, atomically.

A stage is identified by a *key*: a hash of its name, its parameters and the keys of the artifacts it
reads. :func:`cached` returns the stored artifact when its sidecar carries the same key (and the file is
still there with the recorded size), and otherwise computes it, writes it under a temporary name, renames
it into place and then writes the sidecar. An interrupted run therefore leaves either a complete artifact
with its sidecar or nothing that would be mistaken for one, and the next run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from musicneurons.atomic_files import atomic_write  # re-exported: report.py writes through it

log = logging.getLogger(__name__)
T = TypeVar("T")


def stage_key(name: str, params: Mapping[str, Any], inputs: Mapping[str, str] | None = None) -> str:
    """Hex digest naming one stage run: name, package version, JSON-able ``params``, ``inputs``' keys."""
    from musicneurons import __version__

    payload = json.dumps(
        {"stage": name, "version": __version__, "params": params, "inputs": dict(inputs or {})},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def stage_rng(seed: int, name: str) -> np.random.Generator:
    """A generator for one stage, fixed by the study seed and the stage name (not by the order of stages)."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def meta_path(path: Path) -> Path:
    """The sidecar of an artifact: ``latents.npz`` -> ``latents.npz.meta.json``."""
    return path.with_name(path.name + ".meta.json")


def read_meta(path: Path) -> dict[str, Any] | None:
    """The sidecar of ``path`` as a dict, or None when the artifact is missing, incomplete or unreadable."""
    meta_file = meta_path(path)
    if not path.exists() or not meta_file.exists():
        return None
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("bytes") != path.stat().st_size:
        return None
    return meta


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the libraries that shape the numbers
    (:func:`musicneurons.provenance.versions`)."""
    from musicneurons.provenance import versions as versions_of

    return versions_of(("musicneurons", "python", "platform", "numpy", "pandas", "torch", "matplotlib"))


def json_text(data: Any) -> str:
    """The study's JSON: indented, keys in insertion order, NaN and inf as null, NumPy values as Python's."""
    return json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n"


def write_json(path: Path, data: Any) -> None:
    """Write :func:`json_text` of ``data`` atomically."""
    text = json_text(data)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _json_safe(value: Any) -> Any:
    """NumPy scalars to Python, NaN/inf to None, tuples to lists, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else None
    return value


# --------------------------------------------------------------------------- formats
def save_parquet(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def load_parquet(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def save_npz(arrays: Mapping[str, np.ndarray], path: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, write)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


FORMATS: dict[str, tuple[Callable[[Any, Path], None], Callable[[Path], Any]]] = {
    ".parquet": (save_parquet, load_parquet),
    ".npz": (save_npz, load_npz),
}


def cached(
    path: Path,
    key: str,
    compute: Callable[[], T],
    *,
    stage: str,
    params: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> T:
    """The artifact at ``path`` if its sidecar has ``key``; otherwise ``compute()``, stored and returned.

    The format follows the suffix: ``.parquet`` holds a DataFrame, ``.npz`` a dict of arrays.
    """
    save, load = FORMATS[path.suffix]
    meta = None if overwrite else read_meta(path)
    if meta is not None and meta.get("key") == key:
        log.info("%s: reusing %s", stage, path)
        return load(path)
    start = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - start
    save(value, path)
    write_json(
        meta_path(path),
        {
            "stage": stage,
            "key": key,
            "params": dict(params or {}),
            "seconds": round(seconds, 3),
            "bytes": path.stat().st_size,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": versions(),
        },
    )
    log.info("%s: wrote %s in %.1f s", stage, path, seconds)
    return value


def stage_timings(out: Path, parts: list[str]) -> dict[str, dict[str, Any]]:
    """Seconds each stage took when its artifact was computed (from the sidecars)."""
    timings: dict[str, dict[str, Any]] = {}
    for key in parts:
        for path in sorted((out / key).glob("*.meta.json")):
            meta = read_meta(path.with_name(path.name.removesuffix(".meta.json")))
            if meta:
                timings[meta["stage"]] = {"seconds": meta.get("seconds"), "created": meta.get("created")}
    return timings

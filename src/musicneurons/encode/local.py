"""Encode a corpus of window tables on this machine: one process, or one worker process per listed GPU.

``encode_corpus(windows, model, out)`` plans the parts (``plan.py``), skips those already finished in ``out``,
and streams the rest through :meth:`TrainedModel.encode <musicneurons.model.inference.TrainedModel.encode>`
batch by batch, writing each part atomically (``latents.py``). Memory stays at a few batches whatever the
corpus size. Killing the run loses at most the parts in progress; the same call again finishes the job, and
every window ends up in exactly one part.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import queue as queue_module
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from musicneurons.device import resolve_device
from musicneurons.encode.latents import (
    DTYPES,
    check_folder,
    clear_folder,
    latents_schema,
    latents_table,
    model_fingerprint,
    part_is_complete,
    write_part,
    write_record,
)
from musicneurons.encode.plan import (
    DEFAULT_PART_ROWS,
    InputFile,
    Part,
    cut_parts,
    describe_inputs,
    find_inputs,
    fingerprint_inputs,
    iter_part,
    shard_parts,
    split_among_workers,
)
from musicneurons.errors import UserError
from musicneurons.model.inference import PRECISIONS, TrainedModel
from musicneurons.model.load import load_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodeSummary:
    """What one ``encode_corpus`` run did: rows of its shard, rows encoded now and reused, time."""

    out: Path
    record_path: Path
    n_parts: int
    n_windows: int
    n_encoded: int
    n_reused: int
    seconds: float

    @property
    def windows_per_second(self) -> float:
        return self.n_encoded / self.seconds if self.seconds > 0 else 0.0


def parse_devices(text: str) -> list[str]:
    """``"auto"``, ``"cpu"``, ``"cuda"`` or a comma-separated list (``"cuda:0,cuda:1"``) -> device names."""
    devices = [d.strip() for d in str(text).split(",") if d.strip()]
    if not devices:
        msg = f"--device must name at least one device, got {text!r}"
        raise UserError(msg)
    for d in devices:
        if d not in ("auto", "cpu", "cuda") and not (d.startswith("cuda:") and d[5:].isdigit()):
            msg = f"--device {text}: {d!r} is not auto, cpu, cuda or cuda:N"
            raise UserError(msg)
    return devices


def _check_options(precision: str, dtype: str, batch_size: int) -> None:
    if precision not in PRECISIONS:
        msg = f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
        raise UserError(msg)
    if dtype not in DTYPES:
        msg = f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        raise UserError(msg)
    if batch_size < 1:
        msg = f"--batch-size must be >= 1, got {batch_size}"
        raise UserError(msg)


def job_settings(
    model: TrainedModel,
    files: list[InputFile],
    part_rows: int | None,
    dtype: str,
    precision: str,
    backend: str = "local",
) -> dict[str, Any]:
    """The job's identity (see ``latents.JOB_KEYS``) plus what a reader needs to know about the model."""
    return {
        "backend": backend,
        "model_fingerprint": model_fingerprint(model.module.state_dict()),
        "input_fingerprint": fingerprint_inputs(files),
        "part_rows": part_rows,
        "dtype": dtype,
        "precision": precision,
        "model_config": model.config.to_dict(),
        "z_size": model.config.z_size,
        "inputs": [
            {"path": str(f.path), "rows": f.rows, "bytes": f.bytes, "id_offset": f.id_offset} for f in files
        ],
    }


def encode_parts(
    model: TrainedModel,
    files: list[InputFile],
    parts: Sequence[Part],
    out: Path,
    *,
    batch_size: int = 512,
    dtype: str = "float32",
    on_rows: Callable[[int], object] | None = None,
) -> int:
    """Encode ``parts`` into ``out/part-*.parquet`` with ``model``; returns the rows written."""
    schema = latents_schema(model.config.z_size, dtype)
    steps = model.config.max_seq_len
    rng = np.random.default_rng(0)  # TrainedModel.encode also draws z; only mu and sigma are kept
    total = 0

    def tables(part: Part) -> Iterator[pa.Table]:
        for ids, windows in iter_part(files[part.file], part, batch_size, steps):
            try:
                _, mu, sigma = model.encode(windows, batch_size=batch_size, rng=rng)
            except ValueError as exc:  # class indices out of range
                msg = f"{files[part.file].path}: {exc}"
                raise UserError(msg) from exc
            yield latents_table(ids, mu, sigma, dtype)
            if on_rows is not None:
                on_rows(len(ids))

    for part in parts:
        total += write_part(out / part.name, schema, functools.partial(tables, part))
    return total


def encode_corpus(
    windows: str | Path,
    model: str | Path | TrainedModel,
    out: str | Path,
    *,
    shard: tuple[int, int] = (0, 1),
    devices: Sequence[str] = ("auto",),
    precision: str = "fp32",
    batch_size: int = 512,
    dtype: str = "float32",
    part_rows: int = DEFAULT_PART_ROWS,
    overwrite: bool = False,
    progress: bool = False,
) -> EncodeSummary:
    """Encode every window of ``windows`` (a table or a folder of them) into the latents folder ``out``.

    Parameters
    ----------
    windows : path
        A ``windows.parquet`` from ``extract`` or a folder of them (columns ``window_id`` and ``window``).
    model : str, path or TrainedModel
        A model name or path as :func:`~musicneurons.model.checkpoints.load_model` takes, or a loaded model
        (then ``devices`` and ``precision`` are the model's own and one worker runs).
    out : path
        The latents folder (see ``latents.py``); finished parts found there are kept.
    shard : (K, N)
        Encode only the parts with ``index % N == K``.
    devices : sequence of str
        One worker per device; several devices run in spawned processes, each loading the model.
    precision : {"fp32", "bf16"}
        Matmul precision of the encoder.
    batch_size : int
        Windows per read and per forward pass.
    dtype : {"float32", "float16"}
        Storage type of mu and sigma.
    part_rows : int
        Rows per part file (the unit of resume and of sharding).
    overwrite : bool
        Delete the parts and records of an earlier job in ``out`` first.
    progress : bool
        Show a tqdm bar with windows per second on stderr.
    """
    started = time.perf_counter()
    _check_options(precision, dtype, batch_size)
    files = describe_inputs(find_inputs(windows))
    if isinstance(model, TrainedModel):
        devices, precision = [str(model.device)], model.precision
        trained = model
    else:
        devices = list(devices)
        for device in devices:
            try:
                resolve_device(device)
            except (ValueError, RuntimeError) as exc:
                raise UserError(str(exc)) from exc
        first = "cpu" if len(devices) > 1 else devices[0]
        trained = load_model(model, device=first, precision=precision, batch_size=batch_size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    job = job_settings(trained, files, part_rows, dtype, precision)
    if overwrite:
        clear_folder(out)
    check_folder(out, job)
    parts = shard_parts(cut_parts(files, part_rows), shard)
    todo = [p for p in parts if not part_is_complete(out / p.name, p.rows)]
    n_windows = sum(p.rows for p in parts)
    n_todo = sum(p.rows for p in todo)
    source = "TrainedModel" if isinstance(model, TrainedModel) else str(model)
    record = {**job, "model": source, "shard": list(shard), "devices": devices, "batch_size": batch_size}
    record["complete"] = False
    record["n_parts"], record["n_windows"] = len(parts), n_windows
    write_record(out, shard, record)
    log.info("%d windows in %d parts (%d to encode) on %s", n_windows, len(parts), n_todo, ",".join(devices))
    bar = _progress_bar(n_windows, n_windows - n_todo, progress)
    try:
        if len(devices) == 1 or not todo:
            encode_parts(trained, files, todo, out, batch_size=batch_size, dtype=dtype, on_rows=bar.update)
        else:
            _run_workers(str(model), devices, precision, batch_size, dtype, files, todo, out, bar.update)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    record.update(complete=True, n_encoded=n_todo, n_reused=n_windows - n_todo, seconds=round(seconds, 3))
    path = write_record(out, shard, record)
    return EncodeSummary(out, path, len(parts), n_windows, n_todo, n_windows - n_todo, seconds)


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, initial=initial, unit="window", unit_scale=True, desc="encode", disable=not enabled
    )


# --------------------------------------------------------------------------- several workers
def _worker(
    index: int,
    model_source: str,
    device: str,
    precision: str,
    batch_size: int,
    dtype: str,
    files: list[InputFile],
    parts: list[Part],
    out: str,
    messages: Any,
) -> None:
    """One spawned worker: load the model on ``device`` and encode its parts, reporting rows as it goes."""
    try:
        model = load_model(model_source, device=device, precision=precision, batch_size=batch_size)
        encode_parts(
            model,
            files,
            parts,
            Path(out),
            batch_size=batch_size,
            dtype=dtype,
            on_rows=lambda n: messages.put(("rows", index, n)),
        )
        messages.put(("done", index, 0))
    except BaseException as exc:  # noqa: BLE001 (reported to the parent, which raises)
        text = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        messages.put(("user-error" if isinstance(exc, UserError) else "error", index, text))


def _run_workers(
    model_source: str,
    devices: list[str],
    precision: str,
    batch_size: int,
    dtype: str,
    files: list[InputFile],
    parts: list[Part],
    out: Path,
    on_rows: Callable[[int], object],
) -> None:
    """Spawn one worker per device over :func:`~musicneurons.encode.plan.split_among_workers`'s groups."""
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked children
    messages = context.Queue()
    devices = devices[: len(parts)]  # no worker without a part
    groups = split_among_workers(parts, len(devices))
    workers = [
        context.Process(
            target=_worker,
            args=(
                w,
                model_source,
                devices[w],
                precision,
                batch_size,
                dtype,
                files,
                groups[w],
                str(out),
                messages,
            ),
        )
        for w in range(len(devices))
    ]
    for process in workers:
        process.start()
    pending, errors = set(range(len(workers))), []
    while pending:
        try:
            kind, index, value = messages.get(timeout=1.0)
        except queue_module.Empty:
            for w in list(pending):
                if workers[w].exitcode is not None:  # died without a word (killed, out of memory)
                    pending.discard(w)
                    errors.append(
                        ("error", f"worker {w} on {devices[w]} exited with code {workers[w].exitcode}")
                    )
            continue
        if kind == "rows":
            on_rows(value)
        else:
            pending.discard(index)
            if kind != "done":
                errors.append((kind, f"worker {index} on {devices[index]}: {value}"))
    for process in workers:
        process.join()
    if errors:
        text = "; ".join(message for _, message in errors)
        if all(kind == "user-error" for kind, _ in errors):
            raise UserError(text.splitlines()[0])
        msg = f"encoding failed (finished parts are kept; rerun to resume): {text}"
        raise RuntimeError(msg)

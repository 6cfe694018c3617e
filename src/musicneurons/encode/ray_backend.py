"""The Ray backend: the same encoding job on a Ray cluster (optional extra ``musicneurons[ray]``).

Ray Data reads the input tables (``read_parquet``), a pool of encoder actors each holding the model (one GPU
each when there are GPUs) turns batches into ``window_id``, ``mu``, ``sigma`` tables of the local backend's
schema, and ``write_parquet`` writes them as ``part-ray-*.parquet`` into the same kind of latents folder,
with the same ``encode.json`` record. ``--shard`` is not used: the cluster is the coordinator.

Resume: before a run, every ``part-ray-*.parquet`` already in the folder with a valid Parquet footer is
finished (a footer is written last, so a file torn by a crash has none and is deleted); the ids it holds are
passed to the actors, which drop those rows before encoding. So a rerun after any failure encodes only the
missing windows and every window ends up once. Output names come from the run (a fresh prefix each time),
never from the rows, so nothing is keyed on them.

Facts about Ray on small machines that shape this file (docs/encoding.md): a local Ray deadlocks when the
actors reserve every logical CPU, so it is started with more logical CPUs than cores and actors take
fractional CPUs; list columns are read as Arrow (``batch_format="pyarrow"``), not NumPy object arrays.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from musicneurons.encode.latents import check_folder, clear_folder, write_record
from musicneurons.encode.local import EncodeSummary, _check_options, job_settings
from musicneurons.encode.plan import DEFAULT_PART_ROWS, describe_inputs, find_inputs, window_matrix
from musicneurons.errors import UserError
from musicneurons.model.load import load_model

log = logging.getLogger(__name__)

INSTALL_HINT = "the Ray backend needs Ray: pip install 'musicneurons[ray]' (or 'ray[data]>=2.55,<3')"
RAY_PREFIX = "part-ray-"
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # the Data library is a separate extra of Ray
    except ImportError as exc:
        raise UserError(INSTALL_HINT) from exc
    return ray


def _local_path(path: str) -> str:
    """A path as Ray reports it (``include_paths``), normalised for matching with our input list."""
    for scheme in ("file://", "local://"):
        path = path.removeprefix(scheme)
    return str(Path(path).resolve())


class _Encoder:
    """A Ray actor: loads the model once, then encodes Arrow batches of (window_id, window[, path])."""

    def __init__(
        self,
        model: str,
        device: str,
        precision: str,
        batch_size: int,
        dtype: str,
        offsets: dict[str, int],
        done: Any,
        fail_after_batches: int | None = None,
    ) -> None:
        self.model = load_model(model, device=device, precision=precision, batch_size=batch_size)
        self.batch_size, self.dtype, self.offsets = batch_size, dtype, offsets
        self.done = np.asarray(done, dtype=np.int64)  # sorted ids already written
        self.fail_after_batches = fail_after_batches
        self.rng = np.random.default_rng(0)
        self.calls = 0

    def __call__(self, batch: pa.Table) -> pa.Table:
        from musicneurons.encode.latents import latents_table

        self.calls += 1
        if self.fail_after_batches is not None and self.calls > self.fail_after_batches:
            msg = f"injected failure after {self.fail_after_batches} batches"
            raise RuntimeError(msg)
        ids = batch.column("window_id").to_numpy(zero_copy_only=False).astype(np.int64)
        if "path" in batch.column_names:
            paths = batch.column("path").to_pylist()
            ids = ids + np.array([self.offsets[_local_path(p)] for p in paths], dtype=np.int64)
        keep = ~np.isin(ids, self.done, assume_unique=True) if self.done.size else np.ones(len(ids), bool)
        steps = self.model.config.max_seq_len
        windows = window_matrix(batch.column("window").filter(pa.array(keep)), steps, "ray input")
        _, mu, sigma = self.model.encode(windows, batch_size=self.batch_size, rng=self.rng)
        return latents_table(ids[keep], mu, sigma, self.dtype)


def finished_ids(out: Path) -> np.ndarray:
    """Sorted ids of the finished Ray parts in ``out``; torn parts (no valid footer) are deleted."""
    ids = []
    for path in sorted(out.glob(f"{RAY_PREFIX}*.parquet")):
        try:
            pq.read_metadata(path)
        except (OSError, pa.ArrowInvalid):
            log.info("removing %s: torn by an interrupted run", path.name)
            path.unlink()
            continue
        ids.append(pq.read_table(path, columns=["window_id"]).column(0).to_numpy())
    return np.sort(np.concatenate(ids)) if ids else np.zeros(0, np.int64)


def _start_ray(ray: Any, address: str | None) -> bool:
    """Join ``address`` (or RAY_ADDRESS), or start a local Ray sized for small machines; True if started."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
        return True
    cores = os.cpu_count() or 1
    ray.init(
        num_cpus=max(8, 4 * cores),  # more logical CPUs than cores: read tasks need slots beside the actors
        include_dashboard=False,
        object_store_memory=LOCAL_OBJECT_STORE_BYTES,
        logging_level=logging.WARNING,
    )
    return True


def encode_corpus_ray(
    windows: str | Path,
    model: str | Path,
    out: str | Path,
    *,
    address: str | None = None,
    actors: int | None = None,
    use_gpus: bool = True,
    shard: tuple[int, int] = (0, 1),
    precision: str = "fp32",
    batch_size: int = 512,
    dtype: str = "float32",
    part_rows: int | None = None,
    overwrite: bool = False,
    fail_after_batches: int | None = None,
) -> EncodeSummary:
    """Encode ``windows`` into the latents folder ``out`` on Ray (see module doc).

    ``model`` must be a name or path every Ray node can load. ``actors``: encoder actors (default one per
    GPU of the cluster when ``use_gpus`` and there are GPUs, else 2). ``part_rows`` and ``shard`` exist for
    signature parity with :func:`~musicneurons.encode.local.encode_corpus`: Ray sizes its own files, and a
    shard other than 0/1 is refused. ``fail_after_batches`` makes every actor raise after that many batches
    (tests use it to check resuming).
    """
    started = time.perf_counter()
    _check_options(precision, dtype, batch_size)
    if tuple(shard) != (0, 1):
        msg = "--shard is for the local backend; a Ray cluster splits the work itself (use --backend local)"
        raise UserError(msg)
    part_rows = part_rows or DEFAULT_PART_ROWS
    ray = _import_ray()
    files = describe_inputs(find_inputs(windows))
    trained = load_model(model, device="cpu")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    job = job_settings(trained, files, None, dtype, precision, backend="ray")
    if overwrite:
        clear_folder(out)
    check_folder(out, job)
    n_windows = sum(f.rows for f in files)
    done = finished_ids(out)
    record = {**job, "model": str(model), "batch_size": batch_size, "complete": False, "n_windows": n_windows}
    write_record(out, (0, 1), record)
    if done.size < n_windows:
        started_ray = _start_ray(ray, address)
        try:
            settings = (precision, batch_size, dtype, part_rows, actors, use_gpus, fail_after_batches)
            _run_pipeline(ray, files, str(model), out, done, *settings)
        finally:
            if started_ray:
                ray.shutdown()
    n_now = finished_ids(out).size
    if n_now != n_windows:
        msg = f"Ray wrote {n_now} of {n_windows} windows into {out}; rerun to finish"
        raise RuntimeError(msg)
    seconds = time.perf_counter() - started
    n_parts = len(list(out.glob(f"{RAY_PREFIX}*.parquet")))
    record.update(
        complete=True, n_parts=n_parts, n_encoded=n_windows - int(done.size), n_reused=int(done.size)
    )
    record["seconds"] = round(seconds, 3)
    path = write_record(out, (0, 1), record)
    return EncodeSummary(out, path, n_parts, n_windows, n_windows - int(done.size), int(done.size), seconds)


def _run_pipeline(
    ray: Any,
    files: list,
    model: str,
    out: Path,
    done: np.ndarray,
    precision: str,
    batch_size: int,
    dtype: str,
    part_rows: int,
    actors: int | None,
    use_gpus: bool,
    fail_after_batches: int | None,
) -> None:
    from ray.data.datasource import FilenameProvider

    class PartNames(FilenameProvider):
        def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
            return f"{RAY_PREFIX}{write_uuid}-{task_index:06d}.parquet"

    gpus = int(ray.cluster_resources().get("GPU", 0)) if use_gpus else 0
    n_actors = actors or (gpus if gpus else 2)
    several = len(files) > 1
    offsets = {_local_path(str(f.path)): f.id_offset for f in files}
    columns = ["window_id", "window", "path"] if several else ["window_id", "window"]
    ds = ray.data.read_parquet([str(f.path) for f in files], include_paths=several).select_columns(columns)
    # streaming, no shuffle: blocks of <= part_rows rows, so each output file (resume unit) stays small
    ds = ds.repartition(target_num_rows_per_block=part_rows)
    encoded = ds.map_batches(
        _Encoder,
        fn_constructor_kwargs={
            "model": model,
            "device": "cuda" if gpus else "cpu",
            "precision": precision,
            "batch_size": batch_size,
            "dtype": dtype,
            "offsets": offsets,
            "done": done,
            "fail_after_batches": fail_after_batches,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=n_actors),
        num_gpus=1 if gpus else 0,
        num_cpus=0.5,
    )
    encoded.write_parquet(str(out), filename_provider=PartNames(file_format="parquet"))

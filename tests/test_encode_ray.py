"""``musicneurons encode --backend ray`` on a local Ray started here: equal to the local backend; resumes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from encode_fixtures import random_windows, save_tiny_model, write_windows
from musicneurons.encode import encode_corpus, read_latents
from musicneurons.errors import UserError

ray = pytest.importorskip("ray", reason="the test extra installs Ray: pip install -e '.[test]'")
from musicneurons.encode.ray_backend import RAY_PREFIX, encode_corpus_ray

# Ray's own modules warn about their own deprecated settings while starting (not ours to fix)
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:ray.*"),
]


@pytest.fixture(scope="module")
def local_ray() -> None:
    """One local Ray for the module: more logical CPUs than cores, or read tasks starve beside the actors."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=8, include_dashboard=False, object_store_memory=256 * 1024**2, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two extract-style tables (ids 0..n-1 each), a tiny model, and the local backend's latents."""
    root = tmp_path_factory.mktemp("ray")
    rng = np.random.default_rng(11)
    write_windows(root / "windows" / "a" / "windows.parquet", random_windows(500, rng), row_group=100)
    write_windows(root / "windows" / "b" / "windows.parquet", random_windows(260, rng), row_group=100)
    model = save_tiny_model(root / "model")
    encode_corpus(root / "windows", model, root / "local", devices=["cpu"], part_rows=100)
    return {
        "root": root,
        "windows": root / "windows",
        "model": str(model),
        "local": read_latents(root / "local"),
    }


def _assert_same_as_local(out: Path, local: tuple) -> None:
    ids, mu, sigma = read_latents(out)
    order = np.argsort(ids)
    np.testing.assert_array_equal(ids[order], local[0])  # every window exactly once
    np.testing.assert_allclose(mu[order], local[1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(sigma[order], local[2], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_ray_backend_resumes_to_the_local_backends_latents(local_ray: None, job: dict) -> None:
    out = job["root"] / "ray"
    out.mkdir()
    # an earlier run left one finished file (the first local part, 100 rows, under a Ray name) and a torn one
    shutil.copy(job["root"] / "local" / "part-000000.parquet", out / f"{RAY_PREFIX}earlier-000000.parquet")
    (out / f"{RAY_PREFIX}earlier-000001.parquet").write_bytes(b"PAR1 torn by a crash")
    settings = {"batch_size": 125, "part_rows": 250, "actors": 1, "use_gpus": False}
    # then an actor fails mid-run: the job stops
    with pytest.raises(Exception, match="injected failure after 2 batches"):
        encode_corpus_ray(job["windows"], job["model"], out, fail_after_batches=2, **settings)
    assert not (out / f"{RAY_PREFIX}earlier-000001.parquet").exists()
    kept = sum(pq.read_metadata(p).num_rows for p in out.glob(f"{RAY_PREFIX}*.parquet"))
    assert kept >= 100
    # the same call again encodes only what is missing, and every window ends up once
    summary = encode_corpus_ray(job["windows"], job["model"], out, **settings)
    assert (summary.n_windows, summary.n_encoded, summary.n_reused) == (760, 760 - kept, kept)
    assert (out / f"{RAY_PREFIX}earlier-000000.parquet").exists()
    _assert_same_as_local(out, job["local"])


def test_ray_backend_refuses_shards_and_foreign_folders(job: dict) -> None:
    with pytest.raises(UserError, match="--shard is for the local backend"):
        encode_corpus_ray(job["windows"], job["model"], job["root"] / "x", shard=(1, 2))
    with pytest.raises(UserError, match="backend 'local' -> 'ray'"):
        encode_corpus_ray(job["windows"], job["model"], job["root"] / "local")

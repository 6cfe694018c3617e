"""``musicneurons encode`` (local backend): equal to TrainedModel.encode, sharded, resumable, streamed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from encode_fixtures import (
    TINY,
    TINY_STUDY,
    encoded_nottingham,
    random_windows,
    save_tiny_model,
    write_windows,
)
from musicneurons.cli import main
from musicneurons.encode import encode_corpus, parse_devices, parse_shard, read_latents
from musicneurons.encode.plan import Part, cut_parts, describe_inputs, shard_parts, split_among_workers
from musicneurons.errors import UserError
from musicneurons.model.load import load_model


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two extract-style tables (ids 0..n-1 each) in one folder, a tiny model, and the reference latents."""
    root = tmp_path_factory.mktemp("encode")
    rng = np.random.default_rng(7)
    a, b = random_windows(230, rng), random_windows(101, rng)
    write_windows(root / "windows" / "a" / "windows.parquet", a)
    write_windows(root / "windows" / "b" / "windows.parquet", b)
    (root / "windows" / "a" / "manifest.parquet").write_bytes(b"not a window table")  # skipped by name
    model_dir = save_tiny_model(root / "model")
    model = load_model(model_dir, device="cpu")
    _, mu, sigma = model.encode(np.concatenate([a, b]), batch_size=331)  # one call over all windows
    ids = np.concatenate([np.arange(230), 230 + np.arange(101)])  # b's ids shift past a's
    return {
        "root": root,
        "windows": root / "windows",
        "model": model_dir,
        "ids": ids,
        "mu": mu,
        "sigma": sigma,
    }


def _run(corpus: dict, out: Path, **kwargs) -> object:
    kwargs.setdefault("part_rows", 37)
    kwargs.setdefault("batch_size", 16)
    return encode_corpus(corpus["windows"], corpus["model"], out, devices=["cpu"], **kwargs)


def test_latents_equal_trained_model_encode(corpus: dict, tmp_path: Path) -> None:
    summary = _run(corpus, tmp_path / "out")
    assert (summary.n_windows, summary.n_encoded, summary.n_reused) == (331, 331, 0)
    assert summary.n_parts == 7 + 3  # 230 rows -> 7 parts of <= 37, 101 rows -> 3
    ids, mu, sigma = read_latents(tmp_path / "out")
    np.testing.assert_array_equal(ids, corpus["ids"])
    np.testing.assert_allclose(mu, corpus["mu"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(sigma, corpus["sigma"], rtol=0, atol=1e-5)
    schema = pq.read_schema(tmp_path / "out" / "part-000000.parquet")
    assert schema.field("window_id").type == pa.int64()
    for name in ("mu", "sigma"):
        kind = schema.field(name).type
        assert pa.types.is_fixed_size_list(kind)
        assert (kind.list_size, kind.value_type) == (TINY.z_size, pa.float32())
    record = (tmp_path / "out" / "encode.json").read_text()
    assert '"complete": true' in record
    assert '"n_windows": 331' in record


def test_float16_storage_rounds_the_same_numbers(corpus: dict, tmp_path: Path) -> None:
    _run(corpus, tmp_path / "out", dtype="float16", part_rows=1000)
    _, mu, sigma = read_latents(tmp_path / "out")
    np.testing.assert_array_equal(mu, corpus["mu"].astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(sigma, corpus["sigma"].astype(np.float16).astype(np.float32))
    assert (
        pq.read_schema(tmp_path / "out" / "part-000000.parquet").field("mu").type.value_type == pa.float16()
    )


def test_shards_union_equals_one_run(corpus: dict, tmp_path: Path) -> None:
    _run(corpus, tmp_path / "whole")
    for k in range(3):
        summary = _run(corpus, tmp_path / "shards", shard=(k, 3))
        assert summary.n_parts in (3, 4)
    whole = sorted(p.name for p in (tmp_path / "whole").glob("part-*.parquet"))
    assert whole == sorted(p.name for p in (tmp_path / "shards").glob("part-*.parquet"))
    for name in whole:
        assert pq.read_table(tmp_path / "whole" / name).equals(pq.read_table(tmp_path / "shards" / name))
    assert sorted(p.name for p in (tmp_path / "shards").glob("encode*.json")) == [
        "encode-0-of-3.json",
        "encode-1-of-3.json",
        "encode-2-of-3.json",
    ]


def test_rerun_keeps_finished_parts_and_redoes_missing_ones(corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(corpus, out)
    kept = out / "part-000000.parquet"
    stamp = kept.stat().st_mtime_ns
    (out / "part-000004.parquet").unlink()
    (out / "part-000009.parquet").write_bytes(b"torn")  # not a finished part: redone
    summary = _run(corpus, out)
    assert (summary.n_encoded, summary.n_reused) == (37 + 27, 331 - 37 - 27)
    assert kept.stat().st_mtime_ns == stamp
    ids, mu, _ = read_latents(out)
    np.testing.assert_array_equal(ids, corpus["ids"])
    np.testing.assert_allclose(mu, corpus["mu"], rtol=0, atol=1e-5)


def test_kill_9_then_rerun_gives_every_window_once(corpus: dict, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    windows = random_windows(6000, rng)
    table = write_windows(tmp_path / "big" / "windows.parquet", windows, row_group=1000)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "musicneurons", "encode", str(table), "--model", str(corpus["model"])]
    command += ["--out", str(out), "--part-rows", "200", "--batch-size", "8", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command + ["--no-progress"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(out.glob("part-*.parquet"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_at_kill = len(list(out.glob("part-*.parquet")))
    assert 3 <= done_at_kill < 30, "the run must be killed mid-way"
    summary = encode_corpus(table, corpus["model"], out, devices=["cpu"], part_rows=200, batch_size=64)
    assert summary.n_reused >= 200 * done_at_kill
    ids, mu, _ = read_latents(out)
    np.testing.assert_array_equal(ids, np.arange(6000))  # every window exactly once, in order
    _, expected, _ = load_model(corpus["model"], device="cpu").encode(windows[::500])
    np.testing.assert_allclose(mu[::500], expected, rtol=0, atol=1e-5)


def test_another_job_in_the_same_folder_is_refused(corpus: dict, tmp_path: Path) -> None:
    _run(corpus, tmp_path / "out", part_rows=1000)
    with pytest.raises(UserError, match="dtype 'float32' -> 'float16'"):
        _run(corpus, tmp_path / "out", part_rows=1000, dtype="float16")
    other = save_tiny_model(tmp_path / "other", seed=1)
    with pytest.raises(UserError, match="model_fingerprint"):
        encode_corpus(corpus["windows"], other, tmp_path / "out", devices=["cpu"], part_rows=1000)
    summary = _run(corpus, tmp_path / "out", part_rows=1000, dtype="float16", overwrite=True)
    assert summary.n_encoded == 331


def test_parts_shards_and_workers_cover_every_part_once(corpus: dict) -> None:
    files = describe_inputs(sorted(corpus["windows"].rglob("windows.parquet")))
    assert [(f.rows, f.id_offset, f.max_id) for f in files] == [(230, 0, 229), (101, 230, 100)]
    parts = cut_parts(files, 37)
    assert [(p.file, p.start, p.stop) for p in parts[6:8]] == [(0, 222, 230), (1, 0, 37)]
    seen = []
    for k in range(4):
        mine = shard_parts(parts, (k, 4))
        assert all(p.index % 4 == k for p in mine)
        for group in split_among_workers(mine, 3):
            seen.extend(p.index for p in group)
    assert sorted(seen) == list(range(len(parts)))
    groups = split_among_workers([Part(i, 0, i, i + 1) for i in range(8)], 3)
    assert [[p.index for p in g] for g in groups] == [[0, 3, 6], [1, 4, 7], [2, 5]]


def test_device_and_shard_options() -> None:
    assert parse_devices("cuda:0, cuda:1") == ["cuda:0", "cuda:1"]
    assert parse_devices("auto") == ["auto"]
    assert parse_shard("3/8") == (3, 8)
    for bad in ("8/8", "-1/2", "1", "a/b"):
        with pytest.raises(UserError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(UserError, match="'gpu0' is not"):
        parse_devices("cuda:0,gpu0")


def test_bad_inputs_are_user_errors(corpus: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    model = corpus["model"]
    with pytest.raises(FileNotFoundError):
        encode_corpus(tmp_path / "missing.parquet", model, tmp_path / "o1", devices=["cpu"])
    long = write_windows(tmp_path / "long.parquet", random_windows(5, rng, steps=256))
    with pytest.raises(UserError, match="256 steps but the model takes 32"):
        encode_corpus(long, model, tmp_path / "o2", devices=["cpu"])
    twice = write_windows(tmp_path / "twice.parquet", random_windows(4, rng), ids=[3, 1, 3, 0])
    with pytest.raises(UserError, match="repeated"):
        encode_corpus(twice, model, tmp_path / "o3", devices=["cpu"])
    bad = random_windows(4, rng)
    bad[2, 5] = 95
    with pytest.raises(UserError, match="class 95 outside"):
        encode_corpus(write_windows(tmp_path / "bad.parquet", bad), model, tmp_path / "o4", devices=["cpu"])
    with pytest.raises(UserError, match="--batch-size"):
        encode_corpus(long, model, tmp_path / "o5", devices=["cpu"], batch_size=0)
    code = main(
        ["encode", str(tmp_path / "long.parquet"), "--model", str(model), "--out", str(tmp_path / "o6")]
    )
    assert code == 2
    assert "256 steps" in capsys.readouterr().err


@pytest.mark.slow
def test_two_worker_processes_match_one(corpus: dict, tmp_path: Path) -> None:
    summary = encode_corpus(
        corpus["windows"], corpus["model"], tmp_path / "out", devices=["cpu", "cpu"], part_rows=100
    )
    assert summary.n_encoded == 331
    ids, mu, _ = read_latents(tmp_path / "out")
    np.testing.assert_array_equal(ids, corpus["ids"])
    np.testing.assert_allclose(mu, corpus["mu"], rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- the study reads them
@pytest.mark.slow
def test_study_reads_precomputed_latents(tmp_path: Path, corpora_dir: Path) -> None:
    from musicneurons.study.config import StudyConfig, StudyError
    from musicneurons.study.pipeline import run_study

    windows, frame, model = encoded_nottingham(corpora_dir, tmp_path, 6)

    study = {"model": str(model), "windows": str(tmp_path / "windows"), "n_random": 0, "device": "cpu"}
    study |= {"ablation_steps": 0, "figure_workers": 0, "progress": False}
    run_study(StudyConfig(latents=str(tmp_path / "latents"), **study), tmp_path / "study")
    stored = np.load(tmp_path / "study" / "2bar" / "latents.npz")
    _, mu, sigma = load_model(model, device="cpu").encode(windows)  # the reference: every window, in order
    assert len(frame) == len(stored["mu"]) >= 20
    np.testing.assert_allclose(stored["mu"], mu, rtol=0, atol=1e-5)
    np.testing.assert_allclose(stored["sigma"], sigma, rtol=0, atol=1e-5)

    other = save_tiny_model(tmp_path / "other", seed=1, config=TINY_STUDY)
    with pytest.raises(StudyError, match="encoded by another model"):
        run_study(
            StudyConfig(latents=str(tmp_path / "latents"), **(study | {"model": str(other)})), tmp_path / "s2"
        )
    few = write_windows(tmp_path / "few" / "windows.parquet", windows[:10])  # ids 0..9 only
    encode_corpus(few, model, tmp_path / "few_latents", devices=["cpu"])
    with pytest.raises(StudyError, match="have no latents here"):
        run_study(StudyConfig(latents=str(tmp_path / "few_latents"), **study), tmp_path / "s3")
    shuffled = write_windows(tmp_path / "shuffled" / "windows.parquet", windows[::-1].copy())  # same ids
    encode_corpus(shuffled, model, tmp_path / "shuffled_latents", devices=["cpu"])
    with pytest.raises(StudyError, match="computed from other windows"):
        run_study(StudyConfig(latents=str(tmp_path / "shuffled_latents"), **study), tmp_path / "s4")

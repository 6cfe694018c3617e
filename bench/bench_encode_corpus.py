"""Benchmark: ``encode_corpus`` over a generated table of a million 2-bar windows; windows/s and peak RSS.

It writes a ``windows.parquet`` of ``--n`` random windows in ``extract``'s layout (row groups of 65,536, as
``pyarrow`` writes a streamed table), saves a tiny random MusicVAE (z = 16, one encoder layer of 16 units, so
the run measures the pipeline: reading, converting, writing, not the LSTM), encodes the table with the local
backend and prints windows/s and the peak resident memory of the process (target: < 2 GB whatever ``--n``).
``--model default-2bar`` (or any model name or folder) measures a real model instead; keep ``--n`` small then.

Run:  .venv/bin/python bench/bench_encode_corpus.py [--n 1000000] [--batch-size 1024] [--model tiny]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from machine import cpu_model, load_average
from musicneurons.encode import encode_corpus
from musicneurons.model.checkpoints import save_model
from musicneurons.model.load import load_model
from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig

TARGET_RSS_GB = 2.0


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux


def write_table(path: Path, n: int, steps: int, seed: int = 0, chunk: int = 65_536) -> None:
    """n random windows in chunks (memory stays at one chunk), ids 0..n-1."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([("window_id", pa.int64()), ("source", pa.string()), ("window", pa.list_(pa.int8()))])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            windows = rng.integers(0, 90, size=(m, steps), dtype=np.int8)
            offsets = pa.array(np.arange(0, (m + 1) * steps, steps, dtype=np.int32))
            column = pa.ListArray.from_arrays(offsets, pa.array(windows.reshape(-1), type=pa.int8()))
            ids = pa.array(np.arange(start, start + m, dtype=np.int64))
            sources = pa.array([f"file{start // 1000:06d}.mid"] * m, pa.string())
            writer.write_table(pa.Table.from_arrays([ids, sources, column], schema=schema))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="windows to generate and encode")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--model", default="tiny", help="tiny (z 16, enc 16) or a model name / folder")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--workdir", default=None, help="where to write the table and latents (default: tmp)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        steps = 32 if args.model == "tiny" else load_model(args.model, device="cpu").config.max_seq_len
        write_table(root / "windows.parquet", args.n, steps=steps)
        print(f"table: {args.n:,} windows, {(root / 'windows.parquet').stat().st_size / 1e6:.1f} MB, "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        model = args.model
        if model == "tiny":
            torch.manual_seed(0)
            config = MusicVAEConfig(z_size=16, enc_rnn_size=(16,), dec_rnn_size=(16,), max_seq_len=32)
            model = save_model(MusicVAE(config), root / "model")
        load_before = load_average()
        summary = encode_corpus(
            root / "windows.parquet", model, root / "latents", devices=["cpu"], batch_size=args.batch_size
        )
        out_mb = sum(p.stat().st_size for p in (root / "latents").glob("part-*.parquet")) / 1e6
    rss = peak_rss_gb()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs, torch {torch.get_num_threads()} threads)")
    print(
        f"model: {args.model}; batch {args.batch_size}; "
        f"load average before {load_before}, after {load_average()}"
    )
    rate = summary.windows_per_second
    print(f"encoded {summary.n_encoded:,} windows in {summary.seconds:.1f} s = {rate:,.0f} windows/s; "
          f"{summary.n_parts} parts, {out_mb:.0f} MB")  # fmt: skip
    print(f"peak RSS {rss:.2f} GB (target < {TARGET_RSS_GB} GB): {'ok' if rss < TARGET_RSS_GB else 'OVER'}")


if __name__ == "__main__":
    main()

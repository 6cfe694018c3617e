"""Benchmark: ``musicneurons study --windows --latents`` on generated corpora of several sizes (time, RSS).

For each ``--n`` it writes ``--n`` random 2-bar windows (``windows.parquet``, ``extract``'s layout), encodes
them with a tiny random MusicVAE (z = 512 like the paper's models, one encoder layer of 16 units, so the
study's own stages dominate, not the LSTM) through ``musicneurons encode``, then runs the study in a fresh
process and prints its wall time and peak resident memory. With the cap on the per-window analyses
(``--analysis-windows``, default 5,000 here to keep the run short; the study's default is 50,000) the peak
memory should not grow with ``n``: the counts over every window are streamed in chunks.

Run:  .venv/bin/python bench/bench_study_scale.py [--n 100000 400000] [--analysis-windows 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from machine import cpu_model, load_average

HERE = Path(__file__).resolve().parent

STUDY = """
import resource, sys, time
from musicneurons.study.pipeline import StudyConfig, run_study
root, cap = sys.argv[1], int(sys.argv[2])
config = StudyConfig(model=root + "/model", windows=root + "/windows.parquet", latents=root + "/latents",
                     analysis_windows=cap, n_random=1000, ablation_steps=3200, probe_steps=0,
                     detector_steps=0, disentanglement_samples=300, figure_workers=0, device="cpu",
                     progress=False)
t0 = time.perf_counter()
summary = run_study(config, root + "/study")
part = summary["parts"]["2bar"]
print(f"{time.perf_counter() - t0:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.3f} "
      f"{part['n_windows_total']} {part['n_windows_analysis']}")
"""


def prepare(root: Path, n: int) -> None:
    """windows.parquet with n random windows, a tiny z-512 model, and its latents folder."""
    import torch

    from bench_encode_corpus import write_table
    from musicneurons.encode import encode_corpus
    from musicneurons.model.checkpoints import save_model
    from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig

    write_table(root / "windows.parquet", n, steps=32)
    torch.manual_seed(0)
    config = MusicVAEConfig(z_size=512, enc_rnn_size=(16,), dec_rnn_size=(16,), max_seq_len=32)
    save_model(MusicVAE(config), root / "model")
    encode_corpus(
        root / "windows.parquet", root / "model", root / "latents", devices=["cpu"], batch_size=4096
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 400_000], help="corpus sizes")
    parser.add_argument("--analysis-windows", type=int, default=5_000, help="the study's cap (0: all)")
    parser.add_argument("--workdir", default=None, help="where to write (default: tmp)")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    for n in args.n:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            root = Path(tmp)
            t0 = time.perf_counter()
            prepare(root, n)
            prepared = time.perf_counter() - t0
            load_before = load_average()
            result = subprocess.run(
                [sys.executable, "-c", STUDY, str(root), str(args.analysis_windows)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode:
                print(result.stderr[-3000:])
                raise SystemExit(result.returncode)
            seconds, rss, total, analysed = result.stdout.split()[-4:]
            print(
                f"n {n:>9,}: study {float(seconds):6.1f} s, peak RSS {float(rss):.2f} GB, "
                f"windows total {total}, analysed {analysed} (inputs made in {prepared:.0f} s); "
                f"load average before {load_before}, after {load_average()}"
            )


if __name__ == "__main__":
    main()

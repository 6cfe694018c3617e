"""Training throughput (examples/s) of the embedded default configs on this machine, fp32 and bf16 autocast.

One optimiser step = encode + reparameterise + teacher-forced decode + Magenta loss + backward + clipping +
TF Adam, on random windows. Run: ``.venv/bin/python bench/bench_train.py [--threads 1] [--steps 5]``. The
machine is shared: compare fp32 and bf16 from the same run, not across runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from musicneurons.device import configure_cpu_numerics
from musicneurons.model.musicvae import MusicVAE
from musicneurons.training.config import TRAIN_PRESETS
from musicneurons.training.objective import loss_terms
from musicneurons.training.optim import TFAdam, clip_gradients


def examples_per_second(preset: str, *, bf16: bool, steps: int, batch_size: int | None = None) -> float:
    model_config, cfg = TRAIN_PRESETS[preset]
    batch = batch_size or cfg.batch_size
    model = MusicVAE(model_config, generator=torch.Generator().manual_seed(0))
    opt = TFAdam(model.parameters())
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, 90, size=(batch, model_config.max_seq_len)), dtype=torch.long)
    params = list(model.parameters())
    times = []
    for step in range(steps + 1):  # the first step warms up allocators and oneDNN kernels
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            mu, sigma = model.encode(x)
            mu, sigma = mu.float(), sigma.float()
            z = mu + sigma * torch.randn(mu.shape)
            logits = model.decode_teacher_forced(z, x)
        loss = loss_terms(logits, x, mu, sigma, step, cfg)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(params, cfg)
        opt.step()
        times.append(time.perf_counter() - t0)
    return batch / float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--presets", nargs="+", default=["default-2bar", "default-16bar"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configure_cpu_numerics()
    print(f"threads={args.threads}  steps={args.steps}  torch {torch.__version__}")
    for preset in args.presets:
        fp32 = examples_per_second(preset, bf16=False, steps=args.steps)
        bf16 = examples_per_second(preset, bf16=True, steps=args.steps)
        print(f"{preset:15s} fp32 {fp32:8.1f} ex/s   bf16 {bf16:8.1f} ex/s   bf16/fp32 {bf16 / fp32:5.2f}")


if __name__ == "__main__":
    main()

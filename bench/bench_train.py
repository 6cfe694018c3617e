"""Training throughput (examples/s): this code's training step against the previous implementation.

One optimiser step = encode + reparameterise + teacher-forced decode + Magenta loss + backward + clipping +
TF Adam, on random windows. "previous" is the training module of an earlier commit (``--reference``, default
the last commit before the training step was rewritten), loaded from ``git show`` into a temporary module and
run on the same model and batch; "new" is :func:`musicneurons.training.loop.train_step`. The two are timed
alternately in one process, so both see the same load. Printed: median examples per second of wall time and
per CPU-second of this process (with one thread the latter hardly depends on what else runs on the machine),
the CPU model, the load average and the OpenMP wait policy. Each wait policy needs its own process (OpenMP
reads it at start-up): ``--policy both`` runs the bench once under each.

Run: ``.venv/bin/python bench/bench_train.py [--threads 1] [--steps 8] [--policy both] [--bf16]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import add_policy_option, cpu_model, rerun_per_wait_policy

REFERENCE = "bd0e05b"  # the last commit with the single-module training loop (nn.LSTM over [one-hot, z])
REFERENCE_PATH = "src/musicneurons/training/train.py"


def load_reference(rev: str):
    """The training module of commit ``rev``, imported from a temporary file."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{rev}:{REFERENCE_PATH}"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    tmp = Path(tempfile.mkdtemp()) / "reference_train.py"
    tmp.write_text(source)
    spec = importlib.util.spec_from_file_location("reference_train", tmp)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def reference_step(ref, model, opt, x, step, cfg) -> None:
    """The previous loop body: model.encode / decode_teacher_forced, its loss, clipping and Adam."""
    import torch

    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    p_sample = ref.sampling_probability(step, cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        mu, sigma = model.encode(x)
        mu, sigma = mu.float(), sigma.float()
        z = mu + sigma * torch.randn(mu.shape, generator=gen)
        logits = model.decode_teacher_forced(z, x, sampling_probability=p_sample, generator=gen)
    terms = ref.loss_terms(logits, x, mu, sigma, step, cfg)
    opt.zero_grad(set_to_none=True)
    terms["loss"].backward()
    ref.clip_gradients(list(model.parameters()), cfg)
    opt.step()


def measure(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from musicneurons.device import configure_cpu_numerics
    from musicneurons.model.musicvae import MusicVAE
    from musicneurons.training.config import TRAIN_PRESETS
    from musicneurons.training.loop import train_step
    from musicneurons.training.optim import TFAdam
    from musicneurons.training.parallel import PartRunner

    torch.set_num_threads(args.threads)
    configure_cpu_numerics()
    ref = load_reference(args.reference)
    policy = os.environ.get("OMP_WAIT_POLICY", "default (spin)")
    print(f"{cpu_model()}; torch {torch.__version__}; threads {args.threads}; OMP_WAIT_POLICY {policy}")
    for preset in args.presets:
        model_config, cfg = TRAIN_PRESETS[preset]
        overrides = {"bf16": args.bf16}
        if args.batch_parts:
            overrides["batch_parts"] = args.batch_parts
        if args.sampling:
            overrides.update(sampling_schedule="constant", sampling_rate=args.sampling)
        cfg = dataclasses.replace(cfg, **overrides)
        batch = args.batch or cfg.batch_size
        x = torch.as_tensor(
            np.random.default_rng(0).integers(0, 90, size=(batch, model_config.max_seq_len)), dtype=torch.long
        )
        runs = {}
        for name in ("previous", "new"):
            model = MusicVAE(model_config, generator=torch.Generator().manual_seed(0))
            opt = ref.TFAdam(model.parameters()) if name == "previous" else TFAdam(model.parameters())
            runs[name] = (model, opt)
        # the new step's parts on worker threads as `musicneurons train` runs them (training.parallel)
        workers = min(cfg.batch_parts, args.threads)
        runner = PartRunner(workers, args.threads // workers)
        threads = {"previous": args.threads, "new": runner.threads_per_worker}
        times: dict[str, list[float]] = {"previous": [], "new": []}
        cpu: dict[str, list[float]] = {"previous": [], "new": []}  # CPU seconds of this process
        load_before = os.getloadavg()[0]
        for step in range(args.steps + 1):  # step 0 warms up allocators and kernels
            for name, (model, opt) in runs.items():
                torch.set_num_threads(threads[name])
                t0, c0 = time.perf_counter(), time.process_time()
                if name == "previous":
                    reference_step(ref, model, opt, x, step, cfg)
                else:
                    train_step(model, opt, x, step, cfg, runner)
                if step:
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
        runner.close()
        load = (load_before + os.getloadavg()[0]) / 2
        wall = {k: batch / float(np.median(v)) for k, v in times.items()}
        per_cpu = {k: batch / float(np.median(v)) for k, v in cpu.items()}
        label = f"{preset} batch {batch} in {cfg.batch_parts} parts" + (" bf16" if args.bf16 else "")
        label += f" sampling p={args.sampling}" if args.sampling else ""
        print(
            f"{label}: previous {wall['previous']:6.1f} ex/s, new {wall['new']:6.1f} ex/s "
            f"({wall['new'] / wall['previous']:.2f}x); per CPU-second: previous {per_cpu['previous']:6.1f}, "
            f"new {per_cpu['new']:6.1f} ({per_cpu['new'] / per_cpu['previous']:.2f}x); "
            f"load average {load:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=None, help="default: the preset's batch size")
    parser.add_argument("--presets", nargs="+", default=["default-2bar"])
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (both take the model's path)")
    parser.add_argument("--batch-parts", type=int, default=None, help="default: the preset's")
    parser.add_argument("--sampling", type=float, default=0.0, help="constant scheduled-sampling probability")
    parser.add_argument("--reference", default=REFERENCE, help="git revision of the previous implementation")
    add_policy_option(parser, "current")
    args = parser.parse_args()
    if args.policy != "current":
        rerun_per_wait_policy(args.policy, __file__, sys.argv[1:])
        return
    measure(args)


if __name__ == "__main__":
    main()

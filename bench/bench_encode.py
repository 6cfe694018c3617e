"""Benchmark: MusicVAE encoding throughput at Magenta's real sizes, beside a torch.mm ceiling at the same
shapes.

For random-weight ``cat-mel_2bar_big`` (batches 64 / 256 / 1024) and ``hierdec-mel_16bar`` (batches 8 / 32),
in fp32 and bf16, it times ``MusicVAE.encode`` (mu and sigma of full-length windows under inference_mode) and,
in the same run, the bare ``torch.mm`` calls the encoder's math consists of: per layer and direction one input
projection (B*T x in) @ (in x 4H) and T recurrent products (B x H) @ (H x 4H), plus the mu and sigma layers.
Achieved GFLOP/s counts exactly those multiply-adds (2 FLOPs each) over the encode time; the ceiling is the
same FLOPs over the bare-mm time. Element-wise gate math is not counted, so 100 % is out of reach.

Each setting is timed for about ``--min-time`` seconds (at least one call per round), alternating encode and
mm rounds and keeping the best of each, because the machine is shared. On CPUs without native bf16 (AMX or
AVX512-BF16) PyTorch emulates bf16 very slowly, so bf16 is skipped there unless ``--bf16-emulated``.

Run:  .venv/bin/python bench/bench_encode.py [--models cat-mel_2bar_big,hierdec-mel_16bar] [--min-time 2]
      [--precisions fp32,bf16] [--json out.json]
Magenta's own TF graph on a 2-core Sapphire Rapids (shared/docs/MEASURED.md): cat-mel_2bar_big 94 melodies/s
(batch 64) and 123 (batch 512); hierdec-mel_16bar 1.24 (batch 16) and 3.35 (batch 64).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from musicneurons.device import resolve_device
from musicneurons.model.config import MusicVAEConfig
from musicneurons.model.inference import bf16_is_native
from musicneurons.model.lstm import clear_prepared
from musicneurons.model.musicvae import MusicVAE
from musicneurons.model.registry import PRESETS

BATCHES = {"cat-mel_2bar_big": (64, 256, 1024), "hierdec-mel_16bar": (8, 32)}
MAGENTA = {"cat-mel_2bar_big": "94 mel/s @64, 123 @512", "hierdec-mel_16bar": "1.24 mel/s @16, 3.35 @64"}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def encoder_gemms(config: MusicVAEConfig, batch: int, steps: int) -> list[tuple[int, int, int, int]]:
    """(count, m, k, n) of every matrix product in one encode call."""
    gemms = []
    in_size = config.num_classes
    for hidden in config.enc_rnn_size:
        for _direction in range(2):
            gemms.append((1, batch * steps, in_size, 4 * hidden))  # input projection of the whole sequence
            gemms.append((steps, batch, hidden, 4 * hidden))  # one recurrent product per step
        in_size = 2 * hidden
    gemms.append((2, batch, in_size, config.z_size))  # mu and sigma
    return gemms


def gemm_flops(gemms: list[tuple[int, int, int, int]]) -> float:
    return float(sum(2 * count * m * k * n for count, m, k, n in gemms))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], None], device: torch.device, min_time: float) -> float:
    """Seconds per call of fn(): calls repeated for >= min_time (at least one call)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def mm_runner(
    gemms: list[tuple[int, int, int, int]], dtype: torch.dtype, device: torch.device
) -> Callable[[], None]:
    """The encoder's matrix products as bare torch.mm calls, in the same order."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    operands = [
        (
            count,
            torch.randn(m, k, generator=gen).to(device, dtype),
            torch.randn(k, n, generator=gen).to(device, dtype),
        )
        for count, m, k, n in gemms
    ]

    def run() -> None:
        with torch.inference_mode():
            for count, a, b in operands:
                for _ in range(count):
                    torch.mm(a, b)

    return run


def square_peak(dtype: torch.dtype, device: torch.device, min_time: float, size: int = 2048) -> float:
    """GFLOP/s of one large square torch.mm: the machine's practical GEMM peak right now."""
    return 2 * size**3 / time_calls(mm_runner([(1, size, size, size)], dtype, device), device, min_time) / 1e9


def bench_setting(
    module: MusicVAE,
    batch: int,
    precision: str,
    device: torch.device,
    min_time: float,
    rounds: int,
    unprepared: bool = False,
) -> dict[str, float]:
    config = module.config
    steps = config.max_seq_len
    gen = torch.Generator(device="cpu").manual_seed(batch)
    x = torch.randint(0, config.num_classes, (batch, steps), generator=gen).to(device)

    def run() -> None:
        if unprepared:  # re-cast the weights every call, as before they were prepared once per model
            clear_prepared(module)
        with torch.inference_mode():
            if precision == "bf16":
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    module.encode(x)
            else:
                module.encode(x)

    gemms = encoder_gemms(config, batch, steps)
    ceiling = mm_runner(gemms, DTYPES[precision], device)
    # the first call of each is a warm-up (oneDNN builds its primitives); a long one counts as a round
    seconds, ceiling_seconds = time_calls(run, device, 0.0), time_calls(ceiling, device, 0.0)
    per_round = min_time / rounds
    if seconds < per_round or ceiling_seconds < per_round:
        seconds, ceiling_seconds = float("inf"), float("inf")
    else:
        rounds -= 1
    # alternate the two measurements and keep the best of each: the machine is shared, load comes and goes
    for _ in range(rounds):
        seconds = min(seconds, time_calls(run, device, per_round))
        ceiling_seconds = min(ceiling_seconds, time_calls(ceiling, device, per_round))
    flops = gemm_flops(gemms)
    return {
        "melodies_per_s": batch / seconds,
        "seconds_per_batch": seconds,
        "gflops": flops / seconds / 1e9,
        "ceiling_gflops": flops / ceiling_seconds / 1e9,
        "fraction_of_ceiling": ceiling_seconds / seconds,
    }


def mu_sigma_error(module: MusicVAE, device: torch.device, steps: int, n: int = 64) -> dict[str, float]:
    """Max |bf16 - fp32| of mu and sigma on random windows."""
    gen = torch.Generator(device="cpu").manual_seed(1)
    x = torch.randint(0, module.config.num_classes, (n, steps), generator=gen).to(device)
    with torch.inference_mode():
        mu, sigma = module.encode(x)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            mu16, sigma16 = module.encode(x)
    return {
        "mu_max_abs_err": float((mu16.float() - mu).abs().max()),
        "sigma_max_abs_err": float((sigma16.float() - sigma).abs().max()),
        "mu_std": float(mu.std()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(BATCHES), help="comma-separated presets")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes (default: per model)")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds of timed calls per setting")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating encode / mm timing rounds (best kept)"
    )
    parser.add_argument("--bf16-emulated", action="store_true", help="time bf16 even where it is emulated")
    parser.add_argument(
        "--unprepared", action="store_true", help="drop the prepared bf16 weights before every call"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    device = resolve_device(args.device)
    torch.manual_seed(0)
    native = bf16_is_native(device)
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"CPU {platform.processor() or platform.machine()} ({torch.backends.cpu.get_cpu_capability()}), "
        f"native bf16: {native}, load average {os.getloadavg()[0]:.1f}"
    )
    results = []
    peaks = {
        p: square_peak(DTYPES[p], device, 1.0) for p in args.precisions.split(",") if p == "fp32" or native
    }
    print("square 2048 torch.mm now: " + ", ".join(f"{p} {g:.0f} GFLOP/s" for p, g in peaks.items()))
    results.append({"square_mm_gflops": peaks})
    print(
        f"{'model':<18} {'prec':<5} {'batch':>5} {'mel/s':>9} {'GFLOP/s':>8} {'mm ceiling':>10} "
        f"{'of ceil':>7}"
    )
    for name in args.models.split(","):
        module = MusicVAE(PRESETS[name]).to(device).eval()
        batches = [int(b) for b in args.batches.split(",")] if args.batches else list(BATCHES[name])
        for precision in args.precisions.split(","):
            for batch in batches:
                if precision == "bf16" and not native and not args.bf16_emulated:
                    why = "emulated on this CPU (no AMX / AVX512-BF16); --bf16-emulated"
                    print(f"{name:<18} bf16  skipped: {why}")
                    break
                r = bench_setting(
                    module, batch, precision, device, args.min_time, args.rounds, args.unprepared
                )
                results.append({"model": name, "precision": precision, "batch": batch, **r})
                print(
                    f"{name:<18} {precision:<5} {batch:>5} {r['melodies_per_s']:>9.2f} {r['gflops']:>8.1f} "
                    f"{r['ceiling_gflops']:>10.1f} {100 * r['fraction_of_ceiling']:>6.0f}%",
                    flush=True,
                )
        if "bf16" in args.precisions and (native or args.bf16_emulated):
            err = mu_sigma_error(
                module, device, module.config.max_seq_len, n=16 if module.config.hierarchical else 64
            )
            results.append({"model": name, "bf16_vs_fp32": err})
            print(
                f"{name}: bf16 vs fp32 on random weights: max |d mu| {err['mu_max_abs_err']:.2e} "
                f"(mu std {err['mu_std']:.2e}), max |d sigma| {err['sigma_max_abs_err']:.2e}"
            )
        print(f"{name}: Magenta TF on a 2-core Sapphire Rapids: {MAGENTA.get(name, '-')}")
        del module
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()

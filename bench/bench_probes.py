"""Benchmark: the study's three "beyond the paper" stages on the embedded models, at the study's sizes.

Times, on the embedded 2-bar (and optionally 16-bar) model and corpus: the causal probes (``run_probes``:
greedy decodes per second and the stage's seconds), the disentanglement scores of the music neurons and of
all dims against the features (``disentanglement_scores``), and the detector (``run_detector``: encoding,
reconstruction and features of the real and negative windows, then the probes' cross-validation). There is
nothing a user would run instead, so the reference printed beside each time is the decoder's own rate
(greedy decodes per second at the same batch), which bounds the probes.

Run:  .venv/bin/python bench/bench_probes.py [--bars 2] [--probe-windows 16] [--top-k 8] [--steps 7]
      [--detector-windows 256] [--disentanglement-samples 1000]
Timings are wall-clock on a shared machine: quote them with the load average printed beside them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from machine import cpu_model, load_average


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=2, choices=(2, 16))
    parser.add_argument("--probe-windows", type=int, default=16)
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--n-noise", type=int, default=2)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--detector-windows", type=int, default=256)
    parser.add_argument("--disentanglement-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import musicneurons
    from musicneurons.analysis.detector import run_detector
    from musicneurons.analysis.interventions import run_probes
    from musicneurons.analysis.neurons import split_music_noise
    from musicneurons.device import configure_cpu_numerics

    print(f"{cpu_model()}, {os.cpu_count()} cores; load {load_average()}")
    configure_cpu_numerics()  # as the study and the CLI do
    model = musicneurons.load_model(f"default-{args.bars}bar", device="cpu")
    corpus = musicneurons.default_corpus(args.bars)
    windows = np.stack(corpus["window"])
    qpm = corpus["qpm"].to_numpy(dtype=float)

    started = time.perf_counter()
    _, mu, sigma = model.encode(windows)
    print(f"encode {len(windows)} windows: {time.perf_counter() - started:.1f} s; load {load_average()}")
    split = split_music_noise(sigma)

    sample = mu[: min(256, len(mu))]
    started = time.perf_counter()
    model.decode(sample, temperature=0.0)
    rate = len(sample) / (time.perf_counter() - started)
    print(f"greedy decode: {rate:.0f} windows/s (batch {model.batch_size}); load {load_average()}")

    grid = np.linspace(-3, 3, args.steps)
    started = time.perf_counter()
    sizes = {"top_k": args.top_k, "n_noise": args.n_noise, "n_windows": args.probe_windows, "grid": grid}
    probes = run_probes(
        model, windows, rng=np.random.default_rng(args.seed), qpm=qpm, mu=mu, sigma=sigma, **sizes
    )
    seconds = time.perf_counter() - started
    n = probes.info["n_decodes"]
    print(f"probes: {n} decodes in {seconds:.1f} s ({n / seconds:.0f}/s; decoder alone {n / rate:.1f} s)")
    print(f"  load {load_average()}")

    from musicneurons.features.registry import FEATURES

    features = musicneurons.compute_features(windows, qpm)
    features = features[[c for c in features.columns if c in FEATURES]]  # the jSymbolic P/R/M features
    for name, latents, kwargs in (
        ("music neurons", mu[:, split.is_music], {}),
        ("all dims", mu, {"with_explicitness": False}),  # as the study: no 512-dim explicitness
    ):
        started = time.perf_counter()
        scores = musicneurons.disentanglement_scores(
            latents, features, max_samples=args.disentanglement_samples, dci_model="forest", **kwargs
        )
        print(
            f"disentanglement, {name} ({latents.shape[1]} x {len(scores['factor_names'])} factors, "
            f"{scores['n_samples']} rows): {time.perf_counter() - started:.1f} s; MIG {scores['mig']:.3f}, "
            f"DCI D {scores['dci_disentanglement']:.3f}; load {load_average()}"
        )

    rng = np.random.default_rng(args.seed)
    rows = np.sort(rng.choice(len(windows), size=min(args.detector_windows, len(windows)), replace=False))
    groups = corpus["source"].to_numpy()[rows]
    started = time.perf_counter()
    result = run_detector(model, windows[rows], groups, split.is_music, rng=rng, qpm=qpm[rows])
    print(
        f"detector: {len(rows)} real windows x 4 negatives in {time.perf_counter() - started:.1f} s; "
        f"load {load_average()}"
    )
    print(result.table.pivot(index="method", columns="negative", values="auroc").round(3).to_string())


if __name__ == "__main__":
    main()

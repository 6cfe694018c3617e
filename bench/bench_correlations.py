"""Benchmark: the phi_K cross block (features x latent dims) ours vs the phik library, plus LOESS and KS.

The target is the paper's block, 100 features x 512 latent dimensions at n = 50,000 melodies, in <= 60 s
on 2 cores. phik is far too slow to run on the whole block here (~8 ms per pair inside ``phik_matrix``,
~25 min for the block), so it is timed on a sample of pairs, checked against our values on those pairs,
and extrapolated. Data are synthetic but shaped like the real tables: float32 latents with a few dozen
"music" dimensions, features that are skewed, discrete with few values, binary, or partly missing.

Run:  .venv/bin/python bench/bench_correlations.py [--n 50000] [--features 100] [--dims 512] [--pairs 12]
Timings are wall-clock on a shared machine: compare the ratios printed in one run, not absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd


def make_data(
    n: int, n_features: int, n_dims: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Latents (n, n_dims) float32 with ~37 informative dims, and features (n, n_features) following them."""
    z = rng.normal(scale=0.05, size=(n, n_dims)).astype(np.float32)  # noise neurons: mu ~ 0
    n_music = min(37, n_dims)
    z[:, :n_music] = rng.normal(size=(n, n_music))
    features = np.empty((n, n_features))
    for j in range(n_features):
        source = z[:, j % n_music].astype(np.float64)
        kind = j % 5
        if kind == 0:
            features[:, j] = np.exp(source) + 0.5 * rng.normal(size=n)  # skewed, continuous
        elif kind == 1:
            features[:, j] = np.clip(np.round(source + rng.normal(size=n)), -2, 2)  # 5 values
        elif kind == 2:
            features[:, j] = (source + rng.normal(size=n) > 0).astype(float)  # binary
        elif kind == 3:
            features[:, j] = np.where(rng.random(n) < 0.05, np.nan, source**2)  # missing values
        else:
            features[:, j] = rng.normal(size=n)  # independent
    return features, z


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="samples (melodies)")
    parser.add_argument("--features", type=int, default=100, help="feature columns")
    parser.add_argument("--dims", type=int, default=512, help="latent dimensions")
    parser.add_argument("--pairs", type=int, default=12, help="pairs timed with phik.phik_from_array")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import phik
    from statsmodels.nonparametric.smoothers_lowess import lowess

    from musicneurons.analysis.correlations import phik_cross
    from musicneurons.analysis.local_regression import loess
    from musicneurons.analysis.neurons import ks_per_neuron

    rng = np.random.default_rng(args.seed)
    features, z = make_data(args.n, args.features, args.dims, rng)
    n_pairs = args.features * args.dims
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"data: n = {args.n}, {args.features} features x {args.dims} dims = {n_pairs} pairs")

    start = time.perf_counter()
    ours = phik_cross(features, z)
    t_ours = time.perf_counter() - start
    print(f"ours   phik_cross block: {t_ours:8.2f} s  ({1e3 * t_ours / n_pairs:.3f} ms per pair)")

    pick = [
        (int(i), int(j))
        for i, j in zip(
            rng.integers(0, args.features, args.pairs), rng.integers(0, args.dims, args.pairs), strict=True
        )
    ]
    reference = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        for i, j in pick:
            reference.append(phik.phik_from_array(features[:, i], z[:, j], num_vars=["x", "y"]))
        t_array = (time.perf_counter() - start) / len(pick)
        # phik_matrix on a small frame: 3 features + 3 dims = 15 distinct pairs (the diagonal is free)
        frame = pd.DataFrame(
            np.column_stack([features[:, :3], z[:, :3]]), columns=["f0", "f1", "f2", "z0", "z1", "z2"]
        )
        start = time.perf_counter()
        matrix = phik.phik_matrix(frame, interval_cols=list(frame.columns), verbose=False, njobs=1)
        t_matrix = (time.perf_counter() - start) / 15
    difference = np.nanmax(np.abs(np.array([ours[i, j] for i, j in pick]) - np.array(reference)))
    difference_matrix = np.nanmax(
        np.abs(matrix.loc[["f0", "f1", "f2"], ["z0", "z1", "z2"]].to_numpy() - ours[:3, :3])
    )
    print(
        f"phik   phik_from_array:  {1e3 * t_array:8.1f} ms per pair"
        f" -> block ~{t_array * n_pairs / 60:6.1f} min;"
        f" ratio {t_array * n_pairs / t_ours:6.0f}x"
    )
    print(
        f"phik   phik_matrix:      {1e3 * t_matrix:8.1f} ms per pair"
        f" -> block ~{t_matrix * n_pairs / 60:6.1f} min;"
        f" ratio {t_matrix * n_pairs / t_ours:6.0f}x"
    )
    print(
        f"max |ours - phik| on {len(pick)} sampled pairs: {difference:.2e}; on phik_matrix's 9: "
        f"{difference_matrix:.2e}"
    )
    print(f"target <= 60 s: {'met' if t_ours <= 60 else 'NOT met'}")

    x, y = features[:, 1], z[:, 1].astype(np.float64)  # a 5-valued feature against a music neuron
    start = time.perf_counter()
    loess(x, y, frac=2 / 3, iterations=3)
    t_loess = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels divides 0 by 0 on the tied x values
        lowess(y, x, frac=2 / 3, it=3, delta=0.01 * (np.nanmax(x) - np.nanmin(x)))
    t_sm = time.perf_counter() - start
    print(
        f"LOESS (n = {args.n}, frac 2/3, 3 robustness iterations, delta 1% of range): ours {t_loess:.2f} s, "
        f"statsmodels {t_sm:.2f} s (statsmodels is wrong on tied x; see docs/analyses.md)"
    )

    start = time.perf_counter()
    ks_per_neuron(z[: args.n // 2], z[args.n // 2 :])
    print(
        f"KS per neuron ({args.dims} dims, {args.n // 2} vs {args.n - args.n // 2}): "
        f"{time.perf_counter() - start:.2f} s"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

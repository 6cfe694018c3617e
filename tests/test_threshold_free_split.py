"""Threshold-free music/noise split and the split's sensitivity to its threshold (known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.analysis.neurons import n_music_gap, split_music_noise, threshold_sensitivity


def _sigma(mean_sigma: np.ndarray, rng: np.random.Generator, n: int = 50) -> np.ndarray:
    """Rows whose column means are exactly ``mean_sigma``."""
    noise = rng.normal(0, 0.01, size=(n, mean_sigma.size))
    return mean_sigma + noise - noise.mean(axis=0)


def test_a_clean_gap_is_found_by_both_methods():
    rng = np.random.default_rng(0)
    mean_sigma = np.r_[rng.uniform(0.05, 0.6, 37), rng.normal(0.99, 0.004, 475)]
    sigma = _sigma(rng.permutation(mean_sigma), rng)
    for method in ("largest gap", "two-component mixture"):
        split = n_music_gap(sigma, method=method)
        assert split.method == method
        assert split.n_music == 37
        assert split_music_noise(sigma, threshold=split.threshold).n_music == 37
        assert split.gap == pytest.approx(np.sort(mean_sigma)[37] - np.sort(mean_sigma)[36])


def test_far_apart_specific_neurons_do_not_hide_the_noise_edge():
    # music neurons at 0.05 and 0.45 (gap 0.4) and a noise edge at 0.7 -> 0.97 (gap 0.27): the edge wins
    mean_sigma = np.r_[0.05, 0.45, 0.5, 0.6, 0.7, np.linspace(0.97, 1.0, 100)]
    split = n_music_gap(_sigma(mean_sigma, np.random.default_rng(1)))
    assert split.n_music == 5
    assert split.threshold == pytest.approx((0.7 + 0.97) / 2)


def test_all_or_nothing():
    rng = np.random.default_rng(2)
    assert n_music_gap(_sigma(np.full(8, 0.2), rng)).n_music == 8  # one cluster below the floor
    assert n_music_gap(_sigma(np.r_[0.1, 0.2, 0.3], rng)).n_music == 3  # nothing above the floor
    assert n_music_gap(_sigma(np.r_[0.1, 0.2, 0.3, 0.99], rng)).n_music == 3  # one noise neuron
    mixture = n_music_gap(_sigma(np.full(8, 0.99), rng), method="two-component mixture")
    assert mixture.n_music == 0
    with pytest.raises(ValueError, match="method must be"):
        n_music_gap(_sigma(np.full(8, 0.99), rng), method="otsu")


def test_threshold_sensitivity_counts():
    mean_sigma = np.array([0.1, 0.85, 0.92, 0.96, 0.97, 0.995, 1.0])
    counts = threshold_sensitivity(_sigma(mean_sigma, np.random.default_rng(3)))
    assert counts == {0.8: 1, 0.9: 2, 0.95: 3, 0.99: 5}
    assert list(threshold_sensitivity(mean_sigma[None], [0.99, 0.5])) == [0.99, 0.5]

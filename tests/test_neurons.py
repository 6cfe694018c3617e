"""Music/noise split, active units, activation counts and real-vs-random distances on known-answer data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from musicneurons import (
    activation_counts,
    active_units,
    ks_per_neuron,
    largest_sigma_gap,
    neuron_histograms,
    neuron_order,
    split_agreement,
    split_music_noise,
)


@pytest.fixture(scope="module")
def latents() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic encoder: dims 5, 1, 6 carry music (small sigma, mu varies), the rest sit at the prior."""
    rng = np.random.default_rng(0)
    n, z_size = 4000, 12
    sigma = 1.0 - np.abs(rng.normal(scale=0.004, size=(n, z_size)))  # noise neurons: sigma ~ 0.997
    mu = rng.normal(scale=0.05, size=(n, z_size))  # ... and mu ~ 0
    for dim, width in [(5, 0.1), (1, 0.3), (6, 0.6)]:
        sigma[:, dim] = width * rng.uniform(0.8, 1.2, n)
        mu[:, dim] = rng.normal(scale=np.sqrt(1 - width**2), size=n)
    return mu, sigma


def test_sigma_one_mu_zero_dimensions_are_noise_neurons(latents: tuple[np.ndarray, np.ndarray]) -> None:
    _mu, sigma = latents
    split = split_music_noise(sigma)
    assert split.threshold == 0.95
    assert split.n_music == 3
    np.testing.assert_array_equal(split.music, [5, 1, 6])  # most specific (smallest sigma) first
    assert sorted(split.noise.tolist()) == [0, 2, 3, 4, 7, 8, 9, 10, 11]
    np.testing.assert_array_equal(split.order, neuron_order(sigma))
    low, high = split.stable_range
    assert 0.55 < low < 0.65
    assert 0.99 < high < 1.0


def test_threshold_is_a_parameter_and_gap_finder_agrees(latents: tuple[np.ndarray, np.ndarray]) -> None:
    _, sigma = latents
    assert split_music_noise(sigma, threshold=0.5).n_music == 2  # the sigma = 0.6 neuron drops out
    n_below, threshold = largest_sigma_gap(sigma)
    assert n_below == 3
    assert split_music_noise(sigma, threshold=threshold).n_music == 3


def test_hand_computed_order_with_ties() -> None:
    sigma = np.array([[0.9, 0.2, 1.0, 0.2], [0.7, 0.4, 1.0, 0.2]])  # means 0.8, 0.3, 1.0, 0.2
    np.testing.assert_array_equal(neuron_order(sigma), [3, 1, 0, 2])
    split = split_music_noise(sigma, threshold=0.8)  # strict: 0.8 itself is noise
    np.testing.assert_array_equal(split.is_music, [False, True, False, True])
    assert split.stable_range == (pytest.approx(0.3), pytest.approx(0.8))


def test_active_units_and_agreement(latents: tuple[np.ndarray, np.ndarray]) -> None:
    mu, sigma = latents
    active = active_units(mu)  # Var(mu) ~ 0.99, 0.91, 0.64 vs 0.0025
    np.testing.assert_array_equal(np.flatnonzero(active), [1, 5, 6])
    agreement = split_agreement(split_music_noise(sigma).is_music, active)
    assert (agreement.both, agreement.only_first, agreement.only_second, agreement.neither) == (3, 0, 0, 9)
    assert agreement.jaccard == 1.0
    assert agreement.cohen_kappa == 1.0
    assert np.flatnonzero(active_units(mu, threshold=0.95)).tolist() == [5]


def test_split_agreement_hand_computed() -> None:
    first = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    second = np.array([1, 1, 0, 1, 0, 0, 0, 0], dtype=bool)
    result = split_agreement(first, second)
    assert (result.both, result.only_first, result.only_second, result.neither) == (2, 1, 1, 4)
    assert result.jaccard == pytest.approx(2 / 4)
    # observed agreement 6/8; chance agreement (3/8)(3/8) + (5/8)(5/8) = 34/64
    assert result.cohen_kappa == pytest.approx((6 / 8 - 34 / 64) / (1 - 34 / 64))


def test_activation_counts_hand_computed() -> None:
    mu = np.array(
        [
            [0.5, -0.2, 0.05, 0.0, -0.3],
            [0.1, 0.0, 0.11, -0.11, 0.0],  # 0.1 itself is not above the threshold
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    is_music = np.array([True, True, False, False, False])
    music, noise = activation_counts(mu, is_music)
    np.testing.assert_array_equal(music, [2, 0, 0])
    np.testing.assert_array_equal(noise, [1, 2, 0])
    music, noise = activation_counts(mu, is_music, threshold=0.04)
    np.testing.assert_array_equal(music, [2, 1, 0])
    np.testing.assert_array_equal(noise, [2, 2, 0])
    with pytest.raises(ValueError, match="is_music"):
        activation_counts(mu, is_music[:4])


def test_ks_per_neuron_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    real = rng.normal(size=(3000, 4))
    random = rng.normal(size=(2500, 4))
    random[:, 1] += 0.5  # a shifted neuron
    real[:, 2], random[:, 2] = np.round(real[:, 2]), np.round(1.3 * random[:, 2])  # ties
    statistic, p_value = ks_per_neuron(real, random)
    reference = stats.ks_2samp(real, random, axis=0, method="asymp")
    np.testing.assert_allclose(statistic, reference.statistic, atol=1e-14)
    np.testing.assert_allclose(p_value, reference.pvalue, rtol=1e-10, atol=1e-300)
    assert statistic[1] > 0.15
    assert statistic[0] < 0.05


def test_neuron_histograms_share_edges() -> None:
    rng = np.random.default_rng(5)
    real, random = rng.normal(size=(500, 3)), rng.normal(loc=2.0, size=(300, 3))
    edges, counts_real, counts_random = neuron_histograms(real, random, [2, 0], bins=20)
    assert edges.shape == (2, 21)
    assert counts_real.shape == (2, 20)
    assert edges[0, 0] == min(real[:, 2].min(), random[:, 2].min())
    assert edges[0, -1] == max(real[:, 2].max(), random[:, 2].max())
    np.testing.assert_array_equal(counts_real[1], np.histogram(real[:, 0], edges[1])[0])
    assert counts_real.sum(axis=1).tolist() == [500, 500]
    assert counts_random.sum(axis=1).tolist() == [300, 300]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        split_music_noise(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        neuron_order(np.ones(5))

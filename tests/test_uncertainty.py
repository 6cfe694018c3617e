"""Bootstrap over source files and phi_K significance, on synthetic corpora with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from musicneurons.analysis.correlations import phik_cross
from musicneurons.analysis.uncertainty import (
    bimodality_coefficient,
    bootstrap_sources,
    phik_permutation_null,
    resample_weights,
    significant_cells,
    source_permutation,
)

SIGMA_OF_DIM = np.array([0.2, 0.3, 0.4, 0.5] + [1.0] * 12)  # ranks 1-4 = dims 0-3


def _corpus(rng: np.random.Generator, n_sources: int = 120, per_source: int = 8):
    n = n_sources * per_source
    sources = np.repeat([f"piece{i:03d}.mid" for i in range(n_sources)], per_source)
    sigma = SIGMA_OF_DIM + rng.normal(0, 0.005, size=(n, SIGMA_OF_DIM.size))
    mu = rng.normal(size=(n, SIGMA_OF_DIM.size))
    return sources, sigma, mu


def test_planted_neurons_are_found_and_stable():
    rng = np.random.default_rng(1)
    sources, sigma, mu = _corpus(rng)
    n = len(mu)
    features = {
        "P1": mu[:, 2] + rng.normal(0, 0.1, n),  # pitch lives in dim 2 = rank 3
        "P2": np.tanh(mu[:, 2]) + rng.normal(0, 0.1, n),
        "P3": rng.normal(size=n),
        "R1": mu[:, 0] ** 2 + rng.normal(0, 0.1, n),  # rhythm in dim 0 = rank 1, non-linearly
        "R2": rng.normal(size=n),
    }
    groups = {"pitch_neuron": ["P1", "P2", "P3"], "rhythm_neuron": ["R1", "R2", "missing"]}
    boot = bootstrap_sources(
        sources, sigma, threshold=0.95, mu=mu, features=features, groups=groups, n_neurons=8, rng=rng
    )
    assert boot.n_sources == 120
    assert boot.n_music == 4
    assert boot.n_music_ci == (4.0, 4.0)
    pitch, rhythm = boot.roles["pitch_neuron"], boot.roles["rhythm_neuron"]
    assert (pitch.rank, rhythm.rank) == (3, 1)
    assert pitch.stability == 1.0
    assert not pitch.is_tie
    assert rhythm.stability == 1.0
    assert pitch.top_feature == "P1"
    # the full-sample numbers are phi_K as phik_cross computes it, over the 8 most specific dims
    order = np.argsort(sigma.mean(axis=0), kind="stable")[:8]
    direct = phik_cross(np.column_stack([features[f] for f in ("P1", "P2", "P3")]), mu[:, order])
    assert pitch.top_phik == pytest.approx(np.nanmax(direct[:, 2]), abs=1e-9)
    assert pitch.score == pytest.approx(np.sort(direct[:, 2])[::-1][:3].mean(), abs=1e-9)
    lo, hi = pitch.top_phik_ci
    assert lo <= pitch.top_phik <= hi
    assert lo > 0.8


def test_two_equal_neurons_are_a_tie():
    # Every piece comes twice, once with ranks 2 and 3 swapped: over the corpus the two neurons are
    # exactly equally related to the features, and a resample favours whichever copies it drew more of.
    rng = np.random.default_rng(3)
    sources, sigma, mu = _corpus(rng, n_sources=60)
    n = len(mu)
    shared = rng.normal(size=n)
    mu[:, 1] = shared + rng.normal(0, 1.0, n)
    mu[:, 2] = shared + rng.normal(0, 1.0, n)
    mirrored = mu.copy()
    mirrored[:, [1, 2]] = mu[:, [2, 1]]
    mu = np.vstack([mu, mirrored])
    sigma = np.vstack([sigma, sigma])
    sources = np.concatenate([sources, np.char.add("mirror-", sources)])
    features = {"P1": np.tile(shared, 2), "P2": np.tile(shared + rng.normal(0, 0.3, n), 2)}
    boot = bootstrap_sources(
        sources,
        sigma,
        threshold=0.95,
        mu=mu,
        features=features,
        groups={"pitch_neuron": ["P1", "P2"]},
        n_neurons=8,
        rng=rng,
    )
    role = boot.roles["pitch_neuron"]
    assert role.rank == 2  # exact tie in the full sample: the more specific neuron is named
    assert role.is_tie
    assert 0.3 <= role.shares[2] <= 0.7
    assert role.shares[2] + role.shares[3] == pytest.approx(1.0)


def _coverage(per_window: bool) -> float:
    """Share of 40 simulated corpora whose n_music interval covers the truth."""
    # Pieces shift every dimension's sigma together, so windows of one piece are dependent; four dims sit
    # near the threshold.
    population = np.array([0.5] * 20 + [0.93, 0.94, 0.96, 0.97] + [1.0] * 40)
    truth = int((population < 0.95).sum())
    covered = 0
    for sim in range(40):
        rng = np.random.default_rng(100 + sim)
        source = np.repeat(np.arange(40), rng.integers(10, 40, size=40))
        offsets = rng.normal(0, 0.06, size=(40, population.size))
        sigma = population + offsets[source] + rng.normal(0, 0.01, size=(source.size, population.size))
        labels = np.arange(source.size) if per_window else source
        boot = bootstrap_sources(labels, sigma, threshold=0.95, n_resamples=200, rng=rng)
        covered += boot.n_music_ci[0] <= truth <= boot.n_music_ci[1]
    return covered / 40


def test_music_count_interval_covers_the_truth_in_simulation():
    assert _coverage(per_window=False) >= 0.9
    # resampling windows as if they were independent would be overconfident on the same corpora
    assert _coverage(per_window=True) < 0.8


def test_resample_weights_draw_whole_sources():
    w = resample_weights(50, 400, np.random.default_rng(0))
    assert w.shape == (400, 50)
    assert np.all(w.sum(axis=1) == 50)
    assert w.mean() == pytest.approx(1.0)
    assert np.mean(w == 0) == pytest.approx((1 - 1 / 50) ** 50, abs=0.02)  # ~36.4 % of sources left out


def test_source_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sources has 3 entries but there are 4 windows"):
        bootstrap_sources(["a", "b", "c"], np.ones((4, 2)), threshold=0.95, rng=np.random.default_rng(0))


def test_significant_cells_is_benjamini_hochberg():
    p = np.array([[0.001, 0.01, 0.03], [0.04, 0.5, np.nan]])
    assert significant_cells(p).tolist() == [[True, True, True], [True, False, False]]
    rng = np.random.default_rng(0)
    q = rng.uniform(size=300) ** 3
    expected = stats.false_discovery_control(q) <= 0.05
    assert np.array_equal(significant_cells(q), expected)
    assert not significant_cells(np.full(5, np.nan)).any()


def test_bimodality_coefficient_known_values():
    rng = np.random.default_rng(0)
    assert bimodality_coefficient(rng.normal(size=200_000)) == pytest.approx(1 / 3, abs=0.01)
    assert bimodality_coefficient(rng.uniform(size=200_000)) == pytest.approx(5 / 9, abs=0.01)
    two = np.r_[rng.normal(0, 1, 5000), rng.normal(8, 1, 5000)]
    assert bimodality_coefficient(two) > 0.8
    assert np.isnan(bimodality_coefficient([1.0, 1.0, 1.0, 1.0]))


def test_source_permutation_swaps_whole_pieces_of_equal_size():
    sources = np.array(["a", "b", "a", "c", "b", "d", "d", "d", "e", "e"])  # sizes a2 b2 c1 d3 e2
    order = source_permutation(sources, np.random.default_rng(0))
    assert order[3] == -1  # c is the only piece of one window
    assert np.all(order[5:8] == -1)  # d is the only piece of three
    for piece in ("a", "b", "e"):
        rows = np.flatnonzero(sources == piece)
        partner = set(sources[order[rows]])
        assert len(partner) == 1  # all rows from one piece ...
        assert partner != {piece}  # ... another one
        assert np.all(np.diff(order[rows]) > 0)  # window order kept


def test_piece_level_coincidences_are_not_significant_but_real_links_are():
    rng = np.random.default_rng(5)
    n_pieces, per_piece = 60, 12
    sources = np.repeat(np.arange(n_pieces), per_piece)
    piece_feature = rng.normal(size=n_pieces)[sources] + rng.normal(0, 0.1, sources.size)
    piece_latent = rng.normal(size=n_pieces)[sources] + rng.normal(0, 0.1, sources.size)  # unrelated
    window_latent = rng.normal(size=sources.size)
    window_feature = window_latent + rng.normal(0, 0.3, sources.size)  # a real link, window by window
    x = np.column_stack([piece_feature, window_feature])
    y = np.column_stack([piece_latent, window_latent, rng.normal(size=sources.size)])
    result = phik_permutation_null(x, y, sources, n_permutations=20, rng=rng)
    observed = phik_cross(x, y)
    assert observed[0, 0] > 0.2  # 60 clumps make unrelated columns look related ...
    assert not result.significant[0, 0]  # ... and the piece-level null says so
    assert result.significant[1, 1]
    assert result.share_matched == 1.0
    assert result.null.shape == (20, 2, 3)


def test_no_two_pieces_of_one_size_means_no_null():
    rng = np.random.default_rng(0)
    sources = np.repeat(np.arange(4), [2, 3, 4, 5])
    x = rng.normal(size=(14, 1))
    result = phik_permutation_null(x, x + rng.normal(0, 0.1, (14, 1)), sources, n_permutations=3, rng=rng)
    assert result.share_matched == 0.0
    assert np.isnan(result.threshold).all()
    assert not result.significant.any()

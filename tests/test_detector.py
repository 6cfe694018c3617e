"""Music-vs-noise detector: AUROC known by construction (separable -> 1, identical -> 1/2), group-wise
folds that stop a probe from memorising pieces, and the fixed scores' orientation."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.analysis.detector import (
    ROC_GRID,
    WindowSet,
    auroc_cv,
    detector_auroc,
    kl_divergence,
    run_detector,
    window_set,
)

Z = 12
IS_MUSIC = np.r_[np.ones(4, bool), np.zeros(Z - 4, bool)]


def _set(rng, n=200, shift=0.0, noise_mu=0.0, sigma=1.0, groups=None, r_loss=0.0, features=0.0):
    mu = 0.05 * rng.standard_normal((n, Z))
    mu[:, :4] += rng.standard_normal((n, 4)) + shift
    mu[:, 4:] += noise_mu
    groups = np.arange(n) % 20 if groups is None else groups
    feats = rng.standard_normal((n, 3)) + features
    return WindowSet(mu, np.full((n, Z), sigma), groups, np.full(n, r_loss) + rng.random(n), feats)


def test_kl_divergence_closed_form():
    assert kl_divergence(np.zeros((2, 3)), np.ones((2, 3))) == pytest.approx([0.0, 0.0])
    # KL(N(1, 0.5^2) || N(0, 1)) = 0.5 (1 + 0.25 - 1 - ln 0.25)
    assert kl_divergence(np.ones((1, 1)), np.full((1, 1), 0.5))[0] == pytest.approx(
        0.5 * (0.25 - np.log(0.25))
    )


def test_separable_music_neurons_and_identical_noise_neurons():
    rng = np.random.default_rng(0)
    real = _set(rng)
    fake = _set(rng, shift=6.0)  # music neurons far apart; noise neurons, features, KL of noise dims equal
    result = detector_auroc(real, {"far": fake}, IS_MUSIC, rng=np.random.default_rng(1))
    auroc = result.table.set_index("method")["auroc"]
    assert auroc["music_probe"] > 0.99
    assert auroc["noise_probe"] == pytest.approx(0.5, abs=0.1)
    assert auroc["features"] == pytest.approx(0.5, abs=0.1)
    assert auroc["excited_count"] == pytest.approx(0.5, abs=0.1)
    assert auroc["kl"] > 0.99  # the negatives' large mu costs KL, and -KL ranks real windows higher
    assert set(result.table["kind"]) == {"probe", "score"}
    roc = result.roc[result.roc["method"] == "music_probe"]
    np.testing.assert_allclose(roc["fpr"], ROC_GRID)
    assert roc["tpr"].iloc[-1] == 1.0


def test_identical_distributions_give_half():
    rng = np.random.default_rng(2)
    result = detector_auroc(_set(rng), {"same": _set(rng)}, IS_MUSIC, rng=np.random.default_rng(3))
    for method, auroc in result.table.set_index("method")["auroc"].items():
        assert auroc == pytest.approx(0.5, abs=0.12), method


def test_scores_are_oriented_music_high():
    rng = np.random.default_rng(4)
    real = _set(rng, r_loss=0.0)
    fake = _set(rng, noise_mu=0.5, r_loss=50.0)  # every noise neuron excited, worse reconstructions
    auroc = detector_auroc(real, {"noisy": fake}, IS_MUSIC, rng=rng).table.set_index("method")["auroc"]
    assert auroc["excited_count"] == 1.0
    assert auroc["neg_elbo"] == 1.0
    assert auroc["noise_probe"] > 0.99


def test_group_folds_stop_memorising_pieces():
    # 40 pieces, each a random point in 64 dims; the label is a property of the piece, unrelated to its point.
    rng = np.random.default_rng(5)
    centres = 3.0 * rng.standard_normal((40, 64))
    groups = np.repeat(np.arange(40), 10)
    x = centres[groups] + 0.1 * rng.standard_normal((400, 64))
    y = groups % 2
    by_piece, _, folds = auroc_cv(x, y, groups, n_splits=5)
    by_window, _, _ = auroc_cv(x, y, np.arange(400), n_splits=5)
    assert folds == 5
    assert by_window > 0.95  # windows of a piece on both sides: the probe recognises the piece
    assert by_piece == pytest.approx(0.5, abs=0.2)


def test_too_few_groups_is_an_error():
    with pytest.raises(ValueError, match="two groups"):
        auroc_cv(np.zeros((10, 2)), np.r_[np.ones(5), np.zeros(5)].astype(int), np.zeros(10))


class FakeModel:
    """mu = mean pitch class of the window in dim 0, zeros elsewhere; r_loss = number of onsets."""

    def encode(self, windows):
        mu = np.zeros((len(windows), 3))
        mu[:, 0] = windows.mean(axis=1)
        return mu, mu, np.ones_like(mu)

    def reconstruct(self, windows, z=None):
        return np.zeros((*windows.shape, 90)), (windows >= 2).sum(axis=1).astype(float)


def test_window_set_reads_the_model_and_features():
    windows = np.tile(np.array([[41, 0, 0, 0, 43, 0, 0, 0] * 4], dtype=np.int8), (3, 1))
    ws = window_set(FakeModel(), windows, np.array([7, 7, 8]), qpm=100.0)
    np.testing.assert_allclose(ws.mu[:, 0], windows.mean(axis=1))
    np.testing.assert_array_equal(ws.r_loss, [8, 8, 8])
    assert ws.features.shape[0] == 3
    np.testing.assert_array_equal(ws.groups, [7, 7, 8])


def test_run_detector_makes_every_negative_from_the_real_rows():
    real = np.tile(np.array([41, 0, 0, 0, 43, 0, 45, 0] * 4, dtype=np.int8), (24, 1))
    real[:, 0] = np.arange(24) % 12 + 41  # some variety between windows
    result = run_detector(
        FakeModel(), real, np.arange(24) // 2, np.array([True, False, False]), rng=np.random.default_rng(0)
    )
    assert list(dict.fromkeys(result.table["negative"])) == [
        "uniform",
        "shuffled_pitches",
        "shuffled_rhythm",
        "random_walk",
    ]
    assert (result.table["n_positive"] == 24).all()
    assert (result.table["n_negative"] == 24).all()
    # shuffling pitches keeps each window's mean class (FakeModel's mu) and its onset count (its r_loss):
    # KL and -ELBO tie on every pair, AUROC exactly 1/2
    auroc = result.table.set_index(["negative", "method"])["auroc"]
    assert auroc[("shuffled_pitches", "kl")] == pytest.approx(0.5, abs=1e-9)
    assert auroc[("shuffled_pitches", "neg_elbo")] == pytest.approx(0.5, abs=1e-9)

"""Disentanglement metrics: exact answers on importance / MI matrices and statistical known answers on
synthetic factors (the cases of disentanglement_lib's and latte's own tests, values from their
definitions)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from musicneurons import disentanglement_scores
from musicneurons.analysis.disentanglement import (
    dci_from_importance,
    discretize_factors,
    mig,
    modularity_from_mi,
    monotonicity,
    mutual_information,
    sap,
    scc,
    spearman_significant,
)

DIAG = np.diag(5.0 * np.ones(5))
LOG2_10 = math.log(2) / math.log(10)


@pytest.mark.parametrize(
    ("matrix", "d", "c", "m"),
    [
        (DIAG, 1.0, 1.0, 1.0),
        (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 1.0, 1.0, 2 / 3),
        (np.zeros((10, 10)), 0.0, 0.0, 0.0),
        (np.vstack([DIAG, DIAG]), 1.0, 1 - LOG2_10, 1.0),
        (DIAG[:2, :], 1.0, 1.0, 1.0),
        (np.hstack([DIAG, DIAG]), 1 - LOG2_10, 1.0, 1 - 1 / 9),
    ],
    ids=[
        "diagonal",
        "unused-code",
        "zeros",
        "two-codes-per-factor",
        "factors-missed",
        "one-code-two-factors",
    ],
)
def test_dci_and_modularity_exact(matrix, d, c, m):
    got_d, got_c = dci_from_importance(matrix)
    assert got_d == pytest.approx(d, abs=1e-12)
    assert got_c == pytest.approx(c, abs=1e-12)
    assert modularity_from_mi(matrix) == pytest.approx(m, abs=1e-12)


def _factors(n: int = 1000, k: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 11, size=(n, k)).astype(float)


def _rotation(k: int, seed: int = 1) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((k, k)))
    return q


@pytest.fixture(scope="module")
def identity_scores():
    v = _factors()
    z = v + 0.01 * np.random.default_rng(2).standard_normal(v.shape)
    return disentanglement_scores(z, v, random_state=0)


@pytest.fixture(scope="module")
def rotated_scores():
    v = _factors()
    standard = (v - 5.5) / v.std(axis=0)
    return disentanglement_scores(standard @ _rotation(v.shape[1]), v, random_state=0, dci_model="forest")


def test_identity_latents_score_high(identity_scores):
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "modularity", "scc"):
        assert 0.9 <= identity_scores[key] <= 1.0 + 1e-9, key
    assert identity_scores["dci_informativeness"] > 0.95
    assert identity_scores["explicitness"] > 0.95
    assert identity_scores["interpretability"] > 0.99
    assert identity_scores["interpretability_dims"] == list(range(10))  # factor k found in latent k
    assert identity_scores["active_units"] == 10


def test_rotation_scores_lower_than_identity(identity_scores, rotated_scores):
    for key in (
        "mig",
        "sap",
        "dci_disentanglement",
        "dci_completeness",
        "modularity",
        "scc",
        "interpretability",
    ):
        assert rotated_scores[key] < identity_scores[key] - 0.1, key
    # a rotation loses no information: a linear read-out of all latents still decodes every factor
    assert rotated_scores["explicitness"] > 0.9


def test_independent_latents_score_low():
    v = _factors()
    z = np.random.default_rng(5).standard_normal(v.shape)
    scores = disentanglement_scores(z, v, random_state=0, dci_model="forest")
    for key in ("mig", "sap", "scc"):
        assert 0.0 <= scores[key] <= 0.1, key
    assert scores["dci_informativeness"] < 0.05
    assert 0.4 < scores["explicitness"] < 0.6  # chance


def test_zero_latents_score_low():
    v = _factors(1000)
    scores = disentanglement_scores(np.zeros_like(v), v, random_state=0, dci_model="forest")
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness"):
        assert 0.0 <= scores[key] <= 0.2, key
    assert scores["active_units"] == 0


def test_duplicated_latents(identity_scores):
    v = _factors()
    noise = 0.01 * np.random.default_rng(3).standard_normal((len(v), 20))
    duplicated = disentanglement_scores(np.hstack([v, v]) + noise, v, random_state=0, dci_model="forest")
    assert 0.0 <= duplicated["mig"] <= 0.1
    assert 0.0 <= duplicated["sap"] <= 0.2
    assert duplicated["modularity"] >= 0.9  # each latent still holds one factor
    # importance split evenly over two of 20 latents: completeness 1 - ln 2 / ln 20 = 0.77
    assert duplicated["dci_completeness"] == pytest.approx(1 - math.log(2) / math.log(20), abs=0.08)
    assert duplicated["dci_completeness"] < identity_scores["dci_completeness"] - 0.1
    assert duplicated["dci_disentanglement"] > 0.9


def test_mig_estimators_differ_but_agree_on_identity():
    v = _factors(1000, 3)
    z = v + 0.01 * np.random.default_rng(4).standard_normal(v.shape)
    binned = mig(z, v, estimator="binned")
    knn = mig(z, v, estimator="knn")
    assert binned > 0.9
    assert knn > 0.8
    assert binned != pytest.approx(knn, abs=1e-6)
    with pytest.raises(ValueError, match="estimator"):
        mig(z, v, estimator="kde")


def test_binned_mi_of_a_copy_is_the_entropy():
    labels = discretize_factors(_factors(3000, 1))
    mi = mutual_information(labels.astype(float), labels, n_bins=10)
    assert mi[0, 0] == pytest.approx(math.log(10), abs=0.01)  # 10 equiprobable levels


def test_discretize_factors_keeps_levels_and_bins_continuous():
    v = np.column_stack([np.repeat([3.0, 7.0, 9.0], 50), np.linspace(0, 1, 150)])
    labels = discretize_factors(v, n_bins=20)
    assert sorted(set(labels[:, 0])) == [0, 1, 2]
    assert labels[0, 1] == 0
    assert labels[-1, 1] == 19
    assert np.bincount(labels[:, 1]).min() >= 7  # equal-width bins on a uniform grid


def test_sap_continuous_and_discrete_on_identity():
    v = _factors(600, 3)
    z = v + 0.01 * np.random.default_rng(6).standard_normal(v.shape)
    assert sap(z, v) > 0.95
    # binary factors: its own latent classifies a factor perfectly, any other at chance (1/2)
    binary = (v > 5).astype(float)
    assert sap(binary + 0.01 * z, binary, discrete=True) == pytest.approx(0.5, abs=0.1)
    assert sap(np.random.default_rng(8).standard_normal(v.shape), binary, discrete=True) < 0.1


def test_scc_zeroes_insignificant_correlations():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((50, 4))
    v = rng.standard_normal((50, 2))
    rho = spearman_significant(z, v)
    from scipy import stats

    for j in range(4):
        for k in range(2):
            r, p = stats.spearmanr(z[:, j], v[:, k])
            assert rho[j, k] == pytest.approx(0.0 if p > 0.05 else r, abs=1e-9)
    assert scc(v[:, :1] * 2 + 1, v[:, :1]) == pytest.approx(1.0)


def test_scores_drop_constant_factors_and_nan_rows():
    v = pd.DataFrame({"a": np.arange(100.0), "const": np.ones(100), "b": np.r_[np.nan, np.arange(99.0)]})
    z = np.column_stack([np.arange(100.0), np.r_[0.0, np.arange(99.0)]])
    scores = disentanglement_scores(z, v)
    assert scores["dropped_factors"] == ["const"]
    assert scores["factor_names"] == ["a", "b"]
    assert scores["n_samples"] == 99
    assert set(scores["estimators"]) >= {"mig", "sap", "dci", "modularity", "scc"}


def test_latte_monotonicity_known_answers():
    z = np.linspace(-2, 2, 9)
    attributes = z[:, None] * np.array([1.0, -2.0, 0.0])
    got = monotonicity(z, attributes)
    assert got[0] == 1.0
    assert got[1] == -1.0
    assert np.isnan(got[2])
    zp = np.linspace(0, 2, 9)
    assert monotonicity(zp, zp**2) == 1.0
    with pytest.raises(ValueError, match="monotone"):
        monotonicity(np.zeros(5), np.arange(5.0))


def test_monotonicity_counts_only_changing_steps():
    z = np.arange(5.0)
    a = np.array([0.0, 1.0, 1.0, 0.0, 0.0])  # one rise, one fall, two flat steps
    assert monotonicity(z, a) == 0.0
    samples = np.stack([a, np.arange(5.0)])[:, :, None]  # (n_samples, n_steps, 1)
    np.testing.assert_array_equal(monotonicity(z, samples)[:, 0], [0.0, 1.0])


def test_fit_on_active_units_only_gives_unused_latents_no_importance():
    v = _factors(600, 3)
    rng = np.random.default_rng(9)
    z = np.hstack([v + 0.01 * rng.standard_normal(v.shape), 0.001 * rng.standard_normal((600, 5))])
    active = disentanglement_scores(z, v, dci_model="forest", fit_latents="active")
    assert active["active_units"] == 3
    assert active["dci_completeness"] > 0.9
    assert active["explicitness"] > 0.95
    with pytest.raises(ValueError, match="fit_latents"):
        disentanglement_scores(z, v, fit_latents="some")

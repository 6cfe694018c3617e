"""Pearson, Spearman and phi_K matrices against pandas, scipy and the phik library, plus known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import phik
import pytest
from phik.binning import bin_edges
from phik.bivariate import chi2_from_phik
from phik.bivariate import phik_from_chi2 as phik_reference_from_chi2
from phik.significance import significance_from_array
from scipy import stats

from musicneurons import pearson_matrix, phik_cross, phik_significance_cross, spearman_matrix
from musicneurons.analysis.correlations import bin_codes
from musicneurons.analysis.phik_curve import binned_normal_chi2_ratio, phik_from_chi2


def _phik_pair(a: np.ndarray, b: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # phik warns about constant columns before returning NaN
        return float(phik.phik_from_array(a, b, num_vars=["x", "y"]))


@pytest.fixture(scope="module")
def real_shaped() -> tuple[np.ndarray, np.ndarray]:
    """Features like music21's (skewed, few discrete values, binary, NaN, constant) and float32 latents."""
    rng = np.random.default_rng(7)
    n = 2500
    z = rng.normal(size=(n, 5)).astype(np.float32)
    z[:, 2] *= 0.02  # a narrow music neuron
    z[rng.random(n) < 0.005, 4] = 9.0  # outliers: empty middle bins
    features = np.column_stack(
        [
            z[:, 0] ** 2 + 0.3 * rng.normal(size=n),  # non-linear in a latent
            rng.integers(0, 3, n),  # 3 distinct values
            (z[:, 1] > 0.3).astype(float),  # binary, dependent
            np.round(2 * z[:, 1]) + rng.integers(0, 2, n),  # discrete, dependent
            np.where(rng.random(n) < 0.1, np.nan, z[:, 3] + rng.normal(size=n)),  # missing values
            np.full(n, 4.0),  # constant
            np.exp(3 * z[:, 4]),  # very skewed
            rng.integers(0, 2, n),  # independent binary
        ]
    )
    return features, z


def test_phik_cross_equals_phik_from_array(real_shaped: tuple[np.ndarray, np.ndarray]) -> None:
    features, z = real_shaped
    ours = phik_cross(features, z)
    assert ours.shape == (features.shape[1], z.shape[1])
    reference = np.array(
        [[_phik_pair(features[:, i], z[:, j]) for j in range(z.shape[1])] for i in range(features.shape[1])]
    )
    assert np.array_equal(np.isnan(ours), np.isnan(reference))
    assert np.isnan(ours[5]).all()  # the constant feature: NaN, and the matrix keeps its row
    np.testing.assert_allclose(ours, reference, atol=1e-6, equal_nan=True)


def test_phik_cross_equals_phik_matrix_entries(real_shaped: tuple[np.ndarray, np.ndarray]) -> None:
    features, z = real_shaped
    frame = pd.DataFrame(
        np.column_stack([features[:, [0, 1, 2, 3, 4]], z[:, :3]]),
        columns=["f0", "f1", "f2", "f3", "f4", "z0", "z1", "z2"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = phik.phik_matrix(frame, interval_cols=list(frame.columns), verbose=False, njobs=1)
    ours = phik_cross(frame.to_numpy())  # the full square, x against itself
    np.testing.assert_allclose(ours, reference.loc[frame.columns, frame.columns].to_numpy(), atol=1e-6)


def test_two_by_two_tables_use_yates_like_phik() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 400).astype(float)
    b = np.where(rng.random(400) < 0.3, 1 - a, a)  # binary vs binary: a 2 x 2 table
    np.testing.assert_allclose(phik_cross(a, b)[0, 0], _phik_pair(a, b), atol=1e-6)


def test_known_answers_identity_and_independence() -> None:
    rng = np.random.default_rng(0)
    feature = rng.normal(size=3000)
    latents = np.column_stack([feature, rng.normal(size=3000), -2 * feature + 1])
    phi = phik_cross(feature, latents)
    assert phi[0, 0] == 1.0  # a latent equal to the feature
    assert phi[0, 1] < 0.1  # an independent latent
    assert phi[0, 2] == 1.0  # phi_K ignores sign and scale
    r = pearson_matrix(feature, latents)
    np.testing.assert_allclose(r[0, [0, 2]], [1.0, -1.0], atol=1e-12)
    assert abs(r[0, 1]) < 0.05


def test_bin_codes_follow_phik_edges_right_closed() -> None:
    rng = np.random.default_rng(1)
    values = np.column_stack(
        [rng.normal(size=500), np.round(rng.normal(size=500) * 2) / 3, np.linspace(0, 1, 500)]
    )
    codes = bin_codes(values)
    for j in range(values.shape[1]):
        edges = bin_edges(values[:, j], 10)
        np.testing.assert_array_equal(codes[:, j], np.searchsorted(edges, values[:, j]) - 1)
    # hand-made: edges of [0, 10] are ~0, 1, ..., 10 and a value on an edge goes to the lower bin
    hand = bin_codes(np.array([0.0, 1.0, 1.5, 10.0, np.nan]))[:, 0]
    np.testing.assert_array_equal(hand, [0, 0, 1, 9, -1])


def test_phik_from_chi2_replays_phik_root_finder() -> None:
    rng = np.random.default_rng(11)
    shapes = [(10, 10), (2, 10), (3, 7), (2, 2), (9, 10), (5, 4)]
    chi2, n, rows, cols, reference = [], [], [], [], []
    for r, c in shapes:
        for _ in range(6):
            records = int(rng.integers(50, 60000))
            pedestal = (r - 1) * (c - 1)
            value = pedestal + (records * min(r - 1, c - 1) - pedestal) * rng.random() ** 3
            chi2.append(value)
            n.append(records)
            rows.append(r)
            cols.append(c)
            reference.append(phik_reference_from_chi2(value, records, r, c, pedestal=pedestal))
    ours = phik_from_chi2(np.array(chi2), np.array(n), np.array(rows), np.array(cols))
    np.testing.assert_allclose(ours, reference, atol=1e-7)


def test_binned_normal_curve_matches_phik() -> None:
    for r, c in [(10, 10), (2, 6), (7, 3)]:
        rho = np.array([0.0, 0.05, 0.3, 0.71, 0.95, 0.9999, 1.0])
        reference = np.array([chi2_from_phik(v, 1, nx=r, ny=c) for v in rho]) / min(r - 1, c - 1)
        np.testing.assert_allclose(binned_normal_chi2_ratio(rho, r, c), reference, atol=1e-8)


def test_significance_matches_phik_asymptotic(real_shaped: tuple[np.ndarray, np.ndarray]) -> None:
    features, z = real_shaped
    p, zscore = phik_significance_cross(features[:, [0, 1, 2, 7]], z[:, [0, 1]])
    for i, fi in enumerate([0, 1, 2, 7]):
        for j in range(2):
            p_ref, z_ref = significance_from_array(
                features[:, fi], z[:, j], num_vars=["x", "y"], significance_method="asymptotic"
            )
            np.testing.assert_allclose(p[i, j], p_ref, rtol=1e-9, atol=1e-300)
            np.testing.assert_allclose(zscore[i, j], z_ref, rtol=1e-9)


def test_pearson_matches_pandas_pairwise_with_nan(real_shaped: tuple[np.ndarray, np.ndarray]) -> None:
    features, z = real_shaped
    frame = pd.DataFrame(np.column_stack([features, z]))
    reference = frame.corr().to_numpy()
    ours = pearson_matrix(frame.to_numpy())
    np.testing.assert_allclose(ours, reference, atol=1e-10, equal_nan=True)
    assert np.isnan(ours[5]).all()  # the constant feature
    cross = pearson_matrix(features, z)
    np.testing.assert_allclose(cross, reference[:8, 8:], atol=1e-10, equal_nan=True)


def test_spearman_matches_scipy_on_complete_data() -> None:
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(size=300), rng.integers(0, 4, 300)])
    y = np.column_stack([np.exp(x[:, 0]) + rng.normal(size=300), rng.normal(size=300)])
    reference = stats.spearmanr(np.column_stack([x, y])).statistic[:2, 2:]
    np.testing.assert_allclose(spearman_matrix(x, y), reference, atol=1e-12)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="samples"):
        phik_cross(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="infinite"):
        pearson_matrix(np.array([1.0, np.inf, 2.0]))

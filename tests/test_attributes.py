"""Attribute vectors (MusicVAE's quartile method) and the comparison with single neurons, on known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musicneurons import attribute_vectors, compare_attribute_vectors
from musicneurons.analysis.attributes import extreme_groups


def test_extreme_groups_are_quartiles() -> None:
    feature = np.array([5.0, 1.0, 7.0, 3.0, np.nan, 2.0, 8.0, 4.0, 6.0])  # 1..8 plus a NaN
    top, bottom = extreme_groups(feature)
    # numpy quantiles of 1..8: q25 = 2.75, q75 = 6.25
    np.testing.assert_array_equal(np.flatnonzero(top), [2, 6])  # 7 and 8
    np.testing.assert_array_equal(np.flatnonzero(bottom), [1, 5])  # 1 and 2
    # a dominant value: q25 = q75 = 0, the groups must not overlap
    top, bottom = extreme_groups(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(np.flatnonzero(top), [6, 7])
    np.testing.assert_array_equal(np.flatnonzero(bottom), [0, 1, 2, 3, 4, 5])


def test_attribute_vector_hand_computed() -> None:
    mu = np.array(
        [[0.0, 1.0], [2.0, 1.0], [4.0, 3.0], [6.0, 5.0], [8.0, 5.0], [10.0, 9.0], [12.0, 9.0], [14.0, 11.0]]
    )
    feature = np.arange(8.0)  # q25 = 1.75 -> rows 0, 1; q75 = 5.25 -> rows 6, 7
    vectors = attribute_vectors(mu, feature)
    assert vectors.shape == (1, 2)
    np.testing.assert_allclose(vectors[0], [(12 + 14) / 2 - (0 + 2) / 2, (9 + 11) / 2 - (1 + 1) / 2])
    assert np.isnan(attribute_vectors(mu, np.ones(8))).all()  # constant feature: no extremes


def test_single_neuron_feature_beats_its_attribute_vector() -> None:
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(3000, 6))
    features = pd.DataFrame({"pitch": mu[:, 2], "rhythm": mu[:, 0] + mu[:, 4]})
    table = compare_attribute_vectors(mu, features)
    assert table["feature"].tolist() == ["pitch", "rhythm"]
    pitch, rhythm = table.iloc[0], table.iloc[1]
    # a feature equal to one neuron: that neuron correlates exactly; the averaged vector picks up noise
    assert pitch["best_neuron"] == 2
    assert pitch["best_neuron_corr"] == pytest.approx(1.0)
    assert 0.9 < pitch["attribute_corr"] < 1.0
    assert not pitch["attribute_better"]
    # a feature spread over two neurons: one neuron reaches ~0.71, the attribute vector ~1
    assert rhythm["best_neuron"] in (0, 4)
    assert rhythm["best_neuron_corr"] == pytest.approx(np.sqrt(0.5), abs=0.05)
    assert rhythm["attribute_corr"] > 0.95
    assert rhythm["attribute_better"]


def test_dims_restrict_the_subspace_and_other_methods_run() -> None:
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(1500, 5))
    feature = np.exp(mu[:, 3])  # monotone: Spearman 1 on neuron 3
    table = compare_attribute_vectors(mu, feature, dims=[1, 3], method="spearman", names=["f"])
    assert table.loc[0, "best_neuron"] == 3
    assert table.loc[0, "best_neuron_corr"] == pytest.approx(1.0)
    phik_table = compare_attribute_vectors(mu, feature, dims=[0, 3], method="phik")
    assert phik_table.loc[0, "best_neuron"] == 3
    assert phik_table.loc[0, "best_neuron_corr"] > 0.8  # uniform bins of a skewed feature: below 1
    with pytest.raises(ValueError, match="method"):
        compare_attribute_vectors(mu, feature, method="kendall")

"""LOESS curves drawn only where there is data, with a span that grows for small samples."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.analysis.local_regression import loess, loess_segments, loess_span, supported_segments


def test_an_empty_x_range_splits_the_curve():
    rng = np.random.default_rng(0)
    x = np.r_[rng.uniform(0, 1, 500), rng.uniform(3, 4, 500)]  # nothing between 1 and 3
    y = np.sin(x) + rng.normal(0, 0.1, x.size)
    stretches = supported_segments(x)
    assert len(stretches) == 2
    assert stretches[0][1] < 1
    assert stretches[1][0] > 3
    parts = loess_segments(x, y, frac=0.3)
    assert len(parts) == 2
    whole_x, whole_y = loess(x, y, frac=0.3)
    for (lo, hi), (px, py) in zip(stretches, parts, strict=True):
        assert px.min() == lo
        assert px.max() == hi
        inside = (whole_x >= lo) & (whole_x <= hi)
        np.testing.assert_array_equal(py, whole_y[inside])  # the same fit, only cut


def test_integer_feature_with_one_far_outlier():
    # counts 0..10 (dense) and one window at 40: the lone sample is not drawn, the integers stay joined
    x = np.r_[np.repeat(np.arange(11), 50), 40.0]
    assert supported_segments(x) == [(0.0, 10.0)]
    assert supported_segments(x, min_count=1) == [(0.0, 10.0), (40.0, 40.0)]
    assert supported_segments(x, max_gap=0.5, min_count=1)[:2] == [(0.0, 0.0), (1.0, 1.0)]


def test_degenerate_inputs():
    assert supported_segments([np.nan, np.nan]) == []
    assert supported_segments(np.full(20, 2.0)) == [(2.0, 2.0)]
    assert supported_segments(np.full(3, 2.0)) == [(2.0, 2.0)]  # the 10 samples needed are capped at n
    assert supported_segments(np.r_[np.full(3, 2.0), 9.0], max_gap=1, min_count=4) == []


def test_span():
    assert loess_span(10_000) == pytest.approx(0.3)
    assert loess_span(100) == pytest.approx(0.5)  # 50 points per local fit
    assert loess_span(20) == 1.0
    with pytest.raises(ValueError, match="n_samples must be positive"):
        loess_span(0)

"""Array validators: canonical forms and messages that name the array, the index and the value."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.arrays import check_latents, check_qpm, check_windows


def test_windows_become_contiguous_int8_class_indices():
    windows = np.array([[41, 0, 1, 89], [2, 0, 0, 0]], dtype=np.int64)[:, ::1]
    checked = check_windows(windows, steps=4)
    assert checked.dtype == np.int8
    assert checked.flags.c_contiguous
    assert checked.tolist() == [[41, 0, 1, 89], [2, 0, 0, 0]]
    assert check_windows([[2.0, 0.0]]).tolist() == [[2, 0]]  # whole floats are accepted
    already = np.zeros((3, 32), np.int8)
    assert check_windows(already) is already  # no copy when already canonical
    assert check_windows(np.zeros((0, 32), np.int8), steps=32).shape == (0, 32)


@pytest.mark.parametrize(
    ("windows", "kwargs", "message"),
    [
        (np.zeros(32), {}, r"2-D array .* got shape \(32,\)"),
        (np.zeros((2, 16)), {"steps": 32}, "windows of 16 steps, expected 32"),
        (np.full((1, 2), 0.5), {}, "integer class indices"),
        (np.array([[0, 0, 0], [0, 90, 0]]), {}, r"class index 90 at window 1, step 1 outside 0\.\.89"),
        (np.array([[-1, 0]]), {"name": "song.parquet"}, "song.parquet: class index -1 at window 0, step 0"),
    ],
)
def test_bad_windows_are_refused_with_the_place(windows, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_windows(windows, **kwargs)


def test_qpm_is_broadcast_and_must_be_finite_and_positive():
    assert check_qpm(90, 3).tolist() == [90.0, 90.0, 90.0]
    assert check_qpm([60, 120], 2).dtype == np.float64
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        check_qpm([60, 120], 3)
    with pytest.raises(ValueError, match="qpm: 0.0 at window 1 is not a finite positive tempo"):
        check_qpm([60, 0], 2)
    with pytest.raises(ValueError, match="--qpm: nan at window 0"):
        check_qpm(float("nan"), 2, name="--qpm")


def test_latents_keep_float32_and_refuse_nan_and_inf():
    mu = np.ones((4, 3), np.float32)
    assert check_latents(mu, dim=3) is mu
    assert check_latents([[1, 2]]).dtype == np.float64
    with pytest.raises(ValueError, match="has 3 dimensions, expected 512"):
        check_latents(mu, dim=512)
    with pytest.raises(ValueError, match=r"2-D array \(n_samples, n_dims\)"):
        check_latents(np.ones(3))
    bad = mu.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="z: inf at row 2, dimension 1"):
        check_latents(bad, name="z")
    with pytest.raises(ValueError, match="real numbers"):
        check_latents(np.ones((2, 2), complex))

"""The six latent-health rows on a fake model whose every answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.analysis.latent_health import Target, latent_health, targets, unmet
from musicneurons.data.example_melodies import twinkle

N, T, Z = 6, 32, 12
MUSIC = 3  # dims 0-2: sigma 0.5; dims 3-9: sigma 0.99 (silent); dims 10-11: sigma 0.95 (not silent)


def _windows() -> np.ndarray:
    rng = np.random.default_rng(1)
    w = np.zeros((N, T), dtype=np.int8)
    w[:, 0] = rng.integers(2, 90, N)  # a note, then ...
    w[:, 8::8] = rng.integers(2, 90, (N, 3))  # three more onsets per window: 28 holds after the first step
    return w


class FakeModel:
    """encode: fixed sigma; mu with ``k`` excited noise dims in window k. reconstruct: every step right
    when some noise dim is non-zero, else only the first half. decode: window i's first 24 steps from
    window i's mu, then hold; Twinkle back with 4 wrong steps."""

    def __init__(self, windows: np.ndarray) -> None:
        self.windows = windows
        self.sigma = np.array([0.5] * MUSIC + [0.99] * 7 + [0.95] * 2)
        self.mu = np.full((N, Z), 0.05)
        self.mu[:, :MUSIC] = np.arange(N)[:, None] + 1.0  # identifies the window
        for k in range(N):
            self.mu[k, MUSIC : MUSIC + k] = 0.3  # k excited noise dims: median over windows 0..5 is 2.5

    def encode(self, windows, *, rng=None):
        if windows.shape == (1, T) and np.array_equal(windows[0], twinkle(T)):
            mu = np.full((1, Z), -1.0)
            return mu, mu, np.tile(self.sigma, (1, 1))
        return self.mu, self.mu, np.tile(self.sigma, (len(windows), 1))

    def reconstruct(self, windows, z=None):
        right = np.abs(z[:, MUSIC:]).max(axis=1) > 0
        predicted = np.where(right[:, None], windows, 0)
        predicted[:, : T // 2] = windows[:, : T // 2]
        return np.eye(90, dtype=np.float32)[predicted], np.zeros(len(windows))

    def decode(self, z, length=None, temperature=1.0):
        if z[0, 0] == -1.0:
            out = twinkle(T)
            out[[1, 2, 3, 5]] = 88
            return out[None]
        out = self.windows[(z[:, 0] - 1).astype(int)].copy()
        out[:, 24:] = 0
        return out


def test_latent_health_rows_on_a_model_with_known_answers():
    w = _windows()
    rows = latent_health(FakeModel(w), w, n_windows=None)
    assert rows["n_windows"] == N
    assert rows["music_dims"] == MUSIC
    assert rows["silent_share"] == pytest.approx(7 / 9)
    assert rows["excited_noise_median"] == pytest.approx(2.5)
    # z = mu: every step right (all noise dims 0.05 != 0); zeroed: the second half is predicted as hold, which
    # is right at the holds: 14 of 16 second-half steps hold (onsets at 16 and 24 miss)
    assert rows["teacher_forced_accuracy"] == 1.0
    assert rows["accuracy_lost_zeroing_noise"] == pytest.approx(2 / T)
    # hold baseline: step 0 copied + the 28 holds; free decode: first 24 steps right + the holds after step 24
    assert rows["hold_baseline_accuracy"] == pytest.approx(29 / T)
    assert rows["free_running_accuracy"] == pytest.approx(31 / T)
    assert rows["free_minus_hold"] == pytest.approx(2 / T)
    assert rows["twinkle_share"] == pytest.approx(28 / T)


def test_latent_health_subset_is_seeded_and_bounded():
    w = _windows()

    class Four(FakeModel):
        def encode(self, windows, *, rng=None):
            _m, _mu, s = super().encode(windows, rng=rng)
            return _m[: len(windows)], _mu[: len(windows)], s

    rows = latent_health(Four(w), w, n_windows=4, seed=3)
    assert rows["n_windows"] == 4
    assert latent_health(Four(w), w, n_windows=4, seed=3) == rows


def test_targets_and_unmet():
    assert Target("x", "x", 10, 80).met(10)
    assert Target("x", "x", 10, 80).met(80)
    assert not Target("x", "x", 10, 80).met(9)
    below = Target("x", "x", None, 100, strict=True)
    assert below.met(99.5)
    assert not below.met(100)
    assert below.bounds() == "< 100"
    assert Target("x", "x", 0.95).bounds() == "≥ 0.95"
    good = {
        "music_dims": 20,
        "silent_share": 0.99,
        "excited_noise_median": 40,
        "accuracy_lost_zeroing_noise": 0.005,
        "free_minus_hold": 0.07,
        "twinkle_share": 1.0,
    }
    assert unmet(good, 16) == []
    assert unmet(good, 2) == ["free_minus_hold"]  # the 2-bar model must gain 0.10 over holding
    assert [t.key for t in targets(2)] == list(good)

"""Latent ablation curve, driven through a stand-in that follows the TrainedModel contract."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons import ablation_curve
from musicneurons.analysis.ablation import ablated_latents

NUM_CLASSES = 90


class StandInModel:
    """Decodes step t correctly iff latent dimension t % z_size still holds the window's true mu.

    Otherwise it predicts NO_EVENT (class 0); the test windows never contain class 0, so every such step is
    wrong. ``reconstruct`` returns (logits (n, T, 90), r_loss (n,)) like ``TrainedModel.reconstruct``.
    """

    def __init__(self, mu: np.ndarray) -> None:
        self.mu = mu
        self.calls: list[np.ndarray] = []

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.mu.copy(), self.mu.copy(), np.ones_like(self.mu)

    def reconstruct(self, windows: np.ndarray, z: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        z = self.mu if z is None else z
        self.calls.append(z.copy())
        n, steps = windows.shape
        dims = np.arange(steps) % z.shape[1]
        knows = np.isclose(z[:, dims], self.mu[:, dims])  # (n, T)
        predicted = np.where(knows, windows, 0)
        logits = np.full((n, steps, NUM_CLASSES), -10.0, dtype=np.float32)
        np.put_along_axis(logits, predicted[..., None].astype(np.int64), 10.0, axis=-1)
        r_loss = (~knows).sum(axis=1).astype(np.float32) * 20.0
        return logits, r_loss


@pytest.fixture
def setup() -> tuple[StandInModel, np.ndarray]:
    rng = np.random.default_rng(0)
    windows = rng.integers(2, NUM_CLASSES, size=(6, 8)).astype(np.int8)  # T = 8, no NO_EVENT
    mu = rng.uniform(0.5, 2.0, size=(6, 4)).astype(np.float32)  # z_size 4, every mu non-zero
    return StandInModel(mu), windows


def test_accuracy_grows_with_the_kept_dimensions(setup: tuple[StandInModel, np.ndarray]) -> None:
    model, windows = setup
    order = [2, 0, 3, 1]
    curve = ablation_curve(model, windows, order, ks=[0, 1, 2, 3, 4])
    # each kept dimension decodes 2 of the 8 steps
    np.testing.assert_allclose(curve["accuracy"], [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve["r_loss"], [160.0, 120.0, 80.0, 40.0, 0.0])
    assert curve["k"].tolist() == [0, 1, 2, 3, 4]
    # the decoder saw mu on order[:k] and exact zeros elsewhere
    z_for_k2 = model.calls[2]
    np.testing.assert_array_equal(z_for_k2[:, [2, 0]], model.mu[:, [2, 0]])
    assert not z_for_k2[:, [1, 3]].any()


def test_default_ks_and_given_mu(setup: tuple[StandInModel, np.ndarray]) -> None:
    model, windows = setup
    curve = ablation_curve(model, windows, [0, 1, 2, 3], mu=model.mu)
    assert curve["k"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(curve["accuracy"], [0.25, 0.5, 0.75, 1.0])


def test_ablated_latents_and_checks(setup: tuple[StandInModel, np.ndarray]) -> None:
    model, windows = setup
    z = ablated_latents(np.array([[1.0, 2.0, 3.0]]), np.array([2, 0, 1]), 2)
    np.testing.assert_array_equal(z, [[1.0, 0.0, 3.0]])
    with pytest.raises(ValueError, match="permutation"):
        ablation_curve(model, windows, [0, 1, 1, 3])
    with pytest.raises(ValueError, match="every k"):
        ablation_curve(model, windows, [0, 1, 2, 3], ks=[5])

"""Causal probes on a stand-in model whose greedy decode is a known function of z: neuron 0 sets the pitch,
neuron 1 the number of notes, neurons 2 and 3 nothing."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.analysis.interventions import DEFAULT_GRID, intervention_effects, probe_neurons

STEPS = 32


class PitchRhythmModel:
    """decode(z): round(8 + 2 z_1) equally spaced notes (1..16), all of MIDI pitch round(60 + 3 z_0)."""

    def __init__(self) -> None:
        self.temperatures: list[float] = []

    def encode(self, windows):
        raise AssertionError("the test passes mu")

    def decode(self, z, length=None, temperature=1.0):
        self.temperatures.append(temperature)
        z = np.asarray(z, dtype=np.float64)
        pitch = np.clip(np.round(60 + 3 * z[:, 0]), 21, 108).astype(int)
        notes = np.clip(np.round(8 + 2 * z[:, 1]), 1, 16).astype(int)
        out = np.zeros((len(z), STEPS), dtype=np.int8)
        for i, (p, k) in enumerate(zip(pitch, notes, strict=True)):
            out[i, (np.arange(k) * STEPS) // k] = p - 19
        return out


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    mu = 0.3 * rng.standard_normal((12, 4)).astype(np.float32)
    model = PitchRhythmModel()
    res = intervention_effects(
        model,
        np.zeros((12, STEPS), np.int8),
        [0, 1, 2],
        labels=["music", "music", "noise"],
        mu=mu,
        spread=np.ones(4),
        qpm=120.0,
    )
    assert set(model.temperatures) == {0.0}  # greedy decoding only
    return res


def _effect(result, neuron, feature):
    e = result.effects
    return e[(e["neuron"] == neuron) & (e["feature"] == feature)].iloc[0]


def test_pitch_neuron_moves_pitch_and_leaves_rhythm(result):
    register = _effect(result, 0, "P12")  # Primary Register: the mean MIDI pitch
    assert register["spearman"] == pytest.approx(1.0)
    assert register["monotonicity"] == 1.0
    assert register["slope"] == pytest.approx(3.0, abs=0.1)  # 3 semitones per unit of z_0
    assert register["change_share"] == 1.0
    density = _effect(result, 0, "n_notes")
    assert density["change_share"] == 0.0
    assert density["spearman"] == 0.0
    assert np.isnan(density["monotonicity"])


def test_rhythm_neuron_moves_density_and_leaves_pitch(result):
    density = _effect(result, 1, "n_notes")
    assert density["spearman"] > 0.95
    assert density["monotonicity"] == 1.0
    assert density["slope"] == pytest.approx(2.0, abs=0.2)
    register = _effect(result, 1, "P12")
    assert register["change_share"] == 0.0


def test_noise_neuron_changes_nothing(result):
    e = result.effects[result.effects["neuron"] == 2]
    assert (e["change_share"] == 0.0).all()
    assert not result.decodes[result.decodes["neuron"] == 2]["changed"].any()
    assert e["monotonicity"].isna().all()


def test_groups_and_decodes_table(result):
    top = result.by_group.drop_duplicates("neuron").set_index("neuron")["top_group"]
    assert top[0] == "P"
    assert top[1] == "R"  # the note count moves Note Density (R15); extras (n_notes) do not count
    assert len(result.decodes) == 3 * 12 * len(DEFAULT_GRID)
    unshifted = result.decodes[result.decodes["shift"] == 0.0]
    assert not unshifted["changed"].any()


def test_probe_neurons_takes_top_music_then_least_specific_noise():
    order = np.array([3, 0, 5, 1, 2, 4])
    is_music = np.array([True, False, False, True, False, True])
    neurons, labels = probe_neurons(order, is_music, top_k=2, n_noise=2)
    assert neurons == [3, 0, 4, 2]
    assert labels == ["music", "music", "noise", "noise"]


def test_bad_grid_and_neuron():
    model = PitchRhythmModel()
    mu = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="hold 0"):
        intervention_effects(model, np.zeros((2, STEPS), np.int8), [0], mu=mu, grid=[1.0, 2.0])
    with pytest.raises(ValueError, match="neurons must be in"):
        intervention_effects(model, np.zeros((2, STEPS), np.int8), [7], mu=mu)

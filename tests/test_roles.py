"""Neuron roles from φ_K tables built by hand: the answers follow from the numbers written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musicneurons.analysis import roles


def _phik(values: dict[int, dict[str, float]]) -> pd.DataFrame:
    """rank -> {feature: φ_K} as the study's long table (dim = 100 + rank)."""
    rows = [
        {"feature": f, "group": f[0] if f[0] in "PRM" else "X", "rank": r, "dim": 100 + r, "phik": v}
        for r, features in values.items()
        for f, v in features.items()
    ]
    return pd.DataFrame(rows)


NEURONS = pd.DataFrame({"rank": [1, 2, 3, 4], "dim": [101, 102, 103, 104]})


def test_group_score_is_the_mean_of_the_three_largest() -> None:
    phik = _phik({1: {"P1": 0.9, "P2": 0.1, "P3": 0.5, "P4": 0.7, "R1": 0.4, "pitch_range": 1.0}})
    scores = roles.group_scores(phik)
    assert list(scores.columns) == ["P", "R", "M"]
    assert scores.loc[1, "P"] == pytest.approx((0.9 + 0.7 + 0.5) / 3)
    assert scores.loc[1, "R"] == pytest.approx(0.4)  # fewer than three values: the mean of those there are
    assert np.isnan(scores.loc[1, "M"])  # no melody feature at all; the extra descriptor (X) is ignored


def test_pitch_and_rhythm_neurons_and_their_features() -> None:
    phik = _phik(
        {
            1: {"P1": 0.2, "P2": 0.2, "P3": 0.2, "R1": 0.8, "R2": 0.6, "R3": 0.4},
            2: {"P1": 0.9, "P2": 0.3, "P3": float("nan"), "R1": 0.1, "R2": 0.1, "R3": 0.1},
            3: {"P1": 0.5, "P2": 0.5, "P3": 0.5, "R1": 0.0, "R2": 0.0, "R3": 0.0},
        }
    )
    pitch = roles.neuron_role(phik, NEURONS, "P")
    # rank 2: (0.9 + 0.3) / 2 = 0.6 (NaN ignored) beats rank 3's 0.5 and rank 1's 0.2
    assert pitch == {
        "rank": 2,
        "dim": 102,
        "score": pytest.approx(0.6),
        "top_features": [{"feature": "P1", "phik": 0.9}, {"feature": "P2", "phik": 0.3}],
    }
    rhythm = roles.neuron_role(phik, NEURONS, "R", top_features=2)
    assert (rhythm["rank"], rhythm["dim"], rhythm["score"]) == (1, 101, pytest.approx(0.6))
    assert [f["feature"] for f in rhythm["top_features"]] == ["R1", "R2"]
    assert roles.neuron_role(phik, NEURONS, "M") == {}  # no melody feature: no melody neuron
    assert set(roles.neuron_roles(phik, NEURONS)) == {"pitch_neuron", "rhythm_neuron", "melody_neuron"}


def test_a_tie_goes_to_the_more_specific_neuron() -> None:
    phik = _phik({3: {"P1": 0.5}, 2: {"P1": 0.5}, 4: {"P1": 0.5}})
    assert roles.neuron_role(phik, NEURONS, "P")["rank"] == 2


def test_melody_candidates_beat_pitch_and_rhythm_among_music_neurons() -> None:
    phik = _phik(
        {
            1: {"P1": 0.1, "R1": 0.2, "M1": 0.3},  # melody wins: a candidate
            2: {"P1": 0.3, "R1": 0.1, "M1": 0.3},  # a tie with pitch is not a win
            3: {"M1": 0.05},  # wins by default but below the minimum score
            4: {"P1": 0.0, "M1": 0.9},  # wins, but rank 4 is not a music neuron here
        }
    )
    assert roles.melody_candidates(phik, n_music=3) == [1]
    assert roles.melody_candidates(phik, n_music=4) == [1, 4]
    assert roles.melody_candidates(phik, n_music=3, min_score=0.01) == [1, 3]

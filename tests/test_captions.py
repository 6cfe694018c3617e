"""Captions computed from the numbers a figure draws: hand-computed sentences."""

from __future__ import annotations

import numpy as np
import pytest

from musicneurons.analysis import captions
from musicneurons.analysis.paper import signed


def test_signed_numbers_use_a_true_minus():
    assert signed(-0.19) == "−0.19"
    assert signed(0.21) == "0.21"
    assert signed(-0.001) == "0.00"


def test_percentile_range_sentence():
    values = np.linspace(-1, 1, 2001)  # 5th percentile -0.9, 95th 0.9
    assert (
        captions.percentile_range(values, "noise-neuron μ")
        == "noise-neuron μ: 5th–95th percentile −0.90…0.90"
    )
    assert captions.percentile_range(values, "x", low=1, high=99) == "x: 1st–99th percentile −0.98…0.98"
    assert captions.percentile_range([np.nan], "x") == "x: no values"


def test_noise_mu_caption_says_whether_the_paper_holds():
    wide = np.linspace(-0.2, 0.2, 1001)
    text = captions.noise_mu_caption(wide)
    assert text.startswith("Noise-neuron μ: 5th–95th percentile −0.18…0.18 over every window")
    assert text.endswith("this run differs.")
    assert captions.noise_mu_caption(wide / 4).endswith("this run agrees.")


def test_correlation_caption():
    corr = np.eye(4)
    corr[0, 1] = corr[1, 0] = -0.75
    corr[2, 3] = corr[3, 2] = 0.1
    corr[:, 3] = corr[3, :] = np.where(np.eye(4)[3] == 1, 1.0, 0.1)
    text = captions.correlation_caption(corr, 4)
    assert text.startswith(
        "Between distinct music neurons |r| reaches 0.75 (median 0.10; 1 pair at |r| ≥ 0.5)"
    )
    assert text.endswith("this run differs.")
    assert captions.correlation_caption(corr, 1).startswith("Fewer than two")


def test_activation_caption():
    text = captions.activation_caption([250, 271, 300], [90, 324, 400, 500])
    assert text == (
        "Real music excites a median of 271 noise neurons, random note sequences 362 (75% of them over 100); "
        "the paper finds fewer than 100 for real music, and this run differs."
    )


def test_decode_caption_catches_a_collapsed_decode():
    melody = np.array([50, 0, 52, 0, 54, 0, 55, 0])
    assert (
        captions.decode_caption(melody, melody) == "Decoding μ gives back 8 of 8 steps (the melody itself)."
    )
    one_note = np.array([50, 0, 50, 0, 50, 0, 50, 0])
    assert captions.decode_caption(melody, one_note) == (
        "Decoding μ gives back 5 of 8 steps; the decode repeats one pitch (4 onsets), the melody has several."
    )
    assert captions.decode_caption(melody, np.ones(8, dtype=int)).endswith("the decode plays no note.")
    with pytest.raises(ValueError, match="original has 8 steps but decoded has 4"):
        captions.decode_caption(melody, melody[:4])


def test_roles_and_paper_rows():
    text = captions.roles_caption("rhythm", 77, 0.41, "R15", 0.52, (0.40, 0.61))
    assert text == (
        "The rhythm neuron is neuron 77 (strongest: R15, φ_K 0.52, 95% CI 0.40–0.61); it wins in only 41% of "
        "bootstrap resamples over source files: a tie."
    )
    row = {
        "where": "§3, Fig. 4",
        "claim": "music neurons",
        "paper": "37",
        "this_run": "30",
        "verdict": "differs",
    }
    assert (
        captions.paper_row_sentence(row) == "Paper (§3, Fig. 4): music neurons: 37. This run: 30 — differs."
    )


def test_split_caption():
    text = captions.split_caption(30, 0.95, gap_n=7, sensitivity={0.8: 9, 0.9: 10, 0.95: 30, 0.99: 499})
    assert text == (
        "The cut marks the 30 dimensions with mean σ below 0.95 (the headline split); the threshold-free "
        "split (largest gap of the sorted mean σ) gives 7; by threshold: 9 at 0.8, 10 at 0.9, 30 at 0.95, "
        "499 at 0.99."
    )
    assert "gives 37 (the same)." in captions.split_caption(37, 0.95, gap_n=37)


def test_correlation_caption_with_more_music_neurons_than_the_matrix_shows():
    corr = np.eye(3)
    corr[0, 2] = corr[2, 0] = 0.6
    text = captions.correlation_caption(corr, 114)
    assert text.startswith(
        "Between distinct neurons among the first 3 of the 114 music neurons |r| reaches 0.60"
    )

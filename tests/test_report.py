"""Headline numbers come out of hand-made tables as a reader would compute them; the HTML stands alone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from musicneurons.figures.saving import save_figure
from musicneurons.study import report
from musicneurons.study import summary as study_summary


def _tables() -> dict[str, pd.DataFrame]:
    z = 10
    neurons = pd.DataFrame(
        {
            "rank": np.arange(1, z + 1),
            "dim": [7, 3, 9, 0, 1, 2, 4, 5, 6, 8],
            "mean_sigma": [0.1, 0.2, 0.3, 0.5, 0.6, 0.99, 0.995, 1.0, 1.0, 1.0],
            "mean_mu": [0.3, -0.2, 0.1, 0.0, 0.05, 0.01, -0.02, 0.0, 0.004, 0.0],
            "var_mu": [1.0, 0.8, 0.5, 0.3, 0.2, 0.02, 0.005, 0.001, 0.0, 0.0],
            "is_music": [True] * 5 + [False] * 5,
            "is_active": [True] * 6 + [False] * 4,
            "ks_random": [0.1, 0.6, 0.2, 0.3, 0.05, 0.4, 0.5, 0.45, 0.5, 0.55],
        }
    )
    rows = []
    phik_values = {  # rank -> {feature: phi_K}
        1: {
            "P1": 0.1,
            "P2": 0.1,
            "P3": 0.1,
            "R1": 0.9,
            "R2": 0.8,
            "R3": 0.7,
            "M1": 0.6,
            "M2": 0.5,
            "M3": 0.4,
        },
        2: {
            "P1": 0.9,
            "P2": 0.85,
            "P3": 0.2,
            "R1": 0.1,
            "R2": 0.1,
            "R3": 0.1,
            "M1": 0.2,
            "M2": 0.2,
            "M3": 0.2,
        },
        3: dict.fromkeys(["P1", "P2", "P3", "R1", "R2", "R3", "M1", "M2", "M3"], 0.05),
        5: {
            "P1": 0.1,
            "P2": 0.1,
            "P3": 0.1,
            "R1": 0.2,
            "R2": 0.1,
            "R3": 0.1,
            "M1": 0.5,
            "M2": 0.3,
            "M3": 0.1,
        },
    }
    for rank, values in phik_values.items():
        for feature, v in values.items():
            rows.append(
                {
                    "feature": feature,
                    "group": feature[0],
                    "rank": rank,
                    "dim": int(neurons["dim"][rank - 1]),
                    "phik": v,
                }
            )
    rows.append({"feature": "P9", "group": "P", "rank": 1, "dim": 7, "phik": np.nan})  # constant feature
    counts = pd.DataFrame(
        {
            "kind": ["real"] * 4 + ["random"] * 3,
            "n_music_active": [3, 4, 5, 5, 5, 5, 4],
            "n_noise_active": [0, 1, 2, 200, 150, 300, 90],
        }
    )
    attributes = pd.DataFrame(
        {
            "feature": ["P1", "R1", "M1", "P9"],
            "group": ["P", "R", "M", "P"],
            "attribute_corr": [0.5, -0.9, 0.3, np.nan],
            "best_neuron_corr": [0.8, 0.7, -0.6, 0.1],
            "best_neuron_rank": [2, 1, 1, 3],
        }
    )
    ablation = pd.DataFrame({"k": [0, 1, 2, 5, 10], "accuracy": [0.5, 0.6, 0.8, 0.899, 0.9]})
    return {
        "neurons": neurons,
        "phik": pd.DataFrame(rows),
        "counts": counts,
        "attributes": attributes,
        "ablation": ablation,
    }


def test_summary_numbers_match_hand_computed_values() -> None:
    s = study_summary.summarize_part(_tables(), info={"model": "tiny"})
    assert s["model"] == "tiny"
    assert s["neurons"] == {
        "z_size": 10,
        "n_music": 5,
        "n_noise": 5,
        "n_active_units": 6,
        "n_music_and_active": 5,
        "max_mean_sigma_music": 0.6,
        "min_mean_sigma_noise": 0.99,
        "max_abs_mean_mu_noise": 0.02,
    }
    # pitch: rank 2 has the top-3 mean (0.9 + 0.85 + 0.2) / 3; rhythm: rank 1 with (0.9 + 0.8 + 0.7) / 3
    assert s["pitch_neuron"]["rank"] == 2
    assert s["pitch_neuron"]["dim"] == 3
    assert s["pitch_neuron"]["score"] == pytest.approx(0.65)
    assert s["pitch_neuron"]["top_features"][:2] == [
        {"feature": "P1", "phik": 0.9},
        {"feature": "P2", "phik": 0.85},
    ]
    assert s["rhythm_neuron"]["rank"] == 1
    assert s["rhythm_neuron"]["score"] == pytest.approx(0.8)
    # rank 5: melody (0.5+0.3+0.1)/3 = 0.3 beats pitch 0.1 and rhythm 0.133; rank 3 ties at 0.05: no candidate
    assert s["melody_candidates"] == [5]
    assert s["activation"]["real"] == {
        "n_windows": 4,
        "median_music_active": 4.5,
        "median_noise_active": 1.5,
        "share_over_100_noise_active": 0.25,
    }
    assert s["activation"]["random"]["median_noise_active"] == 150
    assert s["random_vs_real"]["ks_pitch_neuron"] == 0.6
    assert s["random_vs_real"]["ks_rhythm_neuron"] == 0.1
    assert s["random_vs_real"]["median_ks_music"] == 0.2
    assert s["random_vs_real"]["median_ks_noise"] == 0.5
    assert s["attributes"] == {
        "n_features": 3,
        "n_attribute_vector_better": 1,
        "n_single_neuron_better": 2,
        "median_abs_attribute_corr": 0.5,
        "median_abs_best_neuron_corr": 0.7,
    }
    # gain 0.4; 99% of it is reached at accuracy >= 0.896, first at k = 5; k = 5 is also the music cut
    assert s["ablation"] == {
        "accuracy_all_dims": 0.9,
        "accuracy_no_dims": 0.5,
        "accuracy_music_dims": 0.899,
        "k_music_dims": 5,
        "k_for_99pct_of_gain": 5,
    }


def test_random_descriptors_are_medians_of_both_feature_tables() -> None:
    tables = _tables()
    tables["features"] = pd.DataFrame({"pitch_range": [2.0, 4.0, 9.0], "n_notes": [3.0, 5.0, 4.0]})
    tables["random_features"] = pd.DataFrame({"pitch_range": [40.0, 50.0], "n_notes": [10.0, 20.0]})
    s = study_summary.summarize_part(tables)
    assert s["random_vs_real"]["descriptors"] == {
        "pitch_range": {"median_real": 4.0, "median_random": 45.0},
        "n_notes": {"median_real": 4.0, "median_random": 15.0},
    }
    text = " ".join(study_summary.headline_sentences(s, "2-bar"))
    assert "45 vs 4 semitones of pitch range; 15 vs 4 notes" in text


def test_headline_sentences_state_the_numbers() -> None:
    s = study_summary.summarize_part(_tables())
    text = " ".join(study_summary.headline_sentences(s, "2-bar"))
    assert "uses 5 of its 10 latent dimensions as music neurons" in text
    assert "Neuron 2 (latent dimension 3) tracks pitch" in text
    assert "P1 (φ_K 0.90)" in text
    assert "Neuron 1 (latent dimension 7) tracks rhythm" in text
    assert "candidates" in text
    assert "for 2 of 3 features the best single neuron" in text


def test_report_is_self_contained(tmp_path: Path) -> None:
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    png, _svg = save_figure(fig, tmp_path / "figures" / "fig04")
    table = tmp_path / "2bar" / "neurons.parquet"
    table.parent.mkdir()
    _tables()["neurons"].to_parquet(table)
    summary = {"parts": {"2bar": study_summary.summarize_part(_tables())}}
    path = report.write_report(
        tmp_path / "report" / "index.html",
        title="musicneurons study",
        summary=summary,
        parts=[("2bar", "2-bar")],
        figures={"2bar": [report.FigureEntry("fig04", "Fig. 4", "σ and μ boxplots", png)]},
        tables={"2bar": {"neurons": table}},
        previews={"2bar/first neurons": _tables()["neurons"].head(3)},
        notes=["only 7 random sequences"],
        metadata={"seed": 0},
    )
    text = path.read_text()
    assert text.count('src="data:image/png;base64,') == 1
    assert not re.search(r'src="(?!data:)', text)  # nothing loaded from elsewhere
    assert 'href="../2bar/neurons.parquet"' in text
    assert 'href="../figures/fig04.svg"' in text
    assert "uses 5 of its 10 latent dimensions" in text
    assert "only 7 random sequences" in text
    assert not list(path.parent.glob(".*"))  # no temporary file left

"""The study at scale: the seeded analysis subset, per-dimension numbers and counts streamed in chunks, and
a study on more windows than the cap (both sizes in the summary and the report; the split and the counts
over every window)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from encode_fixtures import encoded_nottingham
from musicneurons.analysis.neurons import activation_counts
from musicneurons.encode.latents import latents_table
from musicneurons.errors import UserError
from musicneurons.study.artifacts import stage_rng
from musicneurons.study.corpus_stats import analysis_subset, excited_counts, latent_stats, stored_chunks


def test_analysis_subset_is_seeded_sorted_and_of_the_cap() -> None:
    first = analysis_subset(10_000, 700, stage_rng(3, "analysis"))
    again = analysis_subset(10_000, 700, stage_rng(3, "analysis"))
    other = analysis_subset(10_000, 700, stage_rng(4, "analysis"))
    np.testing.assert_array_equal(first, again)
    assert len(first) == 700 == len(np.unique(first))
    assert np.all(np.diff(first) > 0)
    assert first[0] >= 0
    assert first[-1] < 10_000
    assert not np.array_equal(first, other)
    # uniform over the corpus: each tenth of it holds about a tenth of the subset
    per_tenth = np.bincount(first // 1000, minlength=10)
    assert per_tenth.min() > 40
    assert per_tenth.max() < 100
    for cap in (0, None, 10_000, 20_000):  # no cap, or a cap the corpus does not reach: every window
        np.testing.assert_array_equal(
            analysis_subset(10_000, cap, stage_rng(3, "analysis")), np.arange(10_000)
        )


def _known_latents(n: int = 1000, z: int = 13) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """μ whose row i exceeds 0.1 in exactly the first i % (z + 1) dimensions (0.5 there, ±0.05 elsewhere),
    σ with dimension j's mean known, and the excitation counts of every row for the split j < 5."""
    rng = np.random.default_rng(0)
    mu = rng.choice([-0.05, 0.05], size=(n, z)).astype(np.float32)
    k = np.arange(n) % (z + 1)
    mu[np.arange(z)[None, :] < k[:, None]] = 0.5
    mu[::3] *= -1  # |μ| counts, not μ
    sigma = (np.linspace(0.1, 1.1, z)[None, :] + rng.normal(0, 0.01, size=(n, z))).astype(np.float32)
    return mu, sigma, k


def test_streamed_numbers_equal_those_of_the_whole_arrays() -> None:
    mu, sigma, k = _known_latents()
    n, z = mu.shape
    order = np.random.default_rng(1).permutation(n)  # chunks arrive in any row order (stored parts)
    chunks = [(rows, mu[rows], sigma[rows]) for rows in np.array_split(order, 37)]
    stats = latent_stats(iter(chunks), np.arange(n) + 100, threshold=0.1)
    assert int(stats["n"]) == n
    np.testing.assert_allclose(stats["mean_sigma"], sigma.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats["mean_mu"], mu.astype(np.float64).mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(stats["var_mu"], mu.astype(np.float64).var(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(stats["window_id"], np.arange(n) + 100)
    is_music = np.arange(z) < 5
    music, noise = excited_counts(stats["excited"], is_music, chunk=64)
    np.testing.assert_array_equal(music, np.minimum(k, 5))  # by construction
    np.testing.assert_array_equal(noise, np.maximum(k - 5, 0))
    reference = activation_counts(mu, is_music, threshold=0.1)  # the one-go counts of the study
    np.testing.assert_array_equal(music, reference[0])
    np.testing.assert_array_equal(noise, reference[1])
    with pytest.raises(ValueError, match="expected 1000"):
        latent_stats(iter(chunks[:-1]), np.arange(n), threshold=0.1)


def test_stored_latents_are_streamed_by_id_and_gaps_or_repeats_refused(tmp_path: Path) -> None:
    mu, sigma, _ = _known_latents(n=300)
    ids = np.arange(300) * 7  # ids are not rows
    folder = tmp_path / "latents"
    folder.mkdir()
    for j, rows in enumerate(np.array_split(np.random.default_rng(2).permutation(300), 3)):
        pq.write_table(latents_table(ids[rows], mu[rows], sigma[rows]), folder / f"part-{j:05d}.parquet")
    studied = ids[::2][::-1].copy()  # half of them, in another order
    stats = latent_stats(stored_chunks(folder, studied, chunk=16), studied, threshold=0.1)
    np.testing.assert_allclose(
        stats["mean_mu"], mu[::2].astype(np.float64).mean(axis=0), rtol=1e-12, atol=1e-15
    )
    is_music = np.arange(mu.shape[1]) < 5
    music, _ = excited_counts(stats["excited"], is_music)
    np.testing.assert_array_equal(music, activation_counts(mu[::2][::-1], is_music, threshold=0.1)[0])
    with pytest.raises(UserError, match="1 of the 151 windows"):
        list(stored_chunks(folder, np.append(studied, 5), chunk=16))  # id 5 is not stored
    pq.write_table(latents_table(ids[:1], mu[:1], sigma[:1]), folder / "part-00009.parquet")
    with pytest.raises(UserError, match="more than one part"):
        list(stored_chunks(folder, studied, chunk=16))


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, corpora_dir: Path) -> dict:
    """A study of Nottingham windows with the analyses capped below the corpus, from encoded latents and by
    encoding, and the reference latents of every window."""
    from musicneurons.model.load import load_model
    from musicneurons.study.config import StudyConfig
    from musicneurons.study.pipeline import run_study

    root = tmp_path_factory.mktemp("scale")
    windows, frame, model = encoded_nottingham(corpora_dir, root, 8)
    study = {"model": str(model), "windows": str(root / "windows"), "n_random": 20, "device": "cpu"}
    study |= {"ablation_steps": 0, "probe_steps": 0, "detector_steps": 0, "disentanglement_samples": 0}
    study |= {"analysis_windows": 30, "figure_workers": 0, "progress": False}
    run_study(StudyConfig(latents=str(root / "latents"), **study), root / "stored")
    run_study(StudyConfig(**study), root / "encoded")
    _, mu, sigma = load_model(model, device="cpu").encode(windows)
    return {"root": root, "frame": frame, "mu": mu, "sigma": sigma}


@pytest.mark.slow
@pytest.mark.parametrize("source", ["stored", "encoded"])
def test_a_study_larger_than_the_cap_splits_over_all_windows_and_analyses_the_subset(
    capped: dict, source: str
) -> None:
    out = capped["root"] / source
    n = len(capped["frame"])
    assert n > 40
    s = json.loads((out / "summary.json").read_text())["parts"]["2bar"]
    assert (s["n_windows"], s["n_windows_total"], s["n_windows_analysis"], s["analysis_windows"]) == (
        n,
        n,
        30,
        30,
    )
    part = out / "2bar"
    # the subset: 30 windows of the table, the rows the study seed gives, their latents
    rows = analysis_subset(n, 30, stage_rng(0, "analysis"))
    stored = np.load(part / "latents.npz")
    np.testing.assert_allclose(stored["mu"], capped["mu"][rows], atol=1e-5)
    features = pd.read_parquet(part / "features.parquet")
    np.testing.assert_array_equal(features["window_id"], capped["frame"]["window_id"].to_numpy()[rows])
    assert len(pd.read_parquet(part / "windows.parquet")) == n
    # the split, mean and variance of μ, active units: over every window, not the subset
    mean_sigma = capped["sigma"].astype(np.float64).mean(axis=0)
    neurons = pd.read_parquet(part / "neurons.parquet")
    np.testing.assert_array_equal(neurons["dim"], np.argsort(mean_sigma, kind="stable"))
    np.testing.assert_allclose(neurons["mean_sigma"], mean_sigma[neurons["dim"]], rtol=1e-5)
    np.testing.assert_allclose(neurons["var_mu"], capped["mu"].var(axis=0)[neurons["dim"]], rtol=1e-3)
    assert s["neurons"]["n_music"] == int((mean_sigma < s["sigma_threshold"]).sum())
    # Fig. 11's counts: one row per window of the corpus
    counts = pd.read_parquet(part / "counts.parquet")
    real = counts[counts["kind"] == "real"]
    is_music = np.zeros(len(neurons), dtype=bool)
    is_music[neurons["dim"]] = neurons["is_music"]
    music, noise = activation_counts(capped["mu"], is_music, threshold=0.1)
    np.testing.assert_array_equal(real["n_music_active"], music)
    np.testing.assert_array_equal(real["n_noise_active"], noise)
    assert s["activation"]["real"]["n_windows"] == n
    # φ_K and the rest see the subset; the report says both sizes
    assert s["n_random"] == 20
    html = (out / "report" / "index.html").read_text()
    assert f"{n:,} windows studied" in html
    assert "random subset of 30 drawn from the study seed" in html


@pytest.mark.slow
def test_both_latent_sources_give_the_same_numbers(capped: dict) -> None:
    stored = pd.read_parquet(capped["root"] / "stored" / "2bar" / "neurons.parquet")
    encoded = pd.read_parquet(capped["root"] / "encoded" / "2bar" / "neurons.parquet")
    pd.testing.assert_frame_equal(stored, encoded, rtol=1e-5)


def test_a_cap_below_two_windows_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from musicneurons.cli import main
    from musicneurons.study.config import StudyConfig, StudyError

    for cap in (1, -5):
        with pytest.raises(StudyError, match="analysis_windows"):
            StudyConfig(analysis_windows=cap)
    assert StudyConfig(analysis_windows=0).analysis_windows == 0  # no cap
    assert main(["study", "--analysis-windows", "1", "--out", str(tmp_path / "out")]) == 2
    assert "--analysis-windows must be 0 (no cap) or at least 2" in capsys.readouterr().err


def test_features_in_chunks_equal_features_in_one_go() -> None:
    from musicneurons.data.defaults import default_windows
    from musicneurons.features.registry import compute_features
    from musicneurons.study.stages import features_table

    windows = default_windows(bars=2)[:60]
    qpm = np.random.default_rng(0).uniform(60, 180, size=60)
    chunked = features_table(windows, qpm, np.arange(60) + 9, chunk=7)
    whole = compute_features(windows, qpm=qpm, convention="music21")  # the feature code's own single call
    np.testing.assert_array_equal(chunked["window_id"], np.arange(60) + 9)
    pd.testing.assert_frame_equal(chunked.drop(columns="window_id"), whole)

"""The study pipeline: resumable artifacts, and `musicneurons study` end to end on a tiny model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from encode_fixtures import TINY_STUDY, copy_nottingham, save_tiny_model
from musicneurons.study import artifacts as art


def test_cached_stage_is_reused_only_when_its_key_matches(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute() -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"x": [1, 2, 3]})

    path = tmp_path / "t.parquet"
    key = art.stage_key("t", {"a": 1})
    first = art.cached(path, key, compute, stage="t", params={"a": 1})
    again = art.cached(path, key, compute, stage="t")
    assert len(calls) == 1
    pd.testing.assert_frame_equal(first, again)
    meta = json.loads(art.meta_path(path).read_text())
    assert meta["key"] == key
    assert meta["params"] == {"a": 1}
    assert meta["bytes"] == path.stat().st_size
    assert "numpy" in meta["versions"]
    art.cached(path, art.stage_key("t", {"a": 2}), compute, stage="t")  # other parameters: recomputed
    assert len(calls) == 2
    art.cached(path, art.stage_key("t", {"a": 2}), compute, stage="t", overwrite=True)
    assert len(calls) == 3


def test_interrupted_or_altered_artifact_is_recomputed(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    key = art.stage_key("a", {})
    art.cached(path, key, lambda: {"m": np.arange(4.0)}, stage="a")
    path.write_bytes(path.read_bytes()[:-7])  # truncated behind our back: size no longer matches the sidecar
    out = art.cached(path, key, lambda: {"m": np.arange(5.0)}, stage="a")
    np.testing.assert_array_equal(out["m"], np.arange(5.0))
    art.meta_path(path).unlink()  # artifact without sidecar (killed between the two writes)
    out = art.cached(path, key, lambda: {"m": np.arange(6.0)}, stage="a")
    assert len(out["m"]) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "a.npz.meta.json"]


def test_stage_keys_and_rngs_are_stable() -> None:
    assert art.stage_key("x", {"b": 1, "a": 2}, {"in": "k"}) == art.stage_key(
        "x", {"a": 2, "b": 1}, {"in": "k"}
    )
    assert art.stage_key("x", {"a": 1}) != art.stage_key("y", {"a": 1})
    assert art.stage_key("x", {}, {"in": "k1"}) != art.stage_key("x", {}, {"in": "k2"})
    a = art.stage_rng(3, "random").integers(1 << 30, size=4)
    b = art.stage_rng(3, "random").integers(1 << 30, size=4)
    c = art.stage_rng(3, "other").integers(1 << 30, size=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_json_is_strict_and_plain(tmp_path: Path) -> None:
    art.write_json(
        tmp_path / "s.json",
        {"n": np.int64(3), "x": np.float32(0.5), "bad": float("nan"), "t": (1, 2), "a": np.arange(2)},
    )
    assert json.loads((tmp_path / "s.json").read_text()) == {
        "n": 3,
        "x": 0.5,
        "bad": None,
        "t": [1, 2],
        "a": [0, 1],
    }
    with pytest.raises(KeyError):
        art.cached(tmp_path / "x.csv", "k", lambda: None, stage="x")


# --------------------------------------------------------------------------- end to end
ARTIFACTS = (
    "windows.parquet",
    "latents.npz",
    "features.parquet",
    "random.npz",
    "random_latents.npz",
    "random_features.parquet",
    "example.npz",
    "neurons.parquet",
    "latent_corr.npz",
    "feature_corr.parquet",
    "phik.parquet",
    "loess.parquet",
    "counts.parquet",
    "attributes.parquet",
    "ablation.parquet",
    "free_running.npz",
    "phik_null.parquet",
    "uncertainty.npz",
    "interventions.parquet",
    "disentanglement.parquet",
    "detector.parquet",
)
FIGURES_2BAR = (
    "fig02_piano_rolls",
    "fig03_latent_profile",
    "fig04_sigma_mu_boxplots",
    "fig05_latent_correlations",
    "fig06_feature_correlations",
    "fig07_phik_features_neurons",
    "fig08_rhythm_neuron_rhythm_features",
    "fig09_rhythm_neuron_pitch_features",
    "fig09b_pitch_neuron_pitch_features",
    "fig10_neuron_histograms_real_random",
    "fig11_activation_counts",
    "ablation_kept_dims",
    "probe_attribute_change",
    "detector_roc",
)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory, corpora_dir: Path) -> Path:
    """`musicneurons study` on a random-weight 2-bar model and 12 Nottingham tunes."""
    from musicneurons.cli import main

    root = tmp_path_factory.mktemp("study")
    midi = copy_nottingham(corpora_dir, root / "midi", 12)
    save_tiny_model(root / "model", config=TINY_STUDY)
    argv = [
        "study",
        "--model",
        str(root / "model"),
        "--midi",
        str(midi),
        "--n-random",
        "5000",
        "--device",
        "cpu",
        "--out",
        str(root / "out"),
        "--no-progress",
        "--svg",
    ]
    assert main(argv) == 0
    return root / "out"


@pytest.mark.slow
def test_study_writes_every_artifact_figure_and_the_report(tiny_study: Path) -> None:
    part = tiny_study / "2bar"
    for name in ARTIFACTS:
        assert (part / name).stat().st_size > 0, name
        meta = json.loads((part / f"{name}.meta.json").read_text())
        assert meta["bytes"] == (part / name).stat().st_size
        assert meta["versions"]["musicneurons"]
    for name in FIGURES_2BAR:
        assert (part / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
        assert (part / "figures" / f"{name}.svg").stat().st_size > 1000, name
    assert (tiny_study / "report" / "preview.png").stat().st_size > 10_000
    html = (tiny_study / "report" / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(FIGURES_2BAR)
    assert "Headline numbers" in html
    run = json.loads((tiny_study / "run.json").read_text())
    assert set(run["stages"]) == {f"2bar/{n.split('.')[0]}" for n in ARTIFACTS}
    assert "--n-random 5000" in run["command"]


@pytest.mark.slow
def test_summary_agrees_with_the_tables(tiny_study: Path) -> None:
    summary = json.loads((tiny_study / "summary.json").read_text())
    s = summary["parts"]["2bar"]
    part = tiny_study / "2bar"
    windows = pd.read_parquet(part / "windows.parquet")
    neurons = pd.read_parquet(part / "neurons.parquet")
    latents = np.load(part / "latents.npz")
    assert s["n_windows"] == len(windows) == len(latents["mu"])
    assert s["n_random"] == min(5000, len(windows))  # never more random sequences than real windows
    assert summary["notes"]  # ... and the report says so
    # music neurons: mean sigma below the threshold, recomputed from the latents themselves
    mean_sigma = latents["sigma"].mean(axis=0)
    assert (
        s["neurons"]["n_music"]
        == int((mean_sigma < s["sigma_threshold"]).sum())
        == int(neurons["is_music"].sum())
    )
    assert s["neurons"]["n_active_units"] == int((latents["mu"].var(axis=0) > 0.01).sum())
    np.testing.assert_array_equal(neurons["dim"], np.argsort(mean_sigma, kind="stable"))
    # the pitch neuron has the best mean of its three largest phi_K over pitch features
    phik = pd.read_parquet(part / "phik.parquet")
    pitch = phik[phik["group"] == "P"].dropna().groupby("rank")["phik"].apply(lambda v: v.nlargest(3).mean())
    assert s["pitch_neuron"]["rank"] == int(pitch.idxmax())
    assert s["pitch_neuron"]["score"] == pytest.approx(pitch.max())
    top = phik[(phik["rank"] == pitch.idxmax()) & (phik["group"] == "P")].nlargest(1, "phik").iloc[0]
    assert s["pitch_neuron"]["top_features"][0] == {
        "feature": top["feature"],
        "phik": pytest.approx(top["phik"]),
    }
    # activation counts: |mu| > 0.1 per window, from the latents
    counts = pd.read_parquet(part / "counts.parquet")
    music = neurons.loc[neurons["is_music"], "dim"].to_numpy()
    real_music = (np.abs(latents["mu"][:, music]) > 0.1).sum(axis=1)
    np.testing.assert_array_equal(counts.loc[counts["kind"] == "real", "n_music_active"], real_music)
    assert s["activation"]["real"]["median_music_active"] == float(np.median(real_music))
    random_counts = counts.loc[counts["kind"] == "random"]
    assert s["activation"]["random"]["median_noise_active"] == float(random_counts["n_noise_active"].median())
    attributes = pd.read_parquet(part / "attributes.parquet").dropna(
        subset=["attribute_corr", "best_neuron_corr"]
    )
    assert s["attributes"]["n_attribute_vector_better"] == int(
        (attributes["attribute_corr"] > attributes["best_neuron_corr"]).sum()
    )
    random_features = pd.read_parquet(part / "random_features.parquet")
    assert len(random_features) == s["n_random"]
    desc = s["random_vs_real"]["descriptors"]["pitch_range"]
    assert desc["median_random"] == float(random_features["pitch_range"].median())
    assert desc["median_real"] == float(pd.read_parquet(part / "features.parquet")["pitch_range"].median())
    ablation = pd.read_parquet(part / "ablation.parquet")
    assert s["ablation"]["accuracy_all_dims"] == ablation.loc[ablation["k"] == 24, "accuracy"].item()


@pytest.mark.slow
def test_summary_says_how_sure_and_where_it_meets_the_paper(tiny_study: Path) -> None:
    summary = json.loads((tiny_study / "summary.json").read_text())
    s = summary["parts"]["2bar"]
    latents = np.load(tiny_study / "2bar" / "latents.npz")
    mean_sigma = latents["sigma"].mean(axis=0)
    sensitivity = s["neurons"]["threshold_sensitivity"]
    assert sensitivity == {f"{t:g}": int((mean_sigma < t).sum()) for t in (0.8, 0.9, 0.95, 0.99)}
    assert s["neurons"]["n_music_gap"]["method"] == "largest gap"
    low, high = s["neurons"]["n_music_ci"]
    assert low <= high
    for role in ("pitch_neuron", "rhythm_neuron"):
        assert 0 < s[role]["stability"] <= 1
        assert s[role]["stability"] == s[role]["rank_shares"][str(s[role]["rank"])]
    rows = s["paper_comparison"]
    assert len(rows) >= 10
    assert {r["verdict"] for r in rows} <= {"agrees", "differs", "not comparable"}
    assert {"claim", "paper", "this_run", "verdict", "note"} <= set(rows[0])
    ids = [w["id"] for w in s["warnings"]]
    # a random-weight model on 12 Nottingham tunes (half of them in 6/8 or 3/4) must warn about all of this
    assert {"not_paper_model", "few_windows", "files_dropped", "near_hold_baseline"} <= set(ids)
    html = (tiny_study / "report" / "index.html").read_text()
    assert html.index("Warnings") < html.index("2-bar model next to the paper") < html.index('id="2bar"')
    assert "files gave no window" in html
    # listen: Twinkle and its two decodes, both ends of the pitch and rhythm neurons, three random sequences
    assert html.count("<audio") == 10
    assert len(list((tiny_study / "report" / "midi").glob("2bar_*.mid"))) == 10
    import base64
    import io
    import re
    import wave

    first = re.search(r'src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', html)
    assert first is not None
    with wave.open(io.BytesIO(base64.b64decode(first.group(1)))) as clip:
        assert clip.getframerate() == 11_025
        assert clip.getnframes() / 11_025 == pytest.approx(
            32 * 60 / 120 / 4 + 0.05, abs=0.01
        )  # 2 bars at 120


def test_the_report_carries_its_json_and_midi_inside(tiny_study: Path) -> None:
    """Mailed alone, the report still gives summary.json, run.json and every MIDI clip (data URIs)."""
    import base64
    import re

    html = (tiny_study / "report" / "index.html").read_text()
    for name in ("summary.json", "run.json"):
        found = re.search(rf'download="{name}" href="data:application/json;base64,([A-Za-z0-9+/=]+)"', html)
        assert found is not None, name
        assert json.loads(base64.b64decode(found.group(1))) == json.loads((tiny_study / name).read_text())
    midis = dict(
        re.findall(r'download="([\w.]+\.mid)" href="data:audio/midi;base64,([A-Za-z0-9+/=]+)"', html)
    )
    assert len(midis) == 10
    for name, data in midis.items():
        assert base64.b64decode(data) == (tiny_study / "report" / "midi" / name).read_bytes()
    assert 'href="../summary.json"' not in html


@pytest.mark.slow
def test_rerun_reuses_every_stage(tiny_study: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from musicneurons.cli import main

    run = json.loads((tiny_study / "run.json").read_text())
    before = {p.name: p.stat().st_mtime_ns for p in (tiny_study / "2bar").glob("*.meta.json")}
    argv = run["command"].split()[1:] + ["--no-progress", "--device", "cpu"]
    with caplog.at_level(logging.INFO, logger="musicneurons"):
        assert main(argv) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (tiny_study / "2bar").glob("*.meta.json")}
    assert before == after
    assert "wrote" not in caplog.text
    assert caplog.text.count("reusing") == len(ARTIFACTS)


def test_model_and_bars_that_disagree_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from musicneurons.cli import main
    from musicneurons.model.checkpoints import save_model
    from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig

    torch.manual_seed(0)
    save_model(
        MusicVAE(MusicVAEConfig(z_size=8, enc_rnn_size=(8,), dec_rnn_size=(8,), max_seq_len=32)),
        tmp_path / "m",
    )
    assert main(["study", "--model", str(tmp_path / "m"), "--bars", "16", "--out", str(tmp_path / "o")]) == 2
    assert "--bars 16 does not match the model (2 bars)" in capsys.readouterr().err
    assert not (tmp_path / "o" / "summary.json").exists()


def test_stage_table_rows_read_only_rows_above_them() -> None:
    from musicneurons.study.pipeline import STAGES

    names = [stage.name for stage in STAGES]
    assert len(set(names)) == len(names)
    assert len({stage.file for stage in STAGES}) == len(STAGES)
    for i, stage in enumerate(STAGES):
        for name in stage.inputs:
            assert name.rstrip("?") in names[:i], (stage.name, name)
    assert names.index("windows") == 0


@pytest.mark.slow
def test_figures_are_the_same_in_line_and_in_workers_and_svg_is_optional(
    tiny_study: Path, tmp_path: Path
) -> None:
    from musicneurons.study.figure_plans import FigureSettings
    from musicneurons.study.rendering import FigureRenderer, can_fork

    part = tiny_study / "2bar"
    files = {p.name.split(".")[0]: p for p in part.iterdir() if p.suffix in (".npz", ".parquet")}
    data = {name: art.FORMATS[path.suffix][1](path) for name, path in files.items()}
    keys = {name: art.read_meta(path)["key"] for name, path in files.items()}
    summary = json.loads((tiny_study / "summary.json").read_text())["parts"]["2bar"]
    settings = FigureSettings(label="2-bar", seed=0, threshold=0.1, n_corr_dims=24, summary_panel=False)
    stale = tmp_path / "inline" / "fig04_sigma_mu_boxplots.svg"
    stale.parent.mkdir()
    stale.write_text("<svg>an older drawing</svg>")
    drawn = {}
    for workers, folder in ((0, "inline"), (2, "pool")):
        expected = workers if can_fork() else 0
        with FigureRenderer(workers=workers, svg=False) as renderer:
            assert renderer.workers == expected
            drawn[folder] = renderer.submit(tmp_path / folder, data, files, keys, summary, settings)
            renderer.wait()
    assert [e.name for e in drawn["inline"]] == list(FIGURES_2BAR)
    for inline, pool in zip(drawn["inline"], drawn["pool"], strict=True):
        study_png = (part / "figures" / inline.png.name).read_bytes()
        assert inline.png.read_bytes() == pool.png.read_bytes() == study_png, inline.name
        assert not inline.png.with_suffix(".svg").exists()  # PNG only, and the stale SVG is gone
        assert inline.caption == pool.caption
    assert f"over {summary['n_windows']:,} real windows" in drawn["inline"][2].caption


@pytest.mark.slow
def test_beyond_the_paper_keys_agree_with_their_tables(tiny_study: Path) -> None:
    part = json.loads((tiny_study / "summary.json").read_text())["parts"]["2bar"]
    effects = pd.read_parquet(tiny_study / "2bar" / "interventions.parquet")
    probes = part["interventions"]
    assert [n["dim"] for n in probes["neurons"]] == list(dict.fromkeys(effects["neuron"]))
    assert probes["n_windows"] == min(512 // 32, part["n_windows"])  # probe_steps / window length
    assert "piecewise constant" in probes["caveat"]
    scores = pd.read_parquet(tiny_study / "2bar" / "disentanglement.parquet").set_index("latents")
    assert part["disentanglement"]["all_dims"]["mig"] == pytest.approx(scores.loc["all dims", "mig"])
    assert "not independent" in part["disentanglement"]["caveat"]
    detector = pd.read_parquet(tiny_study / "2bar" / "detector.parquet")
    first = detector.drop_duplicates(["negative", "method"]).set_index(["negative", "method"])["auroc"]
    assert part["detector"]["auroc"]["uniform"]["kl"] == pytest.approx(first[("uniform", "kl")])
    assert list(part["detector"]["auroc"]) == [
        "uniform",
        "shuffled_pitches",
        "shuffled_rhythm",
        "random_walk",
    ]
    assert "proves little" in part["detector"]["caveat"]
    html = (tiny_study / "report" / "index.html").read_text()
    assert "music vs noise: AUROC" in html
    assert "proves little" in html


@pytest.mark.slow
def test_sigma_threshold_moves_the_split_and_recomputes_only_what_depends_on_it(
    tiny_study: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import shutil

    from musicneurons.cli import main

    out = tmp_path / "out"
    shutil.copytree(tiny_study, out)
    mean_sigma = np.load(out / "2bar" / "latents.npz")["sigma"].mean(axis=0)
    threshold = float(np.sort(mean_sigma)[5] + np.sort(mean_sigma)[6]) / 2  # the 6 most specific dims
    run = json.loads((out / "run.json").read_text())
    argv = run["command"].replace(str(tiny_study), str(out)).split()[1:]
    argv += [
        "--sigma-threshold",
        f"{threshold!r}",
        "--no-progress",
        "--device",
        "cpu",
        "--figure-workers",
        "0",
    ]
    with caplog.at_level(logging.INFO, logger="musicneurons"):
        assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())["parts"]["2bar"]
    assert s["sigma_threshold"] == threshold
    assert s["neurons"]["n_music"] == 6
    assert f"--sigma-threshold {threshold!r}" in json.loads((out / "run.json").read_text())["command"]
    reused = set(re.findall(r"(\S+): reusing", caplog.text))
    assert {"2bar/windows", "2bar/latents", "2bar/features", "2bar/random_latents"} <= reused
    assert "2bar/neurons" not in reused
    assert main(["study", "--sigma-threshold", "0", "--out", str(tmp_path / "o")]) == 2

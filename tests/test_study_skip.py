"""`musicneurons study --skip`: what it leaves out (and says so), and what it keeps unchanged; figures drawn
in worker processes give the same study as figures drawn in line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from encode_fixtures import TINY_STUDY, copy_nottingham, save_tiny_model
from musicneurons.errors import UserError
from musicneurons.study.config import SKIPPABLE, StudyConfig, parse_skip

#: Stages ``--skip extras`` leaves out, and the figures that show them.
EXTRA_STAGES = {"free_running", "phik_null", "uncertainty", "interventions", "disentanglement", "detector"}
EXTRA_FIGURES = {"probe_attribute_change", "detector_roc"}


def test_skip_names_expand_and_unknown_names_are_user_errors() -> None:
    assert parse_skip(None) == ()
    assert parse_skip("audio, probes,audio") == ("probes", "audio")  # table order, once each
    extras = parse_skip("extras")
    assert "ablation" not in extras
    assert set(extras) == set(SKIPPABLE) - {"ablation"}
    assert parse_skip("extras,ablation") == tuple(SKIPPABLE)
    stages = {s for name in extras for s in SKIPPABLE[name][0]}
    assert stages == EXTRA_STAGES
    with pytest.raises(UserError, match="--skip probe: no such part"):
        parse_skip("probe")
    config = StudyConfig(skip=("bootstrap", "audio"))
    assert config.skips("uncertainty")
    assert config.skips("audio")
    assert not config.skips("phik_null")


def test_an_unknown_skip_name_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from musicneurons.cli import main

    assert main(["study", "--skip", "everything", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--skip everything: no such part of the study" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def _tiny_inputs(root: Path, corpora_dir: Path) -> list[str]:
    """A random-weight 2-bar model and 12 Nottingham tunes (as test_study's tiny study), as study options."""
    midi = copy_nottingham(corpora_dir, root / "midi", 12)
    save_tiny_model(root / "model", config=TINY_STUDY)
    model = ["--model", str(root / "model"), "--midi", str(midi)]
    return [*model, "--n-random", "2000", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def skipped_studies(tmp_path_factory: pytest.TempPathFactory, corpora_dir: Path) -> dict[str, Path]:
    """The tiny study three ways: in full, and ``--skip extras`` with figures in line and in two workers."""
    from musicneurons.cli import main

    root = tmp_path_factory.mktemp("skip")
    base = _tiny_inputs(root, corpora_dir)
    runs = {
        "full": ["--figure-workers", "0"],
        "inline": ["--skip", "extras", "--figure-workers", "0"],
        "workers": ["--skip", "extras", "--figure-workers", "2"],
    }
    for name, extra in runs.items():
        assert main(["study", *base, "--out", str(root / name), *extra]) == 0
    return {name: root / name for name in runs}


def _without_timings(summary: dict) -> dict:
    for part in summary["parts"].values():
        part.pop("seconds_this_run")
    summary["config"].pop("figure_workers")
    return summary


@pytest.mark.slow
def test_skip_extras_leaves_out_its_stages_figures_and_audio_and_says_so(
    skipped_studies: dict[str, Path],
) -> None:
    full, skipped = skipped_studies["full"], skipped_studies["inline"]
    full_stages = set(json.loads((full / "run.json").read_text())["stages"])
    run = json.loads((skipped / "run.json").read_text())
    assert set(run["stages"]) == full_stages - {f"2bar/{s}" for s in EXTRA_STAGES}
    assert "--skip free-running,phik-null,bootstrap,probes,disentanglement,detector,audio" in run["command"]
    full_figures = {p.stem for p in (full / "2bar" / "figures").glob("*.png")}
    figures = {p.stem for p in (skipped / "2bar" / "figures").glob("*.png")}
    assert figures == full_figures - EXTRA_FIGURES
    assert run["figures"]["n"] == len(figures)
    assert run["figures"]["workers"] == 0
    # the stages both ran are the same stages (same keys) with the same bytes
    for stage in full_stages - {f"2bar/{s}" for s in EXTRA_STAGES}:
        name = stage.split("/")[1]
        (a,) = (full / "2bar").glob(f"{name}.*[!n]")  # the artifact, not its .meta.json
        b = skipped / "2bar" / a.name
        assert a.read_bytes() == b.read_bytes(), name
    # so are the figures that show none of the skipped stages (Fig. 7 loses its pale, not-significant cells)
    for name in figures - {"fig07_phik_features_neurons"}:
        png = f"2bar/figures/{name}.png"
        assert (full / png).read_bytes() == (skipped / png).read_bytes(), name
    summary = json.loads((skipped / "summary.json").read_text())
    part = summary["parts"]["2bar"]
    assert part["skipped"] == list(parse_skip("extras"))
    assert summary["config"]["skip"] == part["skipped"]
    assert not {"interventions", "detector", "disentanglement", "free_running", "bootstrap"} & set(part)
    assert "paper_comparison" in part  # made from what did run
    assert "warnings" in part
    (note,) = [n for n in summary["notes"] if "--skip" in n]
    assert note.startswith("2-bar: left out on request (--skip): free-running (")
    html = (skipped / "report" / "index.html").read_text()
    assert "left out on request (--skip)" in html
    assert "<audio" not in html
    assert not (skipped / "report" / "midi").exists()
    assert "<audio" in (full / "report" / "index.html").read_text()


@pytest.mark.slow
def test_a_study_drawn_in_workers_is_the_study_drawn_in_line(skipped_studies: dict[str, Path]) -> None:
    from musicneurons.study.rendering import can_fork

    inline, workers = skipped_studies["inline"], skipped_studies["workers"]
    pngs = sorted(p.relative_to(inline) for p in inline.rglob("*.png"))
    assert pngs == sorted(p.relative_to(workers) for p in workers.rglob("*.png"))
    assert len(pngs) > 10
    for path in pngs:
        assert (inline / path).read_bytes() == (workers / path).read_bytes(), path
    a = _without_timings(json.loads((inline / "summary.json").read_text()))
    b = _without_timings(json.loads((workers / "summary.json").read_text()))
    assert a == b
    run = json.loads((workers / "run.json").read_text())
    assert run["figures"]["workers"] == (2 if can_fork() else 0)
    assert run["figures"]["n"] == len(list((workers / "2bar" / "figures").glob("*.png")))
    assert run["figures"]["seconds"] > 0

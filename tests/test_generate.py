"""The generation commands (sample, reconstruct, interpolate): files written, decodes, determinism, errors."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from musicneurons import load_model
from musicneurons.cli import main
from musicneurons.data.encoding import notes_from_classes, windows_to_midi
from musicneurons.data.midi import read_midi
from musicneurons.data.synth import RELEASE, SAMPLE_RATE
from musicneurons.model.inference import slerp

STEP = 0.125  # seconds per 16th at 120 qpm


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


def _melody(pitches: list[int]) -> np.ndarray:
    """A 2-bar window of quarter notes (class = pitch - 19), each held for 4 steps."""
    window = np.zeros(32, dtype=np.int8)
    for i, pitch in enumerate(pitches):
        window[4 * i] = pitch - 19
    return window


@pytest.fixture(scope="module")
def midi_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("midi")
    a = _melody([60, 62, 64, 65, 67, 69, 71, 72])  # C major scale up
    b = _melody([72, 67, 64, 60, 64, 67, 72, 67])  # arpeggio
    return windows_to_midi(a, folder / "a.mid"), windows_to_midi(b, folder / "b.mid"), a, b


def _listing(out: Path) -> dict:
    return json.loads((out / "melodies.json").read_text())


def _check_files(out: Path, entry: dict, steps: int = 32) -> None:
    score = read_midi(out / entry["midi"])
    expected = [(p, s * STEP, e * STEP) for p, s, e in notes_from_classes(np.array(entry["window"]))]
    got = list(zip(score.pitch.tolist(), score.start.tolist(), score.end.tolist(), strict=True))
    assert len(got) == len(expected)
    for (p, s, e), (gp, gs, ge) in zip(expected, got, strict=True):
        assert gp == p
        assert gs == pytest.approx(s, abs=1e-3)
        assert ge == pytest.approx(e, abs=1e-3)
    assert entry["notes"] == [{"pitch": p, "start": s, "end": e} for p, s, e in expected]
    with wave.open(str(out / entry["wav"]), "rb") as wav:
        assert wav.getframerate() == SAMPLE_RATE
        assert wav.getnframes() == round((steps * STEP + RELEASE) * SAMPLE_RATE)


def test_sample_writes_greedy_decodes_of_its_z(tmp_path, model):
    out = tmp_path / "s"
    assert main(["sample", "--n", "3", "--temperature", "0", "--seed", "7", "--out", str(out)]) == 0
    listing = _listing(out)
    assert [m["name"] for m in listing["melodies"]] == ["sample-000", "sample-001", "sample-002"]
    z = np.array([m["z"] for m in listing["melodies"]], dtype=np.float32)
    # z is N(0, I) from default_rng(7); the windows are the greedy decodes of z, checked with the model itself
    np.testing.assert_array_equal(z, np.random.default_rng(7).standard_normal((3, 512)).astype(np.float32))
    windows = np.array([m["window"] for m in listing["melodies"]])
    np.testing.assert_array_equal(windows, model.decode(z, temperature=0.0))
    for entry in listing["melodies"]:
        _check_files(out, entry)


def test_sample_is_deterministic_for_a_seed(tmp_path):
    runs = []
    for name in ("one", "two", "three"):
        seed = "1" if name != "three" else "2"
        assert main(["sample", "--n", "2", "--seed", seed, "--out", str(tmp_path / name)]) == 0
        runs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert runs[0] == runs[1]
    assert runs[0]["melodies.json"] != runs[2]["melodies.json"]


def test_reconstruct_writes_inputs_and_decodes(tmp_path, model, midi_files):
    a_path, _, a, _ = midi_files
    out = tmp_path / "r"
    assert main(["reconstruct", str(a_path), "--temperature", "0", "--out", str(out)]) == 0
    entries = _listing(out)["melodies"]
    assert [m["name"] for m in entries[:2]] == ["input-000", "decoded-000"]
    np.testing.assert_array_equal(entries[0]["window"], a)  # the file's first window is the melody we wrote
    assert entries[0]["z"] is None
    _, mu, _ = model.encode(a)
    np.testing.assert_allclose(entries[1]["z"], mu[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(entries[1]["window"], model.decode(mu, temperature=0.0)[0])
    for entry in entries:
        _check_files(out, entry)


def test_interpolate_follows_the_slerp(tmp_path, model, midi_files):
    a_path, b_path, a, b = midi_files
    out = tmp_path / "i"
    args = ["interpolate", str(a_path), str(b_path), "--steps", "4", "--temperature", "0", "--out", str(out)]
    assert main(args) == 0
    entries = _listing(out)["melodies"]
    assert len(entries) == 4
    _, mu, _ = model.encode(np.stack([a, b]))
    z = np.array([m["z"] for m in entries])
    np.testing.assert_allclose(z[0], mu[0], atol=1e-5)
    np.testing.assert_allclose(z[-1], mu[1], atol=1e-5)
    np.testing.assert_allclose(z, slerp(mu[0], mu[1], np.linspace(0, 1, 4)), atol=1e-5)
    norms = np.linalg.norm(z, axis=1)  # slerp between equal-ish norms stays off the chord's shortcut
    assert norms[1:3].min() > np.linalg.norm((mu[0] + mu[1]) / 2) - 1e-4
    np.testing.assert_array_equal([m["window"] for m in entries], model.decode(z, temperature=0.0))
    for entry in entries:
        _check_files(out, entry)


def test_sample_16bar_model(tmp_path):
    out = tmp_path / "s16"
    assert main(["sample", "--model", "default-16bar", "--n", "1", "--out", str(out)]) == 0
    entry = _listing(out)["melodies"][0]
    assert len(entry["window"]) == 256
    _check_files(out, entry, steps=256)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reconstruct", "{bad}"], "not a readable MIDI file"),
        (["reconstruct", "{missing}"], "no such MIDI file"),
        (["interpolate", "{a}", "{a}", "--window-b", "9"], "--window-b 9"),
        (["interpolate", "{a}", "{a}", "--steps", "1"], "--steps"),
        (["sample", "--n", "0"], "--n"),
        (["sample", "--temperature", "-1"], "--temperature"),
        (["sample", "--model", "{missing}"], "--model"),
        (["sample", "--soundfont", "{missing}"], "--soundfont"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, midi_files, capsys, argv, message):
    bad = tmp_path / "bad.mid"
    bad.write_text("not midi")
    paths = {"bad": bad, "missing": tmp_path / "nope.mid", "a": midi_files[0]}
    argv = [arg.format(**paths) for arg in argv] + ["--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_soundfont_without_fluidsynth_names_the_extra(tmp_path, capsys):
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        pass
    else:
        pytest.skip("pyfluidsynth is installed here: the missing-library message cannot be seen")
    font = tmp_path / "font.sf2"
    font.write_bytes(b"RIFF")
    argv = ["sample", "--n", "1", "--soundfont", str(font), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "musicneurons[soundfont]" in capsys.readouterr().err


def _soundfont() -> str | None:
    import os

    found = sorted(Path("/usr/share/sounds/sf2").glob("*.sf2"))
    return os.environ.get("MUSICNEURONS_SOUNDFONT") or (str(found[0]) if found else None)


def test_soundfont_render_is_deterministic(tmp_path):
    """Runs only where pyfluidsynth, libfluidsynth and a soundfont are installed (none is needed in CI)."""
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError) as exc:
        pytest.skip(f"no FluidSynth here: {exc}")
    font = _soundfont()
    if font is None:
        pytest.skip("no .sf2 soundfont in /usr/share/sounds/sf2 (set MUSICNEURONS_SOUNDFONT)")
    runs = []
    for name in ("a", "b"):
        argv = ["sample", "--n", "1", "--seed", "3", "--soundfont", font, "--out", str(tmp_path / name)]
        assert main(argv) == 0
        runs.append((tmp_path / name / "sample-000.wav").read_bytes())
    assert runs[0] == runs[1]
    with wave.open(str(tmp_path / "a" / "sample-000.wav"), "rb") as wav:
        assert wav.getnframes() == round((32 * STEP + 1.0) * SAMPLE_RATE)  # grid + 1 s of release
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert np.abs(pcm).max() == round(0.8 * 32767)

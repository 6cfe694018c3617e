"""Our weights format (weights.safetensors + config.json) and load_model's inputs: our folders, Magenta .tar,
checkpoint folders and prefixes, presets, embedded defaults, and the errors when files and config disagree."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from musicneurons import load_model, save_model
from musicneurons.errors import UserError
from musicneurons.model import registry
from musicneurons.model.checkpoints import CheckpointMismatchError
from musicneurons.model.load import load_module
from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig

TINY = "cat-mel_2bar_big-tiny"
SMALL_CFG = MusicVAEConfig(z_size=8, enc_rnn_size=(16,), dec_rnn_size=(16, 16), max_seq_len=32)


def _reference(magenta_fixtures: Path, name: str = TINY) -> dict[str, np.ndarray]:
    return dict(np.load(magenta_fixtures / "models" / f"{name}.reference.npz"))


def test_save_and_load_roundtrip(tmp_path: Path) -> None:
    module = MusicVAE(SMALL_CFG, generator=torch.Generator().manual_seed(0))
    out = save_model(module, tmp_path / "m", metadata={"step": 12, "note": "test"})
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "weights.safetensors"]  # no temp files
    doc = json.loads((out / "config.json").read_text())
    assert doc["format"] == "musicneurons-musicvae/1"
    assert doc["config"]["dec_rnn_size"] == [16, 16]
    assert doc["metadata"] == {"step": 12, "note": "test"}
    with safe_open(str(out / "weights.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["config"]) == doc["config"]  # the weights file alone is enough too
    loaded, metadata = load_module(out)
    assert metadata["step"] == 12
    assert loaded.config == SMALL_CFG
    for key, value in module.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    model = load_model(out, device="cpu")
    assert model.config == SMALL_CFG
    assert model.device == torch.device("cpu")
    assert model.metadata["note"] == "test"


def test_config_that_does_not_fit_the_weights(tmp_path: Path) -> None:
    out = save_model(MusicVAE(SMALL_CFG), tmp_path / "m")
    doc = json.loads((out / "config.json").read_text())
    doc["config"]["z_size"] = 12
    (out / "config.json").write_text(json.dumps(doc))
    with pytest.raises(
        CheckpointMismatchError, match=r"mu.weight: file has \(8, 32\), config needs \(12, 32\)"
    ):
        load_model(out)
    doc["format"] = "something-else/2"
    (out / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="format 'something-else/2'"):
        load_model(out)


@pytest.mark.parametrize("form", ["tar", "dir", "prefix", "ours"])
def test_load_model_accepts_every_form(magenta_fixtures: Path, tmp_path: Path, form: str) -> None:
    tar = magenta_fixtures / "models" / f"{TINY}.tar"
    if form == "tar":
        path = tar
    else:
        with tarfile.open(tar) as t:
            t.extractall(tmp_path / "ckpt", filter="data")
        path = {"dir": tmp_path / "ckpt", "prefix": tmp_path / "ckpt" / f"{TINY}.ckpt"}.get(form)
        if form == "ours":
            module, metadata = load_module(tar)
            path = save_model(module, tmp_path / "ours", metadata)
    model = load_model(path, device="cpu")
    assert model.metadata["global_step"] == 300
    ref = _reference(magenta_fixtures)
    _, mu, sigma = model.encode(ref["inputs"], rng=np.random.default_rng(0))
    np.testing.assert_allclose(mu, ref["mu"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(sigma, ref["sigma"], rtol=0, atol=1e-5)


def test_preset_for_magenta_checkpoints(magenta_fixtures: Path) -> None:
    small = load_model(magenta_fixtures / "models" / "cat-mel_2bar_small.tar", preset="cat-mel_2bar_small")
    assert small.metadata["preset"] == "cat-mel_2bar_small"
    with pytest.raises(CheckpointMismatchError, match="encoder/mu/kernel: checkpoint has shape"):
        load_model(magenta_fixtures / "models" / f"{TINY}.tar", preset="cat-mel_2bar_big")


def test_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "EMBEDDED_MODELS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="embedded model 'default-2bar' is not installed"):
        load_model()
    module = MusicVAE(SMALL_CFG)
    save_model(module, tmp_path / "default-2bar", {"which": "2bar"})
    save_model(MusicVAE(MusicVAEConfig(8, (16,), (16, 16), 256, (16, 16))), tmp_path / "default-16bar")
    assert load_model().metadata == {"which": "2bar"}
    assert load_model("default-16bar").config.level_lengths == (16, 16)


def test_unknown_path_is_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a TF checkpoint"):
        load_model(tmp_path / "missing.tar")


def test_registered_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one table: Magenta's architectures (no weights shipped) and the shipped models
    assert set(registry.MODELS) == {*registry.PRESETS, "default-2bar", "default-16bar"}
    assert registry.architecture("cat-mel_2bar_big").dec_rnn_size == (2048, 2048, 2048)
    assert registry.architecture("default-16bar").level_lengths == (16, 16)
    with pytest.raises(UserError, match=r"'cat-mel_2bar_big' is Magenta's architecture; its weights are not"):
        load_model("cat-mel_2bar_big")
    with pytest.raises(UserError, match="unknown model name 'mel_2bar'"):
        registry.architecture("mel_2bar")
    # a file or folder of a Magenta name is loaded as a path
    monkeypatch.chdir(tmp_path)
    save_model(MusicVAE(SMALL_CFG), tmp_path / "cat-mel_2bar_small")
    assert load_model("cat-mel_2bar_small", device="cpu").config == SMALL_CFG


def test_registry_matches_the_shipped_folders() -> None:
    from musicneurons.model.checkpoints import read_config

    for name, config in registry.SHIPPED.items():
        assert read_config(registry.EMBEDDED_MODELS_DIR / name)[0] == config, name

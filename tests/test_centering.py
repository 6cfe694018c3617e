"""Folding the mean posterior into the model: mu moves to the origin, every decode stays the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from musicneurons.cli import main
from musicneurons.model.centering import center_latents, fold_latent_offsets, mean_mu
from musicneurons.model.checkpoints import save_model
from musicneurons.model.load import load_module
from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig

FLAT = MusicVAEConfig(z_size=8, enc_rnn_size=(16,), dec_rnn_size=(16, 16), max_seq_len=32)
HIER = MusicVAEConfig(
    z_size=8, enc_rnn_size=(16,), dec_rnn_size=(16, 16), max_seq_len=32, level_lengths=(2, 16)
)


def _model(config: MusicVAEConfig, seed: int) -> MusicVAE:
    """A model with every weight and bias random (Magenta's init leaves biases at zero)."""
    model = MusicVAE(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=generator))
    return model.eval()


def _windows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 90, size=(n, 32))


@pytest.mark.parametrize("config", [FLAT, HIER], ids=["flat", "hierarchical"])
def test_fold_moves_mu_and_keeps_every_decode(config):
    model = _model(config, 1)
    x = torch.from_numpy(_windows(6, 2))
    c = np.random.default_rng(3).normal(0, 0.5, config.z_size)
    z = torch.randn(6, config.z_size, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        mu_before, sigma_before = model.encode(x)
        logits_before = model.decode_teacher_forced(z, x)
        classes_before, _ = model.sample(z, 32, generator=torch.Generator().manual_seed(5))
        fold_latent_offsets(model, c)
        mu_after, sigma_after = model.encode(x)
        shifted = z - torch.as_tensor(c, dtype=torch.float32)
        logits_after = model.decode_teacher_forced(shifted, x)
        classes_after, _ = model.sample(shifted, 32, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(
        mu_after, mu_before - torch.as_tensor(c, dtype=torch.float32), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(sigma_after, sigma_before, atol=0, rtol=0)
    torch.testing.assert_close(logits_after, logits_before, atol=2e-5, rtol=0)
    assert torch.equal(classes_after, classes_before)
    assert not torch.allclose(
        model.decode_teacher_forced(z, x), logits_before, atol=1e-3
    )  # the shift matters


@pytest.mark.parametrize("config", [FLAT, HIER], ids=["flat", "hierarchical"])
def test_center_latents_zeroes_the_mean_mu(config):
    model = _model(config, 6)
    windows = _windows(40, 7)
    offsets = center_latents(model, windows)
    assert np.abs(offsets).max() > 0.1  # random biases give real offsets to remove
    np.testing.assert_allclose(mean_mu(model, windows), 0.0, atol=1e-6)


def test_wrong_offset_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        fold_latent_offsets(_model(FLAT, 0), np.zeros(3))


def test_cli_center(tmp_path, capsys):
    model = _model(HIER, 8)
    save_model(model, tmp_path / "m")
    windows = _windows(20, 9)
    pd.DataFrame({"source": "a.mid", "window": list(windows.astype(np.int8)), "qpm": 120.0}).to_parquet(
        tmp_path / "w.parquet"
    )
    assert (
        main(["center", str(tmp_path / "m"), str(tmp_path / "w.parquet"), "--out", str(tmp_path / "c")]) == 0
    )
    centered, meta = load_module(tmp_path / "c")
    np.testing.assert_allclose(mean_mu(centered, windows), 0.0, atol=1e-6)
    assert meta["centered"]["n_windows"] == 20
    short = tmp_path / "short.parquet"
    pd.DataFrame(
        {"source": "a.mid", "window": list(windows[:, :16].astype(np.int8)), "qpm": 120.0}
    ).to_parquet(short)
    assert main(["center", str(tmp_path / "m"), str(short), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "short.parquet" in err
    assert "16 steps" in err
    assert not (tmp_path / "bad").exists()

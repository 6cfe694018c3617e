"""The PyTorch MusicVAE on tiny random configs: shapes, gradients and the structural rules of Magenta's model.

Numerical parity with Magenta's own graph is tested in test_convert.py (real TF checkpoints and outputs).
"""

from __future__ import annotations

import math

import pytest
import torch

from musicneurons.model.musicvae import PRESETS, MusicVAE, MusicVAEConfig, reconstruction_loss

FLAT = MusicVAEConfig(z_size=8, enc_rnn_size=(16, 12), dec_rnn_size=(16, 10), max_seq_len=32)
HIER = MusicVAEConfig(
    z_size=8, enc_rnn_size=(16,), dec_rnn_size=(12, 12), max_seq_len=64, level_lengths=(4, 16)
)


def _model(config: MusicVAEConfig, seed: int = 0) -> MusicVAE:
    return MusicVAE(config, generator=torch.Generator().manual_seed(seed)).double()


def _windows(config: MusicVAEConfig, n: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 90, (n, config.max_seq_len), generator=torch.Generator().manual_seed(seed))


def test_presets_have_magentas_parameter_counts() -> None:
    # trainable parameter counts of Magenta's graphs (shared/docs/magenta_facts.md section 10); PyTorch keeps
    # two
    # bias vectors per LSTM where TF keeps one, so those extra 4H per LSTM (direction) are subtracted
    expected = {
        "cat-mel_2bar_small": 4_423_770,
        "cat-mel_2bar_big": 134_571_098,
        "hierdec-mel_16bar": 176_061_530,
    }
    for name, count in expected.items():
        with torch.device("meta"):
            model = MusicVAE(PRESETS[name])
        extra = sum(p.numel() for k, p in model.named_parameters() if ".bias_hh_" in k)
        assert sum(p.numel() for p in model.parameters()) - extra == count, name


def test_config_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="multiply to 64, but max_seq_len is 256"):
        MusicVAEConfig(z_size=8, enc_rnn_size=(8,), dec_rnn_size=(8,), max_seq_len=256, level_lengths=(4, 16))
    with pytest.raises(ValueError, match="z_size must be >= 1"):
        MusicVAEConfig(z_size=0, enc_rnn_size=(8,), dec_rnn_size=(8,), max_seq_len=32)
    cfg = MusicVAEConfig.from_dict(HIER.to_dict())
    assert cfg == HIER
    assert isinstance(cfg.enc_rnn_size, tuple)


@pytest.mark.parametrize("config", [FLAT, HIER], ids=["flat", "hier"])
def test_shapes_and_backward(config: MusicVAEConfig) -> None:
    model = _model(config)
    x = _windows(config)
    mu, sigma = model.encode(x)
    assert mu.shape == sigma.shape == (3, 8)
    assert bool((sigma > 0).all())
    logits = model.decode_teacher_forced(mu, x)
    assert logits.shape == (3, config.max_seq_len, 90)
    (reconstruction_loss(logits, x).sum() + sigma.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())
    classes, sample_logits = model.sample(mu.detach(), config.max_seq_len, temperature=0.5)
    assert classes.shape == (3, config.max_seq_len)
    assert sample_logits.shape == (3, config.max_seq_len, 90)


def test_reconstruction_loss_is_summed_cross_entropy() -> None:
    logits = torch.zeros(2, 5, 90, dtype=torch.float64)
    targets = torch.zeros(2, 5, dtype=torch.long)
    # uniform logits: each step costs ln 90
    torch.testing.assert_close(
        reconstruction_loss(logits, targets), torch.full((2,), 5 * math.log(90), dtype=torch.float64)
    )


def test_encoder_lengths_equal_truncated_windows() -> None:
    model = _model(FLAT)
    x = _windows(FLAT)
    lengths = torch.tensor([32, 5, 17])
    mu, sigma = model.encode(x, lengths)
    for row, length in enumerate(lengths.tolist()):
        mu_cut, sigma_cut = model.encode(x[row : row + 1, :length])
        torch.testing.assert_close(mu[row], mu_cut[0])
        torch.testing.assert_close(sigma[row], sigma_cut[0])
    with pytest.raises(ValueError, match="values in 1..32"):
        model.encode(x, torch.tensor([32, 0, 3]))


def test_flat_decoder_is_causal_and_conditioned_on_z() -> None:
    model = _model(FLAT)
    x = _windows(FLAT)
    z = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    logits = model.decode_teacher_forced(z, x)
    y = x.clone()
    y[:, 20:] = (y[:, 20:] + 7) % 90  # change the future from step 20 on
    logits_y = model.decode_teacher_forced(z, y)
    torch.testing.assert_close(logits[:, :21], logits_y[:, :21])  # step 20 reads only targets[:, :20]
    assert not torch.allclose(logits[:, 21:], logits_y[:, 21:])
    assert not torch.allclose(logits, model.decode_teacher_forced(z + 1, x))


def test_hierarchical_bars_restart_from_conductor() -> None:
    # bar i sees only z (via the conductor), the true last class of bar i - 1 and its own earlier targets
    model = _model(HIER)
    x = _windows(HIER)
    z = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    logits = model.decode_teacher_forced(z, x)
    y = x.clone()
    y[:, 0:15] = (y[:, 0:15] + 5) % 90  # bar 0 except its last step
    y[:, 16:31] = (y[:, 16:31] + 5) % 90  # bar 1 except its last step
    logits_y = model.decode_teacher_forced(z, y)
    torch.testing.assert_close(logits[:, 32:], logits_y[:, 32:])  # bars 2, 3 unchanged
    assert not torch.allclose(logits[:, 16:32], logits_y[:, 16:32])
    y = x.clone()
    y[:, 31] = (y[:, 31] + 1) % 90  # last step of bar 1 feeds bar 2's first input
    logits_y = model.decode_teacher_forced(z, y)
    torch.testing.assert_close(logits[:, 48:], logits_y[:, 48:])
    assert not torch.allclose(logits[:, 32:48], logits_y[:, 32:48])


@pytest.mark.parametrize("config", [FLAT, HIER], ids=["flat", "hier"])
def test_greedy_sample_agrees_with_teacher_forcing_on_its_own_output(config: MusicVAEConfig) -> None:
    # the step-by-step fused cells and the whole-sequence nn.LSTM path compute the same function
    model = _model(config)
    z = torch.randn(4, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    classes, logits = model.sample(z, config.max_seq_len, temperature=0)
    assert torch.equal(classes, logits.argmax(-1))
    torch.testing.assert_close(model.decode_teacher_forced(z, classes), logits, rtol=0, atol=1e-12)


def test_sampling_is_reproducible_with_a_generator() -> None:
    model = _model(FLAT)
    z = torch.randn(5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    a, _ = model.sample(z, 32, temperature=1.0, generator=torch.Generator().manual_seed(7))
    b, _ = model.sample(z, 32, temperature=1.0, generator=torch.Generator().manual_seed(7))
    c, _ = model.sample(z, 32, temperature=1.0, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_sampling_temperature_follows_softmax() -> None:
    # one decoding step from a fixed state: draws follow softmax(logits / T)
    model = _model(FLAT)
    z = torch.zeros(1, 8, dtype=torch.float64).expand(4000, 8)
    with torch.no_grad():
        classes, logits = model.sample(z, 1, temperature=2.0, generator=torch.Generator().manual_seed(9))
    probs = torch.softmax(logits[0, 0] / 2.0, -1)
    freq = torch.bincount(classes[:, 0], minlength=90).double() / 4000
    assert float((freq - probs).abs().max()) < 0.03


@pytest.mark.parametrize("config", [FLAT, HIER], ids=["flat", "hier"])
def test_scheduled_sampling(config: MusicVAEConfig) -> None:
    model = _model(config)
    x = _windows(config)
    z = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    teacher = model.decode_teacher_forced(z, x)
    torch.testing.assert_close(model.decode_teacher_forced(z, x, sampling_probability=0.0), teacher)
    # p = 1: every input after the first is the model's own sample, so the targets no longer matter
    y = (x + 11) % 90
    if config.hierarchical:
        y[:, 15::16] = x[:, 15::16]  # ...except each bar's first input, the true last class of the bar before
    own_x = model.decode_teacher_forced(z, x, 1.0, torch.Generator().manual_seed(1))
    own_y = model.decode_teacher_forced(z, y, 1.0, torch.Generator().manual_seed(1))
    torch.testing.assert_close(own_x, own_y)
    assert not torch.allclose(own_x, teacher)
    # p = 0.5: gradients flow through the step loop
    half = model.decode_teacher_forced(z, x, 0.5, torch.Generator().manual_seed(1))
    reconstruction_loss(half, x).sum().backward()
    assert model.encoder.layers[0].weight_ih_l0.grad is None  # z was given, the encoder is not involved
    assert all(p.grad is not None for p in model.decoder.parameters())
    with pytest.raises(ValueError, match=r"sampling_probability must be in \[0, 1\]"):
        model.decode_teacher_forced(z, x, 1.5)


def test_bf16_autocast_runs_close_to_fp32() -> None:
    model = MusicVAE(FLAT, generator=torch.Generator().manual_seed(0))
    x = _windows(FLAT)
    with torch.inference_mode():
        mu, sigma = model.encode(x)
        logits = model.decode_teacher_forced(mu, x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mu16, sigma16 = model.encode(x)
            logits16 = model.decode_teacher_forced(mu, x)
            _, sampled16 = model.sample(mu, 32, temperature=0)
    assert mu16.dtype == torch.bfloat16
    assert float((mu16.float() - mu).abs().max()) < 2e-2
    assert float((sigma16.float() - sigma).abs().max()) < 2e-2
    assert float((logits16.float() - logits).abs().max()) < 5e-2
    assert sampled16.dtype == torch.float32


@pytest.mark.parametrize("config", [FLAT, HIER], ids=["flat", "hier"])
def test_bf16_weights_are_prepared_once_and_follow_weight_changes(config: MusicVAEConfig) -> None:
    from musicneurons.model.lstm import clear_prepared

    model = MusicVAE(config, generator=torch.Generator().manual_seed(0)).eval()
    x = _windows(config)
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))

    def run(m: MusicVAE) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return m.encode(x)[0], m.sample(z, config.max_seq_len, temperature=0)[1]

    first = run(model)
    layer = model.encoder.layers[0]
    cached = dict(layer.__dict__["_prepared_weights"])
    second = run(model)
    assert all(v[1] is cached[k][1] for k, v in layer.__dict__["_prepared_weights"].items())  # reused
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():  # in-place change (as an optimizer step or load_state_dict makes)
        layer.weight_ih_l0.mul_(0.5)
        model.decoder.core.rnn.layers[0].weight_hh_l0.mul_(0.5)
    changed = run(model)
    fresh = MusicVAE(config)
    fresh.load_state_dict(model.state_dict())  # no cache at all
    for a, b in zip(changed, run(fresh.eval()), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(changed[0], first[0])
    assert not torch.equal(changed[1], first[1])
    clear_prepared(model)
    assert all("_prepared_weights" not in m.__dict__ for m in model.modules())
    # under autograd nothing is cached: the casts are part of each step's graph
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model.encode(x)[0].float().sum().backward()
    assert "_prepared_weights" not in layer.__dict__
    assert layer.weight_ih_l0.grad is not None

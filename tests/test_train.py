"""Training: Magenta's schedules and loss by hand-computed values, TF Adam, clipping, augmentation, resume."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from musicneurons.cli import main
from musicneurons.model.musicvae import MusicVAEConfig
from musicneurons.training import TRAIN_PRESETS, TrainConfig, train, warm_start
from musicneurons.training.batches import batch_indices, split_by_source, transpose_windows
from musicneurons.training.evaluation import evaluate
from musicneurons.training.objective import (
    beta,
    kl_divergence,
    learning_rate,
    loss_terms,
    sampling_probability,
)
from musicneurons.training.optim import TFAdam, clip_gradients

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = MusicVAEConfig(z_size=8, enc_rnn_size=(32,), dec_rnn_size=(32,), max_seq_len=32)


def _melodies(n: int, seed: int = 0) -> np.ndarray:
    """n distinct 2-bar windows: random pitches 60..72 on 8th notes, holds between."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n, 32), dtype=np.int8)
    w[:, ::2] = rng.integers(60, 73, size=(n, 16)) - 19
    return w


# ----------------------------------------------------------------------- schedules (magenta_facts.md §1, §7)


def test_beta_matches_magenta_formula_at_chosen_steps():
    big = TRAIN_PRESETS["cat-mel_2bar_big"][1]
    assert beta(0, big) == 0.0
    # 0.5 * (1 - 0.99999 ** 100000): 0.99999 ** 100000 = exp(100000 * ln 0.99999) = 0.3678776...
    assert beta(100_000, big) == pytest.approx(0.5 * (1 - 0.36787760), rel=1e-6)
    assert beta(100_000, big) == pytest.approx(0.316, abs=5e-4)  # the fact sheet's value
    hier = TRAIN_PRESETS["hierdec-mel_16bar"][1]
    assert beta(0, hier) == 0.0  # 0 ** 0 = 1
    assert beta(1, hier) == 0.2
    assert beta(50_000, hier) == 0.2


def test_inverse_sigmoid_sampling_matches_magenta_formula():
    cfg = TRAIN_PRESETS["cat-mel_2bar_small"][1]
    assert sampling_probability(0, cfg) == pytest.approx(1 - 1000 / 1001)
    # p = 0.5 where exp(step / 1000) = 1000, i.e. step = 1000 ln 1000 = 6907.755
    assert sampling_probability(6907.755279, cfg) == pytest.approx(0.5, abs=1e-9)
    assert sampling_probability(15_000, cfg) == pytest.approx(1 - 1000 / (1000 + math.exp(15)), rel=1e-12)
    assert sampling_probability(10**9, cfg) == 1.0
    assert sampling_probability(123, TRAIN_PRESETS["hierdec-mel_16bar"][1]) == 0.0
    expo = TrainConfig(sampling_schedule="exponential", sampling_rate=0.99)
    assert sampling_probability(2, expo) == pytest.approx(1 - 0.9801)


def test_learning_rate_decay_matches_magenta_formula():
    cfg = TrainConfig()
    assert learning_rate(0, cfg) == pytest.approx(1e-3)
    # (1e-3 - 1e-5) * 0.9999 ** 10000 + 1e-5, with 0.9999 ** 10000 = 0.36786104...
    assert learning_rate(10_000, cfg) == pytest.approx(0.00099 * 0.36786104 + 1e-5, rel=1e-6)
    assert learning_rate(10**7, cfg) == pytest.approx(1e-5)


# --------------------------------------------------------------------------- loss


def test_kl_by_hand():
    mu = torch.tensor([[1.0, 0.0]])
    sigma = torch.tensor([[1.0, 0.5]])
    # dim 0: 0.5 * 1 = 0.5; dim 1: -ln 0.5 + 0.125 - 0.5 = 0.318147
    assert float(kl_divergence(mu, sigma)[0]) == pytest.approx(0.818147, abs=1e-6)


def test_loss_terms_by_hand():
    targets = torch.tensor([[3] * 32, [5] * 32])  # row 1: uniform logits, argmax 0 is wrong
    logits = torch.zeros(2, 32, 90)
    logits[0, :, 3] = 100.0  # row 0 certain and right: r_loss 0
    mu = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    sigma = torch.tensor([[1.0, 0.5], [1.0, 0.5]])
    cfg = TrainConfig(free_bits=1.0, max_beta=0.5, beta_rate=0.0)
    t = loss_terms(logits, targets, mu, sigma, step=5, cfg=cfg)
    r = 32 * math.log(90)  # row 1: uniform logits
    assert float(t["r_loss"]) == pytest.approx(r / 2, rel=1e-5)
    assert float(t["kl"]) == pytest.approx(0.818147, abs=1e-5)
    assert float(t["kl_bits"]) == pytest.approx(0.818147 / math.log(2), abs=1e-5)
    assert float(t["kl_cost"]) == pytest.approx(0.818147 - math.log(2), abs=1e-5)  # free bits on the total
    assert float(t["loss"]) == pytest.approx(r / 2 + 0.5 * (0.818147 - math.log(2)), rel=1e-5)
    assert float(t["accuracy"]) == pytest.approx(0.5)
    assert float(t["elbo"]) == pytest.approx(-(r / 2 + 0.818147), rel=1e-5)


# --------------------------------------------------------------------------- optimiser, clipping


def test_tf_adam_first_step_by_hand():
    """TF: lr_t = lr sqrt(1 - b2) / (1 - b1); theta -= lr_t m / (sqrt(v) + eps). eps = 0.1 separates it from
    PyTorch's Adam, whose first step would be lr * g / (|g| + eps) = 0.0952."""
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = TFAdam([p], lr=0.1, eps=0.1)
    p.grad = torch.tensor([2.0])
    opt.step()
    m, v = 0.2, 0.004
    lr_t = 0.1 * math.sqrt(0.001) / 0.1
    assert float(p.detach()) == pytest.approx(1.0 - lr_t * m / (math.sqrt(v) + 0.1), rel=1e-6)
    assert float(p.detach()) == pytest.approx(1.0 - 0.0387426, abs=1e-6)


def test_clipping_global_norm_and_clip_to_zero():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    norm = clip_gradients([a, b], TrainConfig(grad_clip=1.0))
    assert norm == pytest.approx(5.0)
    assert a.grad.tolist() == pytest.approx([0.6, 0.0])
    assert b.grad.tolist() == pytest.approx([0.8])
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    clip_gradients([a, b], TrainConfig(grad_clip=10.0))  # below the clip: unchanged
    assert b.grad.tolist() == [4.0]
    a.grad, b.grad = torch.tensor([30000.0, 0.0]), torch.tensor([40000.0])
    clip_gradients([a, b], TrainConfig(grad_clip=1.0, grad_norm_clip_to_zero=10000.0))
    assert float(b.grad) == pytest.approx(40000.0 / 1e10)  # scaled by clip / 1e10: effectively zero


# --------------------------------------------------------------------------- data


def test_transpose_stays_in_range_and_moves_whole_windows():
    w = np.zeros((3000, 32), dtype=np.int8)
    w[:, 0] = 60 - 19
    w[:, 4] = 1  # NOTE_OFF stays
    w[:1000, 8] = 2  # pitch 21 (lowest): can only go up
    w[1000:2000, 8] = 89  # pitch 108 (highest): can only go down
    out = transpose_windows(w, np.random.default_rng(0))
    shift = out[:, 0].astype(int) - w[:, 0]
    assert set(shift[:1000]) == set(range(6))
    assert set(shift[1000:2000]) == set(range(-5, 1))
    assert set(shift[2000:]) == set(range(-5, 6))
    assert np.all(out[:, 4] == 1)
    assert np.all(out[:, 1:4] == 0)
    assert np.array_equal(out[:2000, 8].astype(int) - w[:2000, 8], shift[:2000])  # one shift per window


def test_batch_indices_are_seeded_epoch_permutations():
    idx = np.concatenate([batch_indices(s, 10, 4, seed=3) for s in range(5)])  # 20 = two epochs
    assert sorted(idx[:10]) == list(range(10))
    assert sorted(idx[10:]) == list(range(10))
    assert not np.array_equal(idx[:10], idx[10:])
    assert np.array_equal(batch_indices(2, 10, 4, seed=3), idx[8:12])
    assert not np.array_equal(batch_indices(0, 10, 4, seed=4), idx[:4])


def test_split_by_source_keeps_files_whole():
    sources = np.array([f"f{i % 200}.mid" for i in range(2000)], dtype=object)
    mask = split_by_source(sources, valid_fraction=0.2)
    for s in np.unique(sources):
        assert len(set(mask[sources == s])) == 1
    assert 0.1 < mask.mean() < 0.3


# --------------------------------------------------------------------------- the loop


@pytest.mark.slow
def test_tiny_model_overfits_a_handful_of_windows(tmp_path):
    """Four 2-bar melodies of 8 random notes: teacher-forced and free-running accuracy from z = mu reach 1."""
    torch.set_flush_denormal(True)
    rng = np.random.default_rng(0)
    w = np.zeros((4, 32), dtype=np.int8)
    w[:, ::4] = rng.integers(60, 73, size=(4, 8)) - 19
    cfg = TrainConfig(
        max_beta=0.0,
        batch_size=4,
        max_steps=700,
        learning_rate=1e-2,
        transpose=False,
        eval_every=0,
        n_eval=4,
        checkpoint_every_s=1e9,
    )
    train(w, w, TINY, cfg, tmp_path, progress=False)
    final = json.loads((tmp_path / "final_metrics.json").read_text())
    assert final["step"] == 700
    assert final["val_accuracy"] == 1.0
    assert final["val_free_accuracy"] == 1.0
    assert (tmp_path / "model" / "weights.safetensors").exists()


def test_interrupted_training_resumes_to_identical_weights(tmp_path):
    w = _melodies(24)
    cfg = TrainConfig(
        max_beta=0.5,
        beta_rate=0.9,
        free_bits=1.0,
        batch_size=8,
        max_steps=6,
        eval_every=0,
        checkpoint_every_s=1e9,
        seed=5,
        sampling_schedule="constant",
        sampling_rate=0.3,
    )
    train(w, w[:4], TINY, cfg, tmp_path / "full", progress=False)
    train(w, w[:4], TINY, dataclasses.replace(cfg, max_steps=3), tmp_path / "cut", progress=False)
    train(w, w[:4], TINY, cfg, tmp_path / "cut", progress=False, resume=True)
    a = load_file(str(tmp_path / "full" / "model" / "weights.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "weights.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    la = [json.loads(x)["loss"] for x in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["loss"] for x in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert la == lb
    assert len(la) == 6


def test_evaluate_counts_music_and_noise_dims():
    from musicneurons.model.musicvae import MusicVAE

    model = MusicVAE(TINY, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # dims 0-2 informative (sigma 0.1), the rest at the prior (sigma 1, mu 0)
        model.sigma.weight.zero_()
        model.sigma.bias.fill_(math.log(math.e - 1))  # softplus -> 1
        model.sigma.bias[:3] = math.log(math.exp(0.1) - 1)
        model.mu.weight[3:].zero_()
        model.mu.bias.zero_()
        model.mu.weight[:3].normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
    stats = evaluate(model, _melodies(16), TrainConfig(), free_running=False)
    assert stats["n_sigma_below_0_9"] == 3
    assert stats["noise_max_abs_mean_mu"] == 0.0
    assert stats["n_var_mu_above_0_01"] == 3
    assert stats["mean_sigma_sorted"][:3] == pytest.approx([0.1] * 3, abs=1e-4)
    assert stats["noise_silent_share"] == 1.0
    assert stats["noise_excited_median"] == 0.0


def test_evaluate_measures_how_silent_the_noise_dims_are():
    """Dims 0-2 sharp (sigma 0.1); of the 5 others, 3-4 have sigma 0.95 (not silent), 5-7 sigma 1 (silent);
    dims 3 and 5 carry a constant mu of 0.5 (excited in every window), the rest mu 0.05 or 0."""
    from musicneurons.model.musicvae import MusicVAE

    model = MusicVAE(TINY, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.sigma.weight.zero_()
        model.sigma.bias.copy_(torch.tensor([0.1, 0.1, 0.1, 0.95, 0.95, 1.0, 1.0, 1.0]).expm1().log())
        model.mu.weight[3:].zero_()
        model.mu.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.5, 0.05, -0.5, 0.0, 0.0]))
    stats = evaluate(model, _melodies(16), TrainConfig(), free_running=False)
    assert stats["n_sigma_below_0_9"] == 3
    assert stats["noise_silent_share"] == pytest.approx(3 / 5)
    assert stats["noise_excited_median"] == 2.0


def test_cli_train_writes_a_loadable_model(tmp_path, capsys):
    from musicneurons.model.load import load_model

    w = _melodies(40)
    pd.DataFrame(
        {"source": [f"s{i % 10}.mid" for i in range(40)], "window": list(w.astype(int)), "qpm": 120.0}
    ).to_parquet(tmp_path / "windows.parquet")
    rc = main(
        [
            "train",
            str(tmp_path / "windows.parquet"),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
            "--z-size",
            "8",
            "--enc-rnn-size",
            "16",
            "--dec-rnn-size",
            "16",
            "16",
            "--batch-size",
            "8",
            "--no-bf16",
            "--device",
            "cpu",
            "--threads",
            "1",
        ]
    )
    assert rc == 0
    assert "model written" in capsys.readouterr().out
    model = load_model(tmp_path / "run" / "model", device="cpu")
    assert model.config.dec_rnn_size == (16, 16)
    assert model.config.z_size == 8
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 2


def test_warm_start_copies_matching_tensors_only(tmp_path):
    from musicneurons.model.checkpoints import save_model
    from musicneurons.model.musicvae import MusicVAE

    source = MusicVAE(TINY, generator=torch.Generator().manual_seed(1))
    save_model(source, tmp_path / "src")
    hier = MusicVAEConfig(
        z_size=8, enc_rnn_size=(32,), dec_rnn_size=(32,), max_seq_len=32, level_lengths=(2, 16)
    )
    target = MusicVAE(hier, generator=torch.Generator().manual_seed(2))
    before = {k: v.clone() for k, v in target.state_dict().items()}
    loaded = warm_start(target, tmp_path / "src")
    after, src = target.state_dict(), source.state_dict()
    assert any(k.startswith("encoder.") for k in loaded)
    assert "mu.weight" in loaded
    for k in after:
        if k in loaded:
            assert torch.equal(after[k], src[k]), k
        else:
            assert torch.equal(after[k], before[k]), k
    assert "decoder.conductor_initial_state.weight" not in loaded  # no such tensor in a flat model


def test_progress_bar_does_not_write_a_line_per_step(tmp_path, capsys):
    """In a log file (nohup, CI) the bar may redraw only every few seconds, not at every step."""
    cfg = TrainConfig(max_beta=0.1, batch_size=4, max_steps=40, eval_every=0, checkpoint_every_s=1e9)
    train(_melodies(8), _melodies(4), TINY, cfg, tmp_path, progress=True)
    redraws = capsys.readouterr().err.count("\r")
    assert 0 < redraws < 10


# --------------------------------------------------------------------------- resume: state without pickle


def _resume_config(max_steps: int = 6) -> TrainConfig:
    return TrainConfig(
        max_beta=0.5,
        beta_rate=0.9,
        batch_size=8,
        max_steps=max_steps,
        eval_every=0,
        checkpoint_every_s=1e9,
        seed=5,
        sampling_schedule="constant",
        sampling_rate=0.3,
    )


def _checkpoint(run) -> object:
    return run / (run / "latest").read_text().strip()


class _Payload:
    """Unpickling this runs code: it writes ``path`` (what an attacker's optimizer.pt would do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"__import__('pathlib').Path({self.path!r}).write_text('ran')",))


def _plant_pickle(path, sentinel) -> None:
    torch.save({"state": {0: _Payload(sentinel)}, "param_groups": []}, path)
    torch.load(path, weights_only=False)  # the payload is live: a plain load runs it
    assert sentinel.exists()
    sentinel.unlink()


def test_checkpoint_holds_no_pickle(tmp_path):
    w = _melodies(24)
    train(w, w[:4], TINY, _resume_config(2), tmp_path, progress=False)
    files = sorted(p.name for p in _checkpoint(tmp_path).iterdir())
    assert files == ["config.json", "optimizer.safetensors", "state.json", "weights.safetensors"]
    moments = load_file(str(_checkpoint(tmp_path) / "optimizer.safetensors"))
    assert "m/mu.weight" in moments
    assert "v/decoder.core.output_projection.bias" in moments
    state = json.loads((_checkpoint(tmp_path) / "state.json").read_text())
    assert state["step"] == 2
    assert set(state["optimizer"]["adam_step"].values()) == {2}


def test_resume_refuses_a_pickled_optimizer_that_would_run_code(tmp_path):
    from musicneurons.errors import UserError

    w = _melodies(24)
    run = tmp_path / "run"
    train(w, w[:4], TINY, _resume_config(3), run, progress=False)
    ckpt = _checkpoint(run)
    (ckpt / "optimizer.safetensors").unlink()  # now it looks like an older run's checkpoint
    state = json.loads((ckpt / "state.json").read_text())
    del state["optimizer"]
    (ckpt / "state.json").write_text(json.dumps(state))
    sentinel = tmp_path / "code-ran"
    _plant_pickle(ckpt / "optimizer.pt", sentinel)
    with pytest.raises(UserError, match=r"optimizer\.pt: refused"):
        train(w, w[:4], TINY, _resume_config(), run, progress=False, resume=True)
    assert not sentinel.exists()


def test_resume_never_reads_a_pickle_planted_beside_the_state(tmp_path):
    w = _melodies(24)
    run = tmp_path / "run"
    train(w, w[:4], TINY, _resume_config(3), run, progress=False)
    sentinel = tmp_path / "code-ran"
    _plant_pickle(_checkpoint(run) / "optimizer.pt", sentinel)
    train(w, w[:4], TINY, _resume_config(), run, progress=False, resume=True)
    assert not sentinel.exists()
    assert json.loads((run / "final_metrics.json").read_text())["step"] == 6


def test_an_older_run_with_a_plain_optimizer_pickle_resumes_identically(tmp_path):
    from musicneurons.model.musicvae import MusicVAE
    from musicneurons.training.checkpoints import load_checkpoint

    w = _melodies(24)
    train(w, w[:4], TINY, _resume_config(), tmp_path / "full", progress=False)
    run = tmp_path / "old"
    train(w, w[:4], TINY, _resume_config(3), run, progress=False)
    ckpt = _checkpoint(run)
    model = MusicVAE(TINY)
    opt = TFAdam(model.parameters())
    load_checkpoint(run, model, opt)
    torch.save(opt.state_dict(), ckpt / "optimizer.pt")  # the older format: a pickled state dict
    (ckpt / "optimizer.safetensors").unlink()
    state = json.loads((ckpt / "state.json").read_text())
    del state["optimizer"]
    (ckpt / "state.json").write_text(json.dumps(state))
    train(w, w[:4], TINY, _resume_config(), run, progress=False, resume=True)
    a = load_file(str(tmp_path / "full" / "model" / "weights.safetensors"))
    b = load_file(str(run / "model" / "weights.safetensors"))
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_log_has_each_step_once_after_resuming_from_an_earlier_checkpoint(tmp_path):
    """A kill after step 5 was logged but before its checkpoint: the run resumes from step 3's checkpoint,
    and the log lines of steps 4-5 are replaced, not repeated."""
    import shutil

    w = _melodies(24)
    train(w, w[:4], TINY, _resume_config(), tmp_path / "full", progress=False)
    run = tmp_path / "cut"
    train(w, w[:4], TINY, _resume_config(3), run, progress=False)
    shutil.copytree(_checkpoint(run), tmp_path / "saved")
    train(w, w[:4], TINY, _resume_config(5), run, progress=False, resume=True)
    shutil.rmtree(_checkpoint(run))  # back to step 3's checkpoint, with 5 steps in the log
    shutil.copytree(tmp_path / "saved", run / "checkpoint-00000003")
    (run / "latest").write_text("checkpoint-00000003")
    with (run / "log.jsonl").open("a") as f:
        f.write('{"loss": 1.0, "st')  # a line cut short by the kill
    train(w, w[:4], TINY, _resume_config(), run, progress=False, resume=True)
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    full = [json.loads(x) for x in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in lines] == [r["loss"] for r in full]


def test_a_fresh_run_into_a_used_folder_is_refused(tmp_path):
    from musicneurons.errors import UserError

    w = _melodies(24)
    train(w, w[:4], TINY, _resume_config(1), tmp_path, progress=False)
    with pytest.raises(UserError, match="already holds a training run"):
        train(w, w[:4], TINY, _resume_config(2), tmp_path, progress=False)
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1


def test_stray_temporary_checkpoints_are_removed(tmp_path):
    w = _melodies(24)
    train(w, w[:4], TINY, _resume_config(1), tmp_path, progress=False)
    (tmp_path / ".checkpoint-00000007.tmp").mkdir()  # left by a kill while writing
    train(w, w[:4], TINY, _resume_config(2), tmp_path, progress=False, resume=True)
    assert not list(tmp_path.glob(".checkpoint-*"))


# --------------------------------------------------------------------------- the training step's decoder


@pytest.mark.parametrize("level_lengths", [None, (4, 8)])
def test_training_decoder_equals_the_models_teacher_forced_path(level_lengths):
    """Logits and every parameter gradient equal the model's own nn.LSTM path (float64: to rounding)."""
    from musicneurons.model.musicvae import MusicVAE
    from musicneurons.training.teacher_forced import decode_teacher_forced

    config = MusicVAEConfig(
        z_size=16, enc_rnn_size=(24,), dec_rnn_size=(32, 28), max_seq_len=32, level_lengths=level_lengths
    )
    model = MusicVAE(config, generator=torch.Generator().manual_seed(0)).double()
    with torch.no_grad():  # move the weights off Magenta's initial values (zero biases) so every term matters
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator().manual_seed(1)))
    x = torch.as_tensor(_melodies(6).astype(np.int64))
    z = torch.randn(6, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    weights = torch.linspace(0, 1, 90, dtype=torch.float64)

    def run(decode):
        model.zero_grad()
        zz = z.clone().requires_grad_()
        logits = decode(zz, x)
        (logits.log_softmax(-1) * weights).sum().backward()
        return (
            logits.detach(),
            zz.grad,
            {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None},
        )

    ref_logits, ref_dz, ref_grads = run(model.decode_teacher_forced)
    logits, dz, grads = run(lambda zz, xx: decode_teacher_forced(model, zz, xx))
    torch.testing.assert_close(logits, ref_logits, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dz, ref_dz, rtol=1e-12, atol=1e-12)
    assert grads.keys() == ref_grads.keys()
    assert any(k.startswith("decoder.") for k in grads)
    for k in ref_grads:
        torch.testing.assert_close(grads[k], ref_grads[k], rtol=1e-10, atol=1e-12, msg=k)


@pytest.mark.parametrize(("level_lengths", "p"), [(None, 0.5), ((4, 8), 0.3), (None, 1.0)])
def test_scheduled_sampling_decoder_equals_the_models(level_lengths, p):
    """Same draws, same sampled inputs: logits bit-identical to the model's loop, gradients to rounding."""
    from musicneurons.model.musicvae import MusicVAE
    from musicneurons.training.scheduled import decode_scheduled

    config = MusicVAEConfig(
        z_size=16, enc_rnn_size=(24,), dec_rnn_size=(32, 28, 20), max_seq_len=32, level_lengths=level_lengths
    )
    model = MusicVAE(config, generator=torch.Generator().manual_seed(0)).double()
    with torch.no_grad():
        for q in model.parameters():
            q.add_(0.05 * torch.randn(q.shape, dtype=q.dtype, generator=torch.Generator().manual_seed(1)))
    x = torch.as_tensor(_melodies(6).astype(np.int64))
    z = torch.randn(6, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    weights = torch.linspace(0, 1, 90, dtype=torch.float64)

    def run(decode):
        model.zero_grad()
        zz = z.clone().requires_grad_()
        logits = decode(zz, x, p, torch.Generator().manual_seed(3))
        (logits.log_softmax(-1) * weights).sum().backward()
        grads = {k: q.grad.clone() for k, q in model.named_parameters() if q.grad is not None}
        return logits.detach(), zz.grad, grads

    ref_logits, ref_dz, ref_grads = run(model.decode_teacher_forced)
    logits, dz, grads = run(lambda zz, xx, pp, gen: decode_scheduled(model, zz, xx, pp, gen))
    assert torch.equal(logits, ref_logits)
    torch.testing.assert_close(dz, ref_dz, rtol=1e-12, atol=1e-12)
    assert grads.keys() == ref_grads.keys()
    for k in ref_grads:
        torch.testing.assert_close(grads[k], ref_grads[k], rtol=1e-10, atol=1e-12, msg=k)


def test_cli_resume_of_a_hostile_run_folder_is_one_line_and_exit_2(tmp_path, capsys):
    w = _melodies(40)
    pd.DataFrame({"source": [f"s{i % 10}.mid" for i in range(40)], "window": list(w.astype(int))}).to_parquet(
        tmp_path / "windows.parquet"
    )
    args = ["train", str(tmp_path / "windows.parquet"), "--out", str(tmp_path / "run"), "--z-size", "8"]
    args += ["--enc-rnn-size", "16", "--dec-rnn-size", "16", "--batch-size", "8", "--device", "cpu"]
    assert main([*args, "--max-steps", "1", "--threads", "1"]) == 0
    ckpt = _checkpoint(tmp_path / "run")
    (ckpt / "optimizer.safetensors").unlink()
    state = json.loads((ckpt / "state.json").read_text())
    del state["optimizer"]
    (ckpt / "state.json").write_text(json.dumps(state))
    sentinel = tmp_path / "code-ran"
    _plant_pickle(ckpt / "optimizer.pt", sentinel)
    capsys.readouterr()
    assert main([*args, "--max-steps", "2", "--threads", "1", "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "optimizer.pt: refused" in err
    assert "Traceback" not in err
    assert not sentinel.exists()
    assert main([*args, "--max-steps", "2", "--threads", "1"]) == 2  # a fresh run into it: refused too
    assert "already holds a training run" in capsys.readouterr().err

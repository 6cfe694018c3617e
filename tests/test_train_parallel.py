"""A training batch in parts on worker threads: the whole batch's gradient, numbers independent of threads."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig
from musicneurons.training.cards import Stage, reproduce_commands
from musicneurons.training.config import TrainConfig, resumed_configs
from musicneurons.training.loop import train_step
from musicneurons.training.objective import loss_terms
from musicneurons.training.optim import TFAdam
from musicneurons.training.parallel import PartRunner, part_runner, part_slices, parts_on

CONFIG = MusicVAEConfig(z_size=8, enc_rnn_size=(16,), dec_rnn_size=(16, 12), max_seq_len=32)
# no clipping (its scale would hide a wrong sum), no beta warm-up: every loss term counts from step 0
CFG = TrainConfig(max_beta=0.5, beta_rate=0.0, grad_clip=1e9, batch_size=12, seed=3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _windows(n: int) -> torch.Tensor:
    rng = np.random.default_rng(0)
    w = np.zeros((n, 32), dtype=np.int64)
    w[:, ::2] = rng.integers(41, 54, size=(n, 16))
    return torch.as_tensor(w)


def _model() -> MusicVAE:
    model = MusicVAE(CONFIG, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # off Magenta's initial zero biases, so every parameter gets a gradient
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    return model


@pytest.mark.parametrize(
    ("n", "parts", "bounds"),
    [(128, 2, [0, 64, 128]), (10, 3, [0, 3, 7, 10]), (3, 5, [0, 1, 2, 3]), (7, 1, [0, 7])],
)
def test_part_slices_are_contiguous_near_equal_and_never_empty(n, parts, bounds):
    slices = part_slices(n, parts)
    assert [s.start for s in slices] + [slices[-1].stop] == bounds


def test_a_split_batch_has_the_whole_batchs_loss_and_gradient():
    """Two parts on two threads vs the loss of the whole batch through the model's own decoder."""
    x = _windows(12)
    step = 0
    model = _model()
    eps = torch.randn(
        (12, CONFIG.z_size), generator=torch.Generator().manual_seed(CFG.seed * 1_000_003 + step)
    )
    mu, sigma = model.encode(x)
    reference = loss_terms(model.decode_teacher_forced(mu + sigma * eps, x), x, mu, sigma, step, CFG)
    reference["loss"].backward()
    expected = {k: p.grad.clone() for k, p in model.named_parameters()}

    model.zero_grad(set_to_none=True)
    runner = PartRunner(2)
    terms, _, _ = train_step(model, TFAdam(model.parameters(), lr=0.0), x, step, CFG, runner)
    runner.close()
    for name in ("loss", "r_loss", "kl", "elbo", "accuracy"):
        torch.testing.assert_close(terms[name], reference[name].detach(), rtol=1e-5, atol=1e-6, msg=name)
    for k, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[k], rtol=1e-4, atol=1e-6, msg=k)


@pytest.mark.parametrize("level_lengths", [None, (2, 16)])
def test_the_numbers_do_not_depend_on_the_worker_threads(level_lengths):
    """Three parts with scheduled sampling: one worker or three give bit-identical weights after 3 steps."""
    config = dataclasses.replace(CONFIG, level_lengths=level_lengths)
    cfg = dataclasses.replace(CFG, batch_parts=3, sampling_rate=0.5, grad_clip=1.0)
    x = _windows(12)
    weights = []
    for workers in (1, 3):
        model = MusicVAE(config, generator=torch.Generator().manual_seed(0))
        opt = TFAdam(model.parameters())
        runner = PartRunner(workers)
        for step in range(3):
            train_step(model, opt, x, step, cfg, runner)
        runner.close()
        weights.append(model.state_dict())
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), k


def test_part_runner_shares_the_threads_out_and_restores_them():
    torch.set_num_threads(4)
    with part_runner(2, torch.device("cpu")) as runner:
        assert (runner.workers, runner.threads_per_worker) == (2, 2)
        assert torch.get_num_threads() == 2
        seen = runner.map(lambda _: torch.get_num_threads(), 2)
        assert seen == [2, 2]
    assert torch.get_num_threads() == 4
    with part_runner(2, torch.device("cuda")) as runner:  # off the CPU: no worker threads
        assert runner.workers == 1
    assert parts_on(torch.device("cpu"), 2) == 2
    assert parts_on(torch.device("cuda"), 2) == 1  # a GPU takes the batch whole


def test_runs_recorded_before_batch_parts_resume_and_reproduce_with_whole_batches(tmp_path):
    recorded = {k: v for k, v in TrainConfig().to_dict().items() if k != "batch_parts"}
    _, cfg = resumed_configs({"model": CONFIG.to_dict(), "train_config": recorded})
    assert cfg.batch_parts == 1
    assert TrainConfig().batch_parts == 2  # a new run splits by default
    folder = tmp_path / "stage"
    folder.mkdir()
    meta = {"step": 10, "preset": "default-2bar", "train_config": recorded}
    (folder / "config.json").write_text(json.dumps({"config": {}, "metadata": meta}))
    (command,) = reproduce_commands([Stage.read(folder)], "w", None)
    assert command.endswith("--batch-parts 1")


@pytest.mark.parametrize("parts", ["0", "-2"])
def test_cli_refuses_batch_parts_below_one_in_one_line(tmp_path, capsys, parts):
    import pandas as pd

    from musicneurons.cli import main

    w = _windows(20).numpy().astype(np.int8)
    pd.DataFrame({"source": [f"s{i % 4}.mid" for i in range(20)], "window": list(w.astype(int))}).to_parquet(
        tmp_path / "windows.parquet"
    )
    args = ["train", str(tmp_path / "windows.parquet"), "--out", str(tmp_path / "run"), "--device", "cpu"]
    assert main([*args, "--batch-parts", parts, "--max-steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "batch_parts must be >= 1" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()

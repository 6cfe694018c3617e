"""Magenta checkpoints -> MusicVAE: parity with Magenta's own outputs (shared/fixtures/magenta/models), the
conversion table against Magenta's published variable shapes, strictness, and the ``convert`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from musicneurons.cli import main
from musicneurons.model.checkpoints import CheckpointMismatchError
from musicneurons.model.convert import (
    conversion_table,
    convert_checkpoint,
    convert_state,
    infer_config,
    lstm_bias_hh,
    lstm_bias_ih,
    lstm_weight_hh,
    lstm_weight_ih,
)
from musicneurons.model.musicvae import PRESETS, MusicVAE, MusicVAEConfig, reconstruction_loss
from musicneurons.model.tf import read_checkpoint

MODELS = ["cat-mel_2bar_small", "cat-mel_2bar_big-tiny", "flat-mel_16bar-tiny", "hierdec-mel_16bar-tiny"]


@pytest.fixture(scope="module")
def converted(magenta_fixtures: Path) -> dict[str, tuple[MusicVAE, dict]]:
    return {name: convert_checkpoint(magenta_fixtures / "models" / f"{name}.tar") for name in MODELS}


def _reference(magenta_fixtures: Path, name: str) -> dict[str, np.ndarray]:
    return dict(np.load(magenta_fixtures / "models" / f"{name}.reference.npz"))


# --------------------------------------------------------------------------- the table


def test_lstm_gate_reorder_and_forget_bias_by_hand() -> None:
    # in = 1, H = 1: TF kernel rows [x; h], columns gates (i, j, f, o)
    kernel = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32)
    bias = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    np.testing.assert_array_equal(lstm_weight_ih(kernel), [[1], [3], [2], [4]])  # torch order (i, f, g=j, o)
    np.testing.assert_array_equal(lstm_weight_hh(kernel), [[5], [7], [6], [8]])
    np.testing.assert_allclose(lstm_bias_ih(bias), [0.1, 1.3, 0.2, 0.4])  # forget bias 1.0 folded in
    np.testing.assert_array_equal(lstm_bias_hh(bias), [0, 0, 0, 0])


def test_table_shapes_are_magentas() -> None:
    # shapes from Magenta's graph (shared/docs/magenta_facts.md section 3, GitHub issue magenta#1854)
    expected = {
        "cat-mel_2bar_big": {
            "encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel": (2138, 8192),
            "encoder/mu/kernel": (4096, 512),
            "decoder/z_to_initial_state/kernel": (512, 12288),
            "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel": (2650, 8192),
            "decoder/multi_rnn_cell/cell_2/lstm_cell/kernel": (4096, 8192),
            "decoder/output_projection/kernel": (2048, 90),
        },
        "cat-mel_2bar_small": {
            "encoder/cell_0/bidirectional_rnn/bw/multi_rnn_cell/cell_0/lstm_cell/kernel": (602, 2048),
            "encoder/sigma/kernel": (1024, 256),
            "decoder/z_to_initial_state/kernel": (256, 1024),
            "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel": (602, 1024),
            "decoder/multi_rnn_cell/cell_1/lstm_cell/kernel": (512, 1024),
            "decoder/output_projection/kernel": (256, 90),
        },
        "hierdec-mel_16bar": {
            "encoder/cell_1/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel": (6144, 8192),
            "decoder/hierarchical_level_0/initial_state/kernel": (512, 4096),
            "decoder/hierarchical_level_0/cell_0/lstm_cell/kernel": (1025, 4096),
            "decoder/hierarchical_level_0/cell_1/lstm_cell/kernel": (2048, 4096),
            "core_decoder/decoder/z_to_initial_state/kernel": (1024, 4096),
            "core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel": (2138, 4096),
            "core_decoder/decoder/output_projection/kernel": (1024, 90),
        },
    }
    for preset, shapes in expected.items():
        table = {row.tf_name: row.tf_shape for row in conversion_table(PRESETS[preset])}
        for name, shape in shapes.items():
            assert table[name] == shape, (preset, name)
        # every TF variable once; the float count is Magenta's trainable parameter count
        count = sum(int(np.prod(shape)) for shape in table.values())
        assert count == {"cat-mel_2bar_big": 134_571_098, "cat-mel_2bar_small": 4_423_770}.get(preset, count)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_table_fills_every_parameter_exactly_once(preset: str) -> None:
    with torch.device("meta"):
        module = MusicVAE(PRESETS[preset])
    keys = [row.key for row in conversion_table(PRESETS[preset])]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(module.state_dict())


def test_infer_config_from_shapes() -> None:
    for name, config in PRESETS.items():
        shapes = {row.tf_name: row.tf_shape for row in conversion_table(config)}
        assert infer_config(shapes) == config, name


# --------------------------------------------------------------------------- parity with Magenta


@pytest.mark.parametrize("name", MODELS)
def test_encoder_matches_magenta(magenta_fixtures: Path, converted: dict, name: str) -> None:
    module, _ = converted[name]
    ref = _reference(magenta_fixtures, name)
    with torch.inference_mode():
        x = torch.from_numpy(ref["inputs"]).long()
        np.testing.assert_allclose(module.encoder_output(x).numpy(), ref["enc_output"], rtol=0, atol=1e-5)
        mu, sigma = module.encode(x)
        np.testing.assert_allclose(mu.numpy(), ref["mu"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(sigma.numpy(), ref["sigma"], rtol=0, atol=1e-5)
        # variable lengths: the encoder reads only the first `length` steps
        vx = torch.from_numpy(ref["varlen_inputs"]).long()
        vl = torch.from_numpy(ref["varlen_lengths"]).long()
        assert int(vl.min()) < vx.shape[1]
        np.testing.assert_allclose(
            module.encoder_output(vx, vl).numpy(), ref["varlen_enc_output"], rtol=0, atol=1e-5
        )
        vmu, vsigma = module.encode(vx, vl)
        np.testing.assert_allclose(vmu.numpy(), ref["varlen_mu"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(vsigma.numpy(), ref["varlen_sigma"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_teacher_forced_logits_match_magenta(magenta_fixtures: Path, converted: dict, name: str) -> None:
    module, _ = converted[name]
    ref = _reference(magenta_fixtures, name)
    with torch.inference_mode():
        x = torch.from_numpy(ref["inputs"]).long()
        logits = module.decode_teacher_forced(torch.from_numpy(ref["mu"]), x)
        np.testing.assert_allclose(logits.numpy(), ref["tf_logits"], rtol=0, atol=1e-4)
        # summed over up to 256 steps: accumulate in float64 to stay within 1e-4 of TF's value
        r_loss = reconstruction_loss(logits.double(), x).numpy()
    np.testing.assert_allclose(r_loss, ref["tf_r_loss"], rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_near_argmax_decodes_match_magenta(magenta_fixtures: Path, converted: dict, name: str) -> None:
    module, _ = converted[name]
    ref = _reference(magenta_fixtures, name)
    z = torch.from_numpy(ref["dec_z"])
    steps = ref["dec_samples"].shape[1]
    with torch.inference_mode():
        classes, logits = module.sample(
            z, steps, float(ref["dec_temperature"]), torch.Generator().manual_seed(0)
        )
    np.testing.assert_array_equal(classes.numpy(), ref["dec_samples"])  # every row, every step
    np.testing.assert_allclose(logits.numpy(), ref["dec_logits"], rtol=0, atol=5e-4)


@pytest.mark.parametrize("variant", [".train-raw.tar", ".snappy-index.tar"])
def test_variants_convert_to_the_same_weights(magenta_fixtures: Path, converted: dict, variant: str) -> None:
    module, _ = converted["cat-mel_2bar_big-tiny"]
    other, metadata = convert_checkpoint(magenta_fixtures / "models" / f"cat-mel_2bar_big-tiny{variant}")
    assert metadata["global_step"] == 300
    for key, value in module.state_dict().items():
        torch.testing.assert_close(other.state_dict()[key], value, rtol=0, atol=0)


def test_raw_hierarchical_checkpoint_ignores_adam_slots(magenta_fixtures: Path, converted: dict) -> None:
    module, _ = converted["hierdec-mel_16bar-tiny"]
    other, metadata = convert_checkpoint(magenta_fixtures / "models" / "hierdec-mel_16bar-tiny.train-raw.tar")
    assert metadata["global_step"] == 1500
    for key, value in module.state_dict().items():
        torch.testing.assert_close(other.state_dict()[key], value, rtol=0, atol=0)


def test_metadata_and_inferred_configs(converted: dict) -> None:
    module, metadata = converted["cat-mel_2bar_small"]
    assert module.config == PRESETS["cat-mel_2bar_small"]
    assert metadata["preset"] == "cat-mel_2bar_small"
    assert metadata["global_step"] == 300
    assert converted["hierdec-mel_16bar-tiny"][0].config == MusicVAEConfig(
        z_size=32, enc_rnn_size=(64, 64), dec_rnn_size=(64, 64), max_seq_len=256, level_lengths=(16, 16)
    )
    assert converted["flat-mel_16bar-tiny"][0].config.max_seq_len == 256
    assert converted["cat-mel_2bar_big-tiny"][0].config.max_seq_len == 32


# --------------------------------------------------------------------------- strictness


def test_wrong_config_names_tensor_and_both_shapes(magenta_fixtures: Path) -> None:
    tar = magenta_fixtures / "models" / "cat-mel_2bar_big-tiny.tar"
    name = "encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"
    with pytest.raises(
        CheckpointMismatchError,
        match=rf"{name}: checkpoint has shape \(218, 512\), config needs \(602, 2048\)",
    ):
        convert_checkpoint(tar, preset="cat-mel_2bar_small")
    with pytest.raises(ValueError, match="unknown preset 'mel_2bar'"):
        convert_checkpoint(tar, preset="mel_2bar")


def test_missing_and_unused_tensors_are_named(magenta_fixtures: Path) -> None:
    tensors = read_checkpoint(magenta_fixtures / "models" / "cat-mel_2bar_big-tiny.tar")
    config = infer_config({k: v.shape for k, v in tensors.items()})
    convert_state(tensors, config)  # complete: fine
    del tensors["decoder/output_projection/bias"]
    tensors["decoder/extra/kernel"] = np.zeros((3, 4), dtype=np.float32)
    tensors["decoder/output_projection/kernel/Adam"] = np.zeros((128, 90), dtype=np.float32)  # ignored
    with pytest.raises(CheckpointMismatchError) as exc:
        convert_state(tensors, config)
    message = str(exc.value)
    assert "missing TF variable decoder/output_projection/bias (config needs shape (90,))" in message
    assert "unused TF variable decoder/extra/kernel with shape (3, 4)" in message
    assert "Adam" not in message


# --------------------------------------------------------------------------- the command


def test_convert_command_writes_a_loadable_model(
    magenta_fixtures: Path, converted: dict, tmp_path: Path
) -> None:
    tar = magenta_fixtures / "models" / "hierdec-mel_16bar-tiny.tar"
    out = tmp_path / "model"
    assert main(["convert", str(tar), str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["level_lengths"] == [16, 16]
    assert config["metadata"]["global_step"] == 1500
    assert main(["convert", str(tar), str(out)]) == 2  # refuses to overwrite: a user error
    assert main(["convert", str(tar), str(out), "--overwrite"]) == 0
    assert main(["convert", str(tar), str(tmp_path / "bad"), "--preset", "hierdec-mel_16bar"]) == 2
    assert not (tmp_path / "bad" / "config.json").exists()
    from safetensors.torch import load_file

    weights = load_file(str(out / "weights.safetensors"))
    for key, value in converted["hierdec-mel_16bar-tiny"][0].state_dict().items():
        torch.testing.assert_close(weights[key], value, rtol=0, atol=0)

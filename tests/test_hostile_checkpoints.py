"""Hostile or unlucky model files and options: each gets a clear error naming the file (and the tensor or
field), never a crash, a silent corruption or a huge allocation. The inputs are built here, on the fly."""

from __future__ import annotations

import gzip
import io
import json
import logging
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from musicneurons.cli import main
from musicneurons.device import resolve_device
from musicneurons.errors import UserError
from musicneurons.model import checkpoints
from musicneurons.model.checkpoints import CheckpointMismatchError, save_model
from musicneurons.model.config import ConfigError
from musicneurons.model.convert import infer_config
from musicneurons.model.inference import TrainedModel
from musicneurons.model.load import load_model, load_module
from musicneurons.model.musicvae import MusicVAE, MusicVAEConfig
from musicneurons.model.tf import CheckpointFormatError, read_checkpoint
from musicneurons.model.weights_file import WeightsFileError

CFG = MusicVAEConfig(z_size=4, enc_rnn_size=(8,), dec_rnn_size=(8,), max_seq_len=32)
TINY = "cat-mel_2bar_big-tiny"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return save_model(MusicVAE(CFG, generator=torch.Generator().manual_seed(0)), tmp_path / "m")


def _data_start(path: Path) -> int:
    (n,) = struct.unpack("<Q", path.read_bytes()[:8])
    return 8 + n


def _offsets(path: Path, name: str) -> tuple[int, int]:
    (n,) = struct.unpack("<Q", path.read_bytes()[:8])
    header = json.loads(path.read_bytes()[8 : 8 + n])
    begin, end = header[name]["data_offsets"]
    return 8 + n + begin, 8 + n + end


# --------------------------------------------------------------------------- checksums


def test_checksum_is_written_per_tensor(folder: Path) -> None:
    weights = folder / "weights.safetensors"
    with safe_open(str(weights), "pt") as f:
        digests = json.loads(f.metadata()["sha256"])
        assert set(digests) == set(f.keys())
        import hashlib

        bias = f.get_tensor("mu.bias").numpy()
        assert digests["mu.bias"] == hashlib.sha256(bias.tobytes()).hexdigest()


def test_flipped_bit_names_file_and_tensor(folder: Path) -> None:
    weights = folder / "weights.safetensors"
    begin, _ = _offsets(weights, "sigma.weight")
    blob = bytearray(weights.read_bytes())
    blob[begin + 5] ^= 0x01  # one bit of one float
    weights.write_bytes(bytes(blob))
    with pytest.raises(WeightsFileError, match=rf"{weights}: tensor 'sigma.weight' fails its SHA-256 check"):
        load_model(folder, device="cpu")


def test_old_folder_without_checksums_loads_with_a_warning(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weights = folder / "weights.safetensors"
    module = MusicVAE(CFG, generator=torch.Generator().manual_seed(0))
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(weights), metadata={"x": "1"})
    with caplog.at_level(logging.WARNING, logger="musicneurons.model.checkpoints"):
        loaded, _ = load_module(folder)
    assert "carries no checksums" in caplog.text
    assert str(weights) in caplog.text
    torch.testing.assert_close(loaded.state_dict()["mu.weight"], module.state_dict()["mu.weight"])


def test_shipped_models_carry_checksums() -> None:
    from musicneurons.model.registry import EMBEDDED_MODELS_DIR

    for name in ("default-2bar", "default-16bar"):
        with safe_open(str(EMBEDDED_MODELS_DIR / name / "weights.safetensors"), "pt") as f:
            assert "sha256" in f.metadata(), name


# --------------------------------------------------------------------------- config.json


def _write_config(folder: Path, doc: object) -> None:
    (folder / "config.json").write_text(json.dumps(doc))


def _doc(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"z_size": "4"}, "z_size must be an integer, got '4'"),
        ({"z_size": True}, "z_size must be an integer, got True"),
        ({"z_size": -3}, "z_size must be >= 1"),
        ({"z_size": 10**9}, r"z_size must be >= 1 and <= 1048576, got 1000000000"),
        ({"enc_rnn_size": 8}, "enc_rnn_size must be a list of integers, got 8"),
        ({"dec_rnn_size": [8, "x"]}, "dec_rnn_size must be a list of integers"),
        ({"level_lengths": [2, 2]}, r"level_lengths \(2, 2\) multiply to 4, but max_seq_len is 32"),
        ({"colour": "blue"}, "unknown config key"),
    ],
)
def test_bad_config_fields_are_named(folder: Path, change: dict, message: str) -> None:
    doc = _doc(folder)
    doc["config"].update(change)
    _write_config(folder, doc)
    with pytest.raises(ConfigError, match=rf"{folder / 'config.json'}: .*{message}"):
        load_model(folder, device="cpu")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON"),
        ("{'format': 1", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"format": "musicneurons-musicvae/1"}', "the config must be a JSON object, got NoneType"),
        ('{"format": "musicneurons-musicvae/1", "config": {"z_size": 4}}', "lacks dec_rnn_size"),
        ('{"format": "musicneurons-musicvae/1", "config": {}, "metadata": 3}', "metadata must be a JSON"),
    ],
)
def test_broken_config_json_is_named(folder: Path, text: str, message: str) -> None:
    (folder / "config.json").write_text(text)
    with pytest.raises(ConfigError, match=message) as exc:
        load_model(folder, device="cpu")
    assert str(folder / "config.json") in str(exc.value)
    (folder / "config.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_model(folder, device="cpu")


def test_large_config_is_refused_before_anything_is_built(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # z_size 10^6 is a legal size, but the weights file holds z_size 4: refused from the header's shapes alone
    def must_not_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was built before the config was checked")

    monkeypatch.setattr(checkpoints, "build_with_weights", must_not_build)
    doc = _doc(folder)
    doc["config"]["z_size"] = 10**6
    _write_config(folder, doc)
    with pytest.raises(
        CheckpointMismatchError, match=r"mu.weight: file has \(4, 16\), config needs \(1000000, 16\)"
    ):
        load_module(folder)


# --------------------------------------------------------------------------- weights.safetensors


def test_missing_weights_file(folder: Path) -> None:
    (folder / "weights.safetensors").unlink()
    with pytest.raises(UserError, match=r"weights.safetensors: missing"):
        load_model(folder, device="cpu")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b, s: b"", "0 bytes is too short"),
        (lambda b, s: b[:5], "5 bytes is too short"),
        (lambda b, s: struct.pack("<Q", 2**60) + b[8:], "header length 1152921504606846976 exceeds the file"),
        (lambda b, s: b[:8] + b"\x00" * (s - 8) + b[s:], "the header is not valid JSON"),
        (lambda b, s: b[: len(b) - 100], "lie outside the file .*truncated"),
    ],
    ids=["empty", "short", "huge-header", "zeroed-header", "truncated"],
)
def test_damaged_weights_file_is_named(folder: Path, mutate, message: str) -> None:
    weights = folder / "weights.safetensors"
    blob = weights.read_bytes()
    weights.write_bytes(mutate(blob, _data_start(weights)))
    with pytest.raises(WeightsFileError, match=message) as exc:
        load_model(folder, device="cpu")
    assert str(weights) in str(exc.value)


def test_header_shape_and_size_disagree(folder: Path) -> None:
    weights = folder / "weights.safetensors"
    blob = weights.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    header["mu.bias"]["shape"] = [5]  # 4 floats of data, 5 announced
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (n - len(text))
    assert len(text) == n
    weights.write_bytes(blob[:8] + text + blob[8 + n :])
    with pytest.raises(
        WeightsFileError, match=r"tensor 'mu.bias': shape \(5,\) x F32 needs 20 bytes, the header"
    ):
        load_model(folder, device="cpu")
    header["mu.bias"]["shape"] = [4]
    header["mu.bias"]["dtype"] = "I64"
    text = json.dumps(header, separators=(",", ":")).encode()
    weights.write_bytes(blob[:8] + text + b" " * (n - len(text)) + blob[8 + n :])
    with pytest.raises(WeightsFileError, match="tensor 'mu.bias': dtype 'I64' is not one of"):
        load_model(folder, device="cpu")


# --------------------------------------------------------------------------- TF checkpoints and tars


def _tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_compressed_tar_is_capped(tmp_path: Path) -> None:
    bomb = _tar_gz(
        tmp_path / "bomb.tar.gz", {"m.ckpt.index": b"x" * 100, "m.ckpt.data-00000-of-00001": bytes(20 << 20)}
    )
    assert bomb.stat().st_size < 100_000  # 20 MB of zeros compress ~1000:1
    with pytest.raises(
        CheckpointFormatError, match=r"bomb.tar.gz: its checkpoint members decompress to 20971620"
    ):
        read_checkpoint(bomb)


def test_genuine_compressed_tar_still_loads(magenta_fixtures: Path, tmp_path: Path) -> None:
    src = magenta_fixtures / "models" / f"{TINY}.tar"
    packed = tmp_path / "tiny.tar.gz"
    packed.write_bytes(gzip.compress(src.read_bytes()))
    a, b = read_checkpoint(packed), read_checkpoint(src)
    assert sorted(a) == sorted(b)
    np.testing.assert_array_equal(a["encoder/mu/bias"], b["encoder/mu/bias"])


def test_tar_that_is_not_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.tar"
    with tarfile.open(notes, "w") as tar:
        info = tarfile.TarInfo("readme.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with pytest.raises(
        CheckpointFormatError, match=r"notes.tar: no .index file found: not a TF v1 checkpoint"
    ):
        load_model(notes, device="cpu")
    fake = tmp_path / "fake.tar"
    fake.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(CheckpointFormatError, match=r"fake.tar: not a TF checkpoint: neither a tar archive"):
        load_model(fake, device="cpu")
    for bad in (notes, fake):
        assert main(["convert", str(bad), str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0
        assert str(bad) in err
        assert "Traceback" not in err


def test_odd_variable_shapes_are_a_mismatch_not_a_crash() -> None:
    fw = "encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"
    with pytest.raises(CheckpointMismatchError, match="not a MusicVAE checkpoint"):
        infer_config({fw: (8,), "encoder/mu/kernel": (4, 2)})
    with pytest.raises(ConfigError, match="num_classes must be >= 1"):
        infer_config(
            {
                fw: (4, 32),
                "encoder/mu/kernel": (16, 2),
                "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel": (9, 4),
            }
        )


# --------------------------------------------------------------------------- devices and latents


def test_device_errors_are_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("tpu", "gpu", "cuda:x"):
        with pytest.raises(UserError, match=rf"--device '{name}' is not supported: use auto, cpu, cuda"):
            resolve_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="--device cuda was asked for, but this PyTorch build sees no CUDA"):
        resolve_device("cuda")
    with pytest.raises(UserError, match="--device cuda:1 was asked for"):
        TrainedModel(MusicVAE(CFG), device="cuda:1")
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])
def test_non_finite_latents_are_refused(bad: float) -> None:
    model = TrainedModel(MusicVAE(CFG), device="cpu")
    z = np.zeros((3, 4))
    z[1, 2] = bad
    with pytest.raises(UserError, match=r"z row 1, dim 2 is .* 1 of 3 rows are not finite"):
        model.decode(z)
    with pytest.raises(UserError, match="latents must be finite"):
        model.reconstruct(np.zeros((3, 32), dtype=np.int8), z=z)

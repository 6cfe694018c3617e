"""The TensorFlow-free checkpoint reader: codecs on published test vectors, every fixture bundle against the
tensor listings written by TensorFlow, and corrupted bundles that must fail with the tensor or file named."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

import musicneurons.model.tf.crc as tf_crc
import musicneurons.model.tf.snappy as tf_snappy
from musicneurons.model.tf import (
    CheckpointFormatError,
    crc32c,
    mask_crc,
    open_checkpoint,
    read_checkpoint,
    snappy_decompress,
    unmask_crc,
)

BUNDLES = [
    ("cat-mel_2bar_small", ".tar", "stripped"),
    ("cat-mel_2bar_big-tiny", ".tar", "stripped"),
    ("cat-mel_2bar_big-tiny", ".train-raw.tar", "raw"),
    ("cat-mel_2bar_big-tiny", ".snappy-index.tar", "stripped"),
    ("flat-mel_16bar-tiny", ".tar", "stripped"),
    ("hierdec-mel_16bar-tiny", ".tar", "stripped"),
    ("hierdec-mel_16bar-tiny", ".train-raw.tar", "raw"),
]
TINY = "cat-mel_2bar_big-tiny"
BIAS = "encoder/mu/bias"


# --------------------------------------------------------------------------- codecs


@pytest.mark.parametrize("crc", [crc32c, tf_crc.crc32c_numpy], ids=["default", "numpy"])
def test_crc32c_published_vectors(crc) -> None:
    # the CRC-32C check value and the iSCSI vectors of RFC 3720, appendix B.4
    assert crc(b"123456789") == 0xE3069283
    assert crc(bytes(32)) == 0x8A9136AA
    assert crc(b"\xff" * 32) == 0x62A8AB43
    assert crc(bytes(range(32))) == 0x46DD794E
    assert crc(bytes(range(31, -1, -1))) == 0x113FDB5C
    assert crc(b"") == 0


def test_crc32c_vectorised_path_matches_byte_loop() -> None:
    # long inputs go through lanes merged with zero-extension operators; the byte loop is checked above
    rng = np.random.default_rng(0)
    for n in (tf_crc._SMALL, 100_003, 1_048_576 + 5):
        data = rng.integers(0, 256, n, dtype=np.uint8)
        expected = tf_crc._raw_crc_small(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
        assert tf_crc.crc32c_numpy(data) == expected, n
        assert crc32c(data) == expected, n  # google-crc32c when installed
        assert crc32c(data[1:]) == tf_crc._raw_crc_small(data[1:], 0xFFFFFFFF) ^ 0xFFFFFFFF, (
            n
        )  # unaligned view


def test_crc_mask_roundtrip() -> None:
    for crc in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert unmask_crc(mask_crc(crc)) == crc
    assert mask_crc(0) == 0xA282EAD8  # rotation of 0 is 0, plus LevelDB's constant


def test_snappy_literal_and_copies() -> None:
    # hand-assembled raw Snappy streams: length varint, then tagged elements
    assert snappy_decompress(b"\x0c\x08abc\x15\x03") == b"abcabcabcabc"  # literal 3 + overlapping 1-byte copy
    literal = bytes(range(70))
    stream = b"\x50" + b"\xf0\x45" + literal + b"\x26\x46\x00"  # literal of 70 (1 length byte) + 2-byte copy
    assert snappy_decompress(stream) == literal + literal[:10]
    stream = b"\x0a" + b"\x04ab" + b"\x1f\x02\x00\x00\x00"  # literal 2 + 4-byte-offset copy of 8
    assert snappy_decompress(stream) == b"ab" * 5
    with pytest.raises(CheckpointFormatError, match="offset 5 outside the 3 bytes"):
        snappy_decompress(b"\x08\x08abc\x05\x05")
    with pytest.raises(CheckpointFormatError, match="decodes to 3 bytes, header says 9"):
        snappy_decompress(b"\x09\x08abc")


# --------------------------------------------------------------------------- the fixture bundles


@pytest.mark.parametrize(("model", "suffix", "listing"), BUNDLES, ids=[m + s for m, s, _ in BUNDLES])
def test_every_tensor_matches_tensorflows_listing(
    magenta_fixtures: Path, model: str, suffix: str, listing: str
) -> None:
    models = magenta_fixtures / "models"
    expected = json.loads((models / f"{model}.tensors.json").read_text())[listing]
    tensors = read_checkpoint(models / f"{model}{suffix}")
    assert sorted(tensors) == sorted(e["name"] for e in expected)
    for e in expected:
        a = tensors[e["name"]]
        assert list(a.shape) == e["shape"], e["name"]
        assert str(a.dtype) == e["dtype"], e["name"]
        if "value" in e:
            assert a.item() == e["value"], e["name"]
            continue
        assert a.astype(np.float64).sum() == pytest.approx(e["sum"], rel=1e-9, abs=1e-9), e["name"]
        assert (a.astype(np.float64) ** 2).sum() == pytest.approx(e["sum_sq"], rel=1e-9), e["name"]
        np.testing.assert_array_equal(a.ravel()[:4], np.float32(e["first"]))


def test_snappy_index_block_is_decoded(magenta_fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = tf_snappy.snappy_decompress
    monkeypatch.setattr(tf_snappy, "snappy_decompress", lambda raw: calls.append(len(raw)) or real(raw))
    models = magenta_fixtures / "models"
    snappy = read_checkpoint(models / f"{TINY}.snappy-index.tar")
    assert calls, "the .snappy-index.tar variant must go through the Snappy decoder"
    plain = read_checkpoint(models / f"{TINY}.tar")
    assert len(calls) == 1  # the plain bundle's blocks are uncompressed
    assert sorted(snappy) == sorted(plain)
    for name in plain:
        np.testing.assert_array_equal(snappy[name], plain[name])


def _extract(tar: Path, dest: Path) -> Path:
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")
    return dest


def test_directory_prefix_and_state_file(magenta_fixtures: Path, tmp_path: Path) -> None:
    models = magenta_fixtures / "models"
    expected = read_checkpoint(models / f"{TINY}.tar")
    folder = _extract(models / f"{TINY}.tar", tmp_path / "dir")
    for source in (folder, folder / f"{TINY}.ckpt"):
        got = read_checkpoint(source)
        assert sorted(got) == sorted(expected)
        np.testing.assert_array_equal(got[BIAS], expected[BIAS])
    # two checkpoints in one folder: TF's `checkpoint` state file decides, else the highest step
    raw = _extract(models / f"{TINY}.train-raw.tar", tmp_path / "two")
    for member in folder.iterdir():
        shutil.copy(member, raw / member.name)
    with open_checkpoint(raw) as bundle:
        assert Path(bundle.prefix).name == "model.ckpt-300"
    (raw / "checkpoint").write_text(f'model_checkpoint_path: "{TINY}.ckpt"\n')
    with open_checkpoint(raw) as bundle:
        assert Path(bundle.prefix).name == f"{TINY}.ckpt"
        assert "beta1_power" not in bundle.entries


def test_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a TF checkpoint"):
        read_checkpoint(tmp_path / "nothing")
    (tmp_path / "x.index").write_bytes(b"\0" * 100)
    with pytest.raises(CheckpointFormatError, match="bad SSTable magic"):
        read_checkpoint(tmp_path / "x")


# --------------------------------------------------------------------------- corruption


def _member_offset(tar: Path, suffix: str) -> tuple[int, int]:
    with tarfile.open(tar) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(suffix))
        return member.offset_data, member.size


def test_flipped_data_byte_names_the_tensor(magenta_fixtures: Path, tmp_path: Path) -> None:
    src = magenta_fixtures / "models" / f"{TINY}.tar"
    with open_checkpoint(src) as bundle:
        entry = bundle.entries[BIAS]
    data_offset, _ = _member_offset(src, ".data-00000-of-00001")
    bad = tmp_path / "flipped.tar"
    blob = bytearray(src.read_bytes())
    blob[data_offset + entry.offset + 5] ^= 0x10
    bad.write_bytes(bytes(blob))
    with open_checkpoint(bad) as bundle:
        bundle.read("encoder/sigma/bias")  # other tensors still read
        with pytest.raises(CheckpointFormatError, match=f"tensor '{BIAS}': crc32c mismatch in .*flipped.tar"):
            bundle.read(BIAS)
        assert bundle.read(BIAS, verify=False).shape == entry.shape


def test_flipped_index_byte_names_the_index(magenta_fixtures: Path, tmp_path: Path) -> None:
    src = magenta_fixtures / "models" / f"{TINY}.tar"
    index_offset, _ = _member_offset(src, ".index")
    bad = tmp_path / "flipped-index.tar"
    blob = bytearray(src.read_bytes())
    blob[index_offset + 40] ^= 0x01  # inside the first data block
    bad.write_bytes(bytes(blob))
    with pytest.raises(
        CheckpointFormatError, match=r"flipped-index.tar:.*\.index: crc32c mismatch in the index block"
    ):
        read_checkpoint(bad)


def test_truncated_data_file_names_the_file(magenta_fixtures: Path, tmp_path: Path) -> None:
    folder = _extract(magenta_fixtures / "models" / f"{TINY}.tar", tmp_path / "ckpt")
    data = folder / f"{TINY}.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(
        CheckpointFormatError, match=f"of {data}, which has only .* the data file is truncated"
    ):
        read_checkpoint(folder)
    data.unlink()
    with pytest.raises(CheckpointFormatError, match=f"{data}: checkpoint file is missing"):
        read_checkpoint(folder)


def test_truncated_tar_names_the_file(magenta_fixtures: Path, tmp_path: Path) -> None:
    src = magenta_fixtures / "models" / f"{TINY}.tar"
    folder = _extract(src, tmp_path / "ckpt")
    data = folder / f"{TINY}.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    repacked = tmp_path / "short-member.tar"
    with tarfile.open(repacked, "w") as t:
        for member in sorted(folder.iterdir()):
            t.add(member, arcname=member.name)
    with pytest.raises(
        CheckpointFormatError, match=r"short-member\.tar:.*data-00000-of-00001, which has only 1000"
    ):
        read_checkpoint(repacked)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])  # the download stopped half-way
    with pytest.raises(CheckpointFormatError, match=r"cut\.tar"):
        read_checkpoint(cut)

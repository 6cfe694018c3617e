"""Benchmark: loading a full-size model, from Magenta's TF bundle and from our safetensors folder.

It writes a ``cat-mel_2bar_big``-shaped TF v1 bundle (134.6 M random float32 weights, 538 MB, Magenta's
variable names; the SSTable index and the masked crc32c of every block and tensor as TensorFlow writes them),
loads it with ``load_module`` (crc32c verified, converted, built), saves it in our format and loads that too.
Each is set beside the previous implementation, re-enacted step by step: every tensor copied out of the
bundle and checked by the pure-NumPy crc32c, a randomly initialised model, ``load_state_dict`` copies; for our
format ``safetensors.torch.load_file`` (a full read) and the same random init and copy.

Run:  .venv/bin/python bench/bench_load.py [--dir /tmp/bench_load] [--repeat 3] [--skip-previous]
Targets: TF bundle <= 1.5 s, our format <= 1 s. Times are the best of ``--repeat`` (the machine is shared);
the CPU model and load average are printed with them. The files stay in ``--dir`` for reruns (``--keep``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from machine import cpu_model
from musicneurons.model import checkpoints
from musicneurons.model.convert import conversion_table, convert_state
from musicneurons.model.load import load_module
from musicneurons.model.musicvae import MusicVAE
from musicneurons.model.registry import PRESETS
from musicneurons.model.tf import bundle as tf_bundle
from musicneurons.model.tf.crc import crc32c, crc32c_numpy, mask_crc

# --------------------------------------------------------------------------- writing a TF v1 bundle


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(int(payload))  # type: ignore[arg-type]
    if wire == 5:
        return key + struct.pack("<I", payload)
    return key + _varint(len(payload)) + payload  # type: ignore[arg-type]


TF_DTYPES = {np.dtype("<f4"): 1, np.dtype("<i8"): 9}  # DT_FLOAT, DT_INT64


def _entry(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    """A BundleEntryProto: dtype, shape, shard 0, offset, size, masked crc32c."""
    dims = b"".join(_field(2, 2, _field(1, 0, d)) for d in shape)
    head = _field(1, 0, dtype) + _field(2, 2, dims)
    return head + _field(4, 0, offset) + _field(5, 0, size) + _field(6, 5, crc)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    """An SSTable block without key prefix sharing (one restart point per entry)."""
    body, restarts = bytearray(), []
    for key, value in entries:
        restarts.append(len(body))
        body += _varint(0) + _varint(len(key)) + _varint(len(value)) + key + value
    body += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(body)


def _append_block(out: bytearray, block: bytes) -> bytes:
    """Append block + trailer (type 0, masked crc32c); returns its BlockHandle."""
    handle = _varint(len(out)) + _varint(len(block))
    out += block + b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00")))
    return handle


def write_bundle(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write ``prefix.index`` and ``prefix.data-00000-of-00001`` holding float32 / int64 ``tensors``."""
    entries = [(b"", _field(1, 0, 1))]  # BundleHeaderProto: num_shards 1, little-endian
    offset = 0
    with open(f"{prefix}.data-00000-of-00001", "wb") as data:
        for name in sorted(tensors):
            raw = np.asarray(tensors[name], order="C")  # (ascontiguousarray would make scalars 1-d)
            data.write(raw.tobytes())
            crc = mask_crc(crc32c(raw))
            entries.append((name.encode(), _entry(TF_DTYPES[raw.dtype], raw.shape, offset, raw.nbytes, crc)))
            offset += raw.nbytes
    index = bytearray()
    data_handle = _append_block(index, _block(entries))
    meta_handle = _append_block(index, _block([]))
    index_handle = _append_block(index, _block([(entries[-1][0] + b"\x00", data_handle)]))
    footer = (meta_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    Path(f"{prefix}.index").write_bytes(bytes(index) + footer)


def random_tf_tensors(preset: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights under Magenta's variable names for a preset, plus ``global_step``."""
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    for row in conversion_table(PRESETS[preset]):
        if row.tf_name not in tensors:
            tensors[row.tf_name] = (0.05 * rng.standard_normal(row.tf_shape, dtype=np.float32)).astype("<f4")
    return tensors


# --------------------------------------------------------------------------- the previous implementation


def previous_tf_load(prefix: Path) -> MusicVAE:
    """The previous path: copied tensors checked by the NumPy crc32c, random init, load_state_dict copy."""
    real = tf_bundle.crc32c
    tf_bundle.crc32c = crc32c_numpy
    try:
        tensors = tf_bundle.read_checkpoint(prefix)
    finally:
        tf_bundle.crc32c = real
    config = PRESETS["cat-mel_2bar_big"]
    state = convert_state({k: v for k, v in tensors.items() if k != "global_step"}, config)
    module = MusicVAE(config)
    checkpoints.load_state_dict_strict(module, state, str(prefix))
    return module


def previous_folder_load(folder: Path) -> MusicVAE:
    """The previous path for our format: a full read, random init, load_state_dict copy."""
    from safetensors.torch import load_file

    config, _ = checkpoints.read_config(folder)
    module = MusicVAE(config)
    checkpoints.load_state_dict_strict(module, load_file(str(folder / "weights.safetensors")), str(folder))
    return module


# --------------------------------------------------------------------------- timing


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that call: user + system, all threads)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        r0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = fn()
        wall, r1 = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        best = min(best, (wall, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime))
        del result
    return best


FIRST_LOAD = """
import resource, sys, time
from musicneurons.model.load import load_module
r0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
load_module(sys.argv[1], preset=sys.argv[2] or None)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - start, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
"""


def first_load(path: Path, preset: str) -> tuple[float, float]:
    """(wall, CPU) seconds of the first load in a fresh Python process (imports done before the clock)."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_LOAD, str(path), preset], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="where to write the bundle (default: a temporary folder)")
    parser.add_argument("--repeat", type=int, default=3, help="timed loads per setting (best kept)")
    parser.add_argument("--skip-previous", action="store_true", help="time only the current implementation")
    parser.add_argument("--keep", action="store_true", help="keep the files for the next run")
    args = parser.parse_args()

    work = Path(args.dir or tempfile.mkdtemp(prefix="bench_load_"))
    work.mkdir(parents=True, exist_ok=True)
    prefix = work / "cat-mel_2bar_big.ckpt"
    if not Path(f"{prefix}.index").exists():
        start = time.perf_counter()
        tensors = random_tf_tensors("cat-mel_2bar_big")
        tensors["global_step"] = np.array(200_000, dtype="<i8")
        write_bundle(prefix, tensors)
        del tensors
        print(f"wrote {prefix}.* in {time.perf_counter() - start:.1f} s")
    size = Path(f"{prefix}.data-00000-of-00001").stat().st_size
    native = "google-crc32c" if tf_bundle.crc32c is not crc32c_numpy and _has_native() else "NumPy"
    print(
        f"CPU {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, crc32c via {native}, "
        f"bundle {size / 1e6:.0f} MB, load average {os.getloadavg()[0]:.1f}"
    )
    folder = work / "ours"
    if not (folder / "config.json").exists():
        module, meta = load_module(prefix, preset="cat-mel_2bar_big")
        checkpoints.save_model(module, folder, meta)
        del module
    sources: dict[str, tuple[Path, str, float, Callable[[Path], MusicVAE]]] = {
        "TF bundle": (prefix, "cat-mel_2bar_big", 1.5, previous_tf_load),
        "our folder": (folder, "", 1.0, previous_folder_load),
    }
    print(
        f"{'load -> MusicVAE':<16} {'first (fresh process)':>22} {'best in process':>16} {'target':>7} "
        f"{'previous':>16} {'speed-up':>8}"
    )
    for name, (path, preset, target, previous) in sources.items():
        first = first_load(path, preset)
        best = best_time(lambda: load_module(path, preset=preset or None), args.repeat)  # noqa: B023
        prev = None if args.skip_previous else best_time(lambda: previous(path), max(1, args.repeat - 1))  # noqa: B023
        tail = (
            f"{prev[0]:>6.2f} s ({prev[1]:.2f} CPU) {prev[0] / best[0]:>7.1f}x"
            if prev
            else f"{'-':>16} {'-':>8}"
        )
        print(
            f"{name:<16} {first[0]:>7.2f} s ({first[1]:.2f} CPU) {best[0]:>6.2f} s ({best[1]:.2f} CPU) "
            f"{target:>6.1f}s {tail}",
            flush=True,
        )
    if not args.skip_previous:  # the two implementations give the same weights, bit for bit
        a, _ = load_module(prefix, preset="cat-mel_2bar_big")
        b = previous_tf_load(prefix)
        assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if not args.keep and args.dir is None:
        shutil.rmtree(work)


def _has_native() -> bool:
    from musicneurons.model.tf import crc

    return crc._NATIVE is not None


if __name__ == "__main__":
    main()

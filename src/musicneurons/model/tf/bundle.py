"""Read TensorFlow v1 checkpoints (tensor bundles) without TensorFlow: ``{name: numpy array}``.

A checkpoint prefix P is ``P.index`` (see ``sstable.py``) plus ``P.data-SSSSS-of-NNNNN`` shards holding the
raw little-endian tensor bytes. Accepted inputs: a ``.tar`` as Magenta releases them (read in place through a
memory map, nothing extracted), a directory holding one checkpoint (or a ``checkpoint`` state file naming it),
or a prefix. Every block and every tensor read is checked against its crc32c; errors name the file and the
tensor.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import re
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from musicneurons.model.tf.crc import crc32c, unmask_crc
from musicneurons.model.tf.sstable import TensorEntry, parse_index
from musicneurons.model.tf.wire import CheckpointFormatError

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- locating the files


def _shard_name(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def _ckpt_step(name: str) -> int:
    m = re.search(r"-(\d+)$", name)
    return int(m.group(1)) if m else -1


def _choose_prefix(index_names: list[str], where: str) -> str:
    if not index_names:
        msg = f"{where}: no .index file found: not a TF v1 checkpoint"
        raise CheckpointFormatError(msg)
    prefixes = sorted((n[: -len(".index")] for n in index_names), key=lambda p: (_ckpt_step(p), p))
    if len(prefixes) > 1:
        log.info("%s holds %d checkpoints; using the latest, %s", where, len(prefixes), prefixes[-1])
    return prefixes[-1]


_COMPRESSED_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ")  # gzip, bzip2, xz


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    if f is None:  # pragma: no cover - regular members always have a file object
        msg = f"tar member {member.name} cannot be read"
        raise CheckpointFormatError(msg)
    return f.read()


MAX_EXPANSION = 16  # a compressed tar may decompress to at most this many times its size (+ 1 MiB)


class _Source:
    """Byte access to the checkpoint's files, on disk or inside an uncompressed tar (memory-mapped, no
    copy)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._maps: dict[str, mmap.mmap | bytes] = {}
        self._files: list[Any] = []
        self.members: dict[str, tuple[int, int]] = {}  # tar member name -> (offset, size)
        self._blobs: dict[str, bytes] = {}  # members of a compressed tar, read into memory
        self.tar = path.is_file() and tarfile.is_tarfile(path)
        if self.tar:
            self._open_tar(path)
        elif path.is_dir():
            self.prefix = str(self._dir_prefix(path))
        elif path.suffix == ".index" and path.is_file():
            self.prefix = str(path.with_suffix(""))
        elif Path(f"{path}.index").exists():
            self.prefix = str(path)
        elif path.exists():
            msg = (
                f"{path}: not a TF checkpoint: neither a tar archive, a directory nor a prefix with a .index "
            )
            msg += "file"
            raise CheckpointFormatError(msg)
        else:
            msg = (
                f"{path}: not a TF checkpoint (expected a .tar, a directory with a .index file, or a prefix "
            )
            msg += "P with P.index beside it)"
            raise FileNotFoundError(msg)

    def _open_tar(self, path: Path) -> None:
        with open(path, "rb") as f:
            compressed = f.read(6).startswith(_COMPRESSED_MAGICS)
        try:
            with tarfile.open(path) as tar:
                infos = [m for m in tar.getmembers() if m.isfile()]
                self.members = {m.name: (m.offset_data, m.size) for m in infos}
                self.prefix = _choose_prefix([n for n in self.members if n.endswith(".index")], str(path))
                if compressed:  # offsets refer to the decompressed stream: no memory map possible
                    wanted = [m for m in infos if m.name.startswith(f"{self.prefix}.")]
                    self._check_expansion(path, sum(m.size for m in wanted))
                    self._blobs = {m.name: _read_member(tar, m) for m in wanted}
        except (tarfile.TarError, EOFError, OSError) as exc:
            msg = f"{path}: unreadable tar ({exc}); is the download complete?"
            raise CheckpointFormatError(msg) from exc
        self._tar_map = b"" if compressed else self._map(path)

    @staticmethod
    def _check_expansion(path: Path, total: int) -> None:
        """Refuse a compressed tar whose checkpoint members would fill memory far beyond the file's size."""
        limit = MAX_EXPANSION * path.stat().st_size + (1 << 20)
        if total > limit:
            msg = f"{path}: its checkpoint members decompress to {total} bytes, more than {MAX_EXPANSION} "
            msg += "times the archive's size: refused (weights barely compress; extract it yourself if it "
            msg += "is genuine)"
            raise CheckpointFormatError(msg)

    @staticmethod
    def _dir_prefix(path: Path) -> Path:
        state = path / "checkpoint"
        if state.exists():  # TF's state file: model_checkpoint_path: "model.ckpt-1500"
            m = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(), re.MULTILINE)
            if m:
                p = Path(m.group(1))
                p = p if p.is_absolute() else path / p
                if Path(f"{p}.index").exists():
                    return p
        return path / _choose_prefix([p.name for p in path.glob("*.index")], str(path))

    def _map(self, path: Path) -> mmap.mmap | bytes:
        """The file's bytes through a memory map, opened once per file."""
        if str(path) in self._maps:
            return self._maps[str(path)]
        f = open(path, "rb")  # noqa: SIM115 (kept open for the memory map, closed in close())
        self._files.append(f)
        m: mmap.mmap | bytes = b""
        if path.stat().st_size:
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps[str(path)] = m
        return m

    def describe(self, name: str) -> str:
        return f"{self.path}:{name}" if self.tar else name

    def read(self, name: str) -> tuple[memoryview | bytes, str]:
        """(whole file bytes, its description) for a file named relative to the prefix's folder."""
        if self.tar:
            if name not in self.members:
                msg = f"{self.path}: tar member {name} is missing"
                raise CheckpointFormatError(msg)
            if name in self._blobs:
                return self._blobs[name], self.describe(name)
            offset, size = self.members[name]
            total = len(self._tar_map)
            if offset + size > total:
                msg = (
                    f"{self.describe(name)}: tar member needs bytes [{offset}, {offset + size}) but the tar "
                )
                msg += f"file has {total}: the tar is truncated"
                raise CheckpointFormatError(msg)
            return memoryview(self._tar_map)[offset : offset + size], self.describe(name)
        p = Path(name)
        if not p.exists():
            msg = f"{p}: checkpoint file is missing"
            raise CheckpointFormatError(msg)
        return memoryview(self._map(p)), str(p)

    def close(self) -> None:
        for m in self._maps.values():
            if isinstance(m, mmap.mmap):
                with contextlib.suppress(BufferError):  # a view is still alive; the map goes with it
                    m.close()
        for f in self._files:
            f.close()


class CheckpointBundle:
    """An open TF v1 checkpoint: ``entries`` (name -> TensorEntry) and :meth:`read` of single tensors.

    Open it with ``with open_checkpoint(path) as bundle:``; arrays returned by :meth:`read` are copies that
    stay valid after closing, or with ``copy=False`` read-only views of the memory-mapped file, valid while it
    is open.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._source = _Source(self.path)
        try:
            index, where = self._source.read(self._index_name())
            self.index_file = where
            self.header, self.entries = parse_index(bytes(index), where)
        except BaseException:
            self._source.close()
            raise

    def _index_name(self) -> str:
        return f"{self._source.prefix}.index"

    @property
    def prefix(self) -> str:
        return self._source.prefix

    def close(self) -> None:
        self._source.close()

    def data_file(self, entry: TensorEntry) -> str:
        return _shard_name(self._source.prefix, entry.shard_id, self.header["num_shards"])

    def read(self, name: str, *, verify: bool = True, copy: bool = True) -> np.ndarray:
        """The tensor ``name`` as a NumPy array (a copy unless ``copy=False``), its bytes checked against the
        stored crc32c."""
        if name not in self.entries:
            msg = f"{self.index_file}: no tensor named {name!r}"
            raise KeyError(msg)
        entry = self.entries[name]
        if entry.dtype is None or entry.sliced:
            what = "a partitioned (sliced) variable" if entry.sliced else f"TF dtype {entry.tf_dtype}"
            msg = f"tensor {name!r}: {what} is not supported"
            raise CheckpointFormatError(msg)
        data, where = self._source.read(self.data_file(entry))
        end = entry.offset + entry.size
        if entry.offset < 0 or entry.size < 0:
            msg = f"tensor {name!r}: negative offset {entry.offset} or size {entry.size} in {self.index_file}"
            raise CheckpointFormatError(msg)
        if end > len(data):
            msg = f"tensor {name!r}: needs bytes [{entry.offset}, {end}) of {where}, which has only "
            msg += f"{len(data)} bytes: the data file is truncated"
            raise CheckpointFormatError(msg)
        expected = int(np.prod(entry.shape, dtype=np.int64)) * entry.dtype.itemsize
        if expected != entry.size:
            msg = f"tensor {name!r}: shape {entry.shape} x {entry.dtype} needs {expected} bytes, entry says "
            msg += f"{entry.size}"
            raise CheckpointFormatError(msg)
        raw = np.frombuffer(data, dtype=np.uint8, count=entry.size, offset=entry.offset)
        if verify and entry.masked_crc32c is not None:
            actual = crc32c(raw)
            if actual != unmask_crc(entry.masked_crc32c):
                msg = f"tensor {name!r}: crc32c mismatch in {where} bytes [{entry.offset}, {end}) (stored "
                msg += f"{unmask_crc(entry.masked_crc32c):#010x}, computed {actual:#010x}): the data file is "
                msg += "corrupt"
                raise CheckpointFormatError(msg)
        array = raw.view(entry.dtype).reshape(entry.shape)
        return array.copy() if copy else array


@contextlib.contextmanager
def open_checkpoint(path: str | Path) -> Iterator[CheckpointBundle]:
    """Open a TF v1 checkpoint given as a ``.tar``, a directory or a prefix (see
    :class:`CheckpointBundle`)."""
    bundle = CheckpointBundle(path)
    try:
        yield bundle
    finally:
        bundle.close()


def read_checkpoint(
    path: str | Path, *, keep: Callable[[str], bool] | None = None, verify: bool = True
) -> dict[str, np.ndarray]:
    """Read every tensor (or those whose name passes ``keep``) of a TF v1 checkpoint into ``{name:
    array}``."""
    with open_checkpoint(path) as bundle:
        return {
            name: bundle.read(name, verify=verify) for name in bundle.entries if keep is None or keep(name)
        }

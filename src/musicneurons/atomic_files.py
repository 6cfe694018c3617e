"""Write a file so readers never see it half-written: write beside it under a temporary name, then rename.

The temporary file is ``.<name>.<random>.tmp`` in the destination's folder, created with mode 0666
minus the process umask, like any file ``open(path, "w")`` creates, so the renamed result is as readable
as the user's other files (``tempfile.mkstemp`` would make it 0600 whatever the umask). A process killed
between the two steps leaves such a temporary file behind; :func:`remove_stale_temporaries` deletes them
(a command calls it when it starts, under its output folder).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "remove_stale_temporaries"]

# .<final name>.<8 to 16 hex or mkstemp characters>.tmp
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8,16}\.tmp$")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``; returns
    ``path``.

    The parent folder is created if needed; on any error the temporary file is removed and ``path`` is
    untouched. The file's mode follows the umask (0644 under the usual umask 022).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(path)
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _create_temporary(path: Path) -> Path:
    """An empty new file ``.<name>.<random>.tmp`` beside ``path``, mode 0666 minus the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    msg = f"could not create a temporary file beside {path}"  # pragma: no cover - 100 name collisions
    raise FileExistsError(msg)  # pragma: no cover


def remove_stale_temporaries(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Delete the temporary files :func:`atomic_write` leaves when a process is killed mid-write.

    Only call it where no other process is writing (e.g. under an output folder a command holds);
    returns the deleted paths. Files that do not match ``.<name>.<random>.tmp`` are never touched.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    candidates = folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")
    removed = []
    for path in candidates:
        if _TEMPORARY.match(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed

"""Choose the torch device for ``--device auto|cpu|cuda``, set CPU numerics that matter for LSTMs, and name
the software a run used (:func:`versions`, recorded beside results)."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

import torch

from musicneurons.errors import UserError

DEVICES = "auto, cpu, cuda or cuda:N"


def resolve_device(name: str = "auto") -> torch.device:
    """Return the device named by ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    Raises
    ------
    UserError
        For any other name (``tpu``, ``gpu``, ...), and for CUDA when this PyTorch build sees no CUDA device
        or
        not that many.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        msg = f"--device {name!r} is not supported: use {DEVICES}"
        raise UserError(msg)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            msg = f"--device {name} was asked for, but this PyTorch build sees no CUDA device; use --device "
            msg += "cpu or auto"
            raise UserError(msg)
        if device.index is not None and device.index >= torch.cuda.device_count():
            msg = f"--device {name}: there are only {torch.cuda.device_count()} CUDA device(s)"
            raise UserError(msg)
    return device


def configure_cpu_numerics() -> None:
    """Flush denormal floats to zero: long LSTM backward passes otherwise run 5-50x slower on CPU."""
    torch.set_flush_denormal(True)


def set_cpu_threads(n: int | None) -> None:
    """Use ``n`` CPU threads for torch's operations (None or 0: keep torch's choice, one per core)."""
    if n:
        torch.set_num_threads(int(n))


def versions(names: Sequence[str]) -> dict[str, str]:
    """Versions of ``names``, in that order: ``"python"`` the interpreter's, ``"platform"`` the operating
    system's (``platform.platform()``), ``"musicneurons"`` this code's ``__version__``, any other name an
    installed distribution's version (``"not installed"`` when there is none)."""
    from musicneurons import __version__

    found = {}
    for name in names:
        if name == "python":
            found[name] = platform.python_version()
        elif name == "platform":
            found[name] = platform.platform()
        elif name == "musicneurons":
            found[name] = __version__
        else:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = "not installed"
    return found

"""Choose the torch device for ``--device auto|cpu|cuda`` and set CPU numerics that matter for LSTMs."""

from __future__ import annotations

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

"""The architecture of a MusicVAE as a frozen dataclass of plain values (no torch, no I/O).

Kept apart from the model (``musicvae.py``) so that names, presets and ``config.json`` files can be read and
checked before anything is allocated.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from musicneurons.constants import NUM_CLASSES
from musicneurons.errors import UserError

MAX_SIZE = 1 << 20  # sanity bound on every size (Magenta's largest is 2048 units)
MAX_LAYERS = 64


class ConfigError(UserError):
    """A MusicVAE config with a missing, unknown, mistyped or out-of-range field."""


@dataclass(frozen=True)
class MusicVAEConfig:
    """Architecture of a MusicVAE, with Magenta's hparam names (training hparams live in ``TrainConfig``).

    Parameters ---------- z_size : int
        Latent size (Magenta ``z_size``).
    enc_rnn_size : tuple of int
        Hidden units per direction of each bidirectional encoder layer (``enc_rnn_size``).
    dec_rnn_size : tuple of int
        Hidden units of each decoder LSTM layer (``dec_rnn_size``); the hierarchical decoder uses the same
        sizes for its conductor and its core decoder, as Magenta does.
    max_seq_len : int
        Window length in 16th-note steps: 32 (2 bars) or 256 (16 bars).
    level_lengths : tuple of int or None
        None for a flat decoder; ``(n_bars, steps_per_bar)`` for the hierarchical decoder (Magenta
        ``HierarchicalLstmDecoder(level_lengths=[16, 16], disable_autoregression=True)``). Two levels only.
    num_classes : int
        Size of the one-hot melody vocabulary (90 for Magenta's melody models).

    Examples --------
    >>> cfg = MusicVAEConfig(z_size=64, enc_rnn_size=(128,), dec_rnn_size=(128, 128), max_seq_len=32)
    >>> cfg.hierarchical
    False
    """

    z_size: int
    enc_rnn_size: tuple[int, ...]
    dec_rnn_size: tuple[int, ...]
    max_seq_len: int
    level_lengths: tuple[int, ...] | None = None
    num_classes: int = NUM_CLASSES

    def __post_init__(self) -> None:
        # accept lists (e.g. from JSON) but store tuples so the config stays hashable and frozen
        object.__setattr__(self, "enc_rnn_size", tuple(int(h) for h in self.enc_rnn_size))
        object.__setattr__(self, "dec_rnn_size", tuple(int(h) for h in self.dec_rnn_size))
        if self.level_lengths is not None:
            object.__setattr__(self, "level_lengths", tuple(int(n) for n in self.level_lengths))
        for name in ("z_size", "max_seq_len", "num_classes"):
            value = int(getattr(self, name))
            if not 1 <= value <= MAX_SIZE:
                msg = f"MusicVAEConfig.{name} must be >= 1 and <= {MAX_SIZE}, got {getattr(self, name)}"
                raise ConfigError(msg)
        sizes = self.enc_rnn_size + self.dec_rnn_size
        if not self.enc_rnn_size or not self.dec_rnn_size or min(sizes) < 1 or max(sizes) > MAX_SIZE:
            msg = f"enc_rnn_size and dec_rnn_size need >= 1 layer of 1..{MAX_SIZE} units, got "
            msg += f"{self.enc_rnn_size}, {self.dec_rnn_size}"
            raise ConfigError(msg)
        if max(len(self.enc_rnn_size), len(self.dec_rnn_size)) > MAX_LAYERS:
            msg = f"at most {MAX_LAYERS} layers per stack, got {self.enc_rnn_size}, {self.dec_rnn_size}"
            raise ConfigError(msg)
        if self.level_lengths is not None:
            if len(self.level_lengths) != 2 or min(self.level_lengths) < 1:
                msg = f"level_lengths must be (n_bars, steps_per_bar), each >= 1, got {self.level_lengths}"
                raise ConfigError(msg)
            if math.prod(self.level_lengths) != self.max_seq_len:
                msg = f"level_lengths {self.level_lengths} multiply to {math.prod(self.level_lengths)}, "
                msg += f"but max_seq_len is {self.max_seq_len}"
                raise ConfigError(msg)

    @property
    def hierarchical(self) -> bool:
        """True when the decoder is a conductor + core (``level_lengths`` set)."""
        return self.level_lengths is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        d = asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> MusicVAEConfig:
        """Inverse of :meth:`to_dict`, for untrusted input (a ``config.json``): every key, type and range is
        checked and a :class:`ConfigError` says which one is wrong."""
        if not isinstance(d, dict):
            msg = f"the config must be a JSON object, got {type(d).__name__}"
            raise ConfigError(msg)
        required = {"z_size", "enc_rnn_size", "dec_rnn_size", "max_seq_len"}
        known = required | {"level_lengths", "num_classes"}
        if missing := sorted(required - d.keys()):
            msg = f"the config lacks {', '.join(missing)}"
            raise ConfigError(msg)
        if unknown := sorted(set(d) - known):
            msg = f"unknown config key(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(known))}"
            raise ConfigError(msg)
        for key in ("z_size", "max_seq_len", "num_classes"):
            if key in d and not _is_int(d[key]):
                msg = f"{key} must be an integer, got {d[key]!r}"
                raise ConfigError(msg)
        for key in ("enc_rnn_size", "dec_rnn_size", "level_lengths"):
            value = d.get(key)
            if key == "level_lengths" and value is None:
                continue
            if not isinstance(value, (list, tuple)) or not all(_is_int(v) for v in value):
                msg = f"{key} must be a list of integers, got {value!r}"
                raise ConfigError(msg)
        return cls(**d)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

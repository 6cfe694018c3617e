"""``TrainedModel``: Magenta's ``TrainedModel`` API on NumPy arrays (encode, decode, sample, interpolate,
...).

Windows are int arrays ``(n, T)`` of 90-class indices (0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = MIDI pitch k +
19); latents are float32 arrays ``(n, z_size)``. Work runs in batches under ``torch.inference_mode`` on the
chosen device, optionally with bfloat16 matmuls (``precision="bf16"``, see docs/model.md for the error it
costs).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from musicneurons.device import resolve_device
from musicneurons.errors import UserError
from musicneurons.model.config import MusicVAEConfig
from musicneurons.model.musicvae import MusicVAE, reconstruction_loss

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")


def bf16_is_native(device: torch.device) -> bool:
    """Whether bfloat16 matmuls run in hardware: AMX or AVX512-BF16 on CPUs, bf16 support on CUDA GPUs.

    Elsewhere (e.g. AVX2-only CPUs) PyTorch emulates bf16 and ``precision="bf16"`` is many times slower than
    fp32.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, present in torch >= 2.1
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def slerp(p0: np.ndarray, p1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between vectors p0 and p1 at fractions t (k,); returns (k, d).

    omega = arccos(<p0/|p0|, p1/|p1|>); point(t) = sin((1 - t) omega) / sin omega * p0 + sin(t omega) / sin
    omega
    * p1 (Magenta's ``TrainedModel.interpolate``). Falls back to linear interpolation when p0 and p1 are
    parallel.
    """
    p0 = np.asarray(p0, dtype=np.float64)
    p1 = np.asarray(p1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[:, None]
    cos = np.dot(p0 / np.linalg.norm(p0), p1 / np.linalg.norm(p1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-12:
        return (1 - t) * p0 + t * p1
    return (np.sin((1 - t) * omega) * p0 + np.sin(t * omega) * p1) / np.sin(omega)


class TrainedModel:
    """A MusicVAE ready for inference on NumPy arrays.

    Parameters ---------- module : MusicVAE
        The model (moved to ``device`` and put in eval mode).
    device : str
        ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
    batch_size : int
        Rows per forward pass in every method.
    precision : {"fp32", "bf16"}
        ``bf16`` runs the matmuls in bfloat16 under ``torch.autocast`` (AMX on recent Xeons, tensor cores on
        GPUs); states and outputs stay float32.
    metadata : dict, optional
        Provenance carried from the checkpoint (``config.json``'s metadata or the converted source).

    Attributes ---------- module, config, device, precision, metadata
    """

    def __init__(
        self,
        module: MusicVAE,
        *,
        device: str | torch.device = "auto",
        batch_size: int = 256,
        precision: str = "fp32",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            msg = f"precision must be one of {PRECISIONS}, got {precision!r}"
            raise ValueError(msg)
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise ValueError(msg)
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.module = module.to(self.device).eval()
        self.config: MusicVAEConfig = module.config
        self.batch_size = batch_size
        self.precision = precision
        self.metadata = dict(metadata or {})
        if precision == "bf16" and not bf16_is_native(self.device):
            log.warning(
                "bf16 on %s is emulated (no AMX/AVX512-BF16 or CUDA bf16): expect it to be much slower than "
                "fp32",
                self.device,
            )

    def __repr__(self) -> str:
        return f"TrainedModel({self.config}, device={self.device}, precision={self.precision!r})"

    # ------------------------------------------------------------------ helpers
    @contextlib.contextmanager
    def _context(self) -> Iterator[None]:
        with torch.inference_mode():
            if self.precision == "bf16":
                with torch.autocast(self.device.type, dtype=torch.bfloat16):
                    yield
            else:
                yield

    def _batches(self, n: int, batch_size: int | None) -> Iterator[slice]:
        size = batch_size or self.batch_size
        for start in range(0, n, size):
            yield slice(start, min(start + size, n))

    def _windows(self, windows: Any) -> np.ndarray:
        w = np.asarray(windows)
        if w.ndim == 1:
            w = w[None]
        if w.ndim != 2 or not np.issubdtype(w.dtype, np.integer):
            msg = f"windows must be an int array (n, T) of class indices, got {w.dtype} {w.shape}"
            raise ValueError(msg)
        if w.size and (w.min() < 0 or w.max() >= self.config.num_classes):
            row, col = np.argwhere((w < 0) | (w >= self.config.num_classes))[0]
            msg = f"window {row}, step {col}: class {w[row, col]} outside 0..{self.config.num_classes - 1}"
            raise ValueError(msg)
        return w

    def _generator(self, rng: np.random.Generator | None) -> torch.Generator:
        rng = np.random.default_rng() if rng is None else rng
        return torch.Generator(device=self.device).manual_seed(int(rng.integers(2**63 - 1)))

    def _latents(self, z: Any) -> np.ndarray:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused below
            z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.config.z_size:
            msg = f"z must be (n, {self.config.z_size}), got {z.shape}"
            raise ValueError(msg)
        if not np.isfinite(z).all():
            row, col = np.argwhere(~np.isfinite(z))[0]
            n_bad = int((~np.isfinite(z)).any(axis=1).sum())
            msg = f"z row {row}, dim {col} is {z[row, col]} (as float32; {n_bad} of {len(z)} rows are not "
            msg += "finite): latents must be finite numbers"
            raise UserError(msg)
        return z

    # ------------------------------------------------------------------ API
    def encode(
        self,
        windows: Any,
        batch_size: int | None = None,
        rng: np.random.Generator | None = None,
        lengths: Any = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posterior of each window: ``(z, mu, sigma)``, each float32 (n, z_size); z = mu + sigma * eps.

        ``lengths`` (n,) lets row i count only its first ``lengths[i]`` steps; ``rng`` draws eps (fresh
        entropy when None).
        """
        w = self._windows(windows)
        n = len(w)
        mu = np.empty((n, self.config.z_size), dtype=np.float32)
        sigma = np.empty_like(mu)
        lens = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        with self._context():
            for sl in self._batches(n, batch_size):
                x = torch.from_numpy(w[sl].astype(np.int64)).to(self.device)
                lb = None if lens is None else torch.from_numpy(lens[sl])
                m, s = self.module.encode(x, lb)
                mu[sl] = m.float().cpu().numpy()
                sigma[sl] = s.float().cpu().numpy()
        rng = np.random.default_rng() if rng is None else rng
        z = (mu + sigma * rng.standard_normal(mu.shape)).astype(np.float32)
        return z, mu, sigma

    def decode(
        self,
        z: Any,
        length: int | None = None,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Sample windows from latents z (n, z_size): int8 (n, length) class indices (length: max_seq_len).

        Each step draws from softmax(logits / temperature); ``temperature=0`` decodes greedily (argmax).
        """
        return self.decode_with_logits(z, length, temperature, rng, batch_size)[0]

    def decode_with_logits(
        self,
        z: Any,
        length: int | None = None,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        batch_size: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`decode`, also returning the logits (n, length, 90) along the sampled path (float32)."""
        z = self._latents(z)
        length = self.config.max_seq_len if length is None else int(length)
        generator = self._generator(rng)
        n = len(z)
        classes = np.empty((n, length), dtype=np.int8)
        logits = np.empty((n, length, self.config.num_classes), dtype=np.float32)
        with self._context():
            for sl in self._batches(n, batch_size):
                zb = torch.from_numpy(z[sl]).to(self.device)
                c, lg = self.module.sample(zb, length, temperature, generator)
                classes[sl] = c.cpu().numpy().astype(np.int8)
                logits[sl] = lg.float().cpu().numpy()
        return classes, logits

    def sample(
        self,
        n: int,
        length: int | None = None,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Decode n latents drawn from the prior N(0, I): int8 (n, length)."""
        rng = np.random.default_rng() if rng is None else rng
        z = rng.standard_normal((n, self.config.z_size)).astype(np.float32)
        return self.decode(z, length, temperature, rng)

    def interpolate(
        self,
        a: Any,
        b: Any,
        n: int,
        length: int | None = None,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Decode n points on the slerp between the posterior means of windows a and b (endpoints
        included)."""
        _, mu, _ = self.encode(np.stack([np.asarray(a).ravel(), np.asarray(b).ravel()]))
        z = slerp(mu[0], mu[1], np.linspace(0.0, 1.0, n)).astype(np.float32)
        return self.decode(z, length, temperature, rng)

    def reconstruct(
        self, windows: Any, z: Any = None, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Teacher-forced decoder logits (n, T, 90) float32 and r_loss (n,) (cross-entropy summed over steps).

        z defaults to the posterior mean mu of each window.
        """
        w = self._windows(windows)
        if z is None:
            _, z, _ = self.encode(w, batch_size=batch_size, rng=np.random.default_rng(0))
        z = self._latents(z)
        if len(z) != len(w):
            msg = f"z has {len(z)} rows but windows has {len(w)}"
            raise ValueError(msg)
        n, steps = w.shape
        logits = np.empty((n, steps, self.config.num_classes), dtype=np.float32)
        r_loss = np.empty(n, dtype=np.float32)
        with self._context():
            for sl in self._batches(n, batch_size):
                x = torch.from_numpy(w[sl].astype(np.int64)).to(self.device)
                lg = self.module.decode_teacher_forced(torch.from_numpy(z[sl]).to(self.device), x).float()
                logits[sl] = lg.cpu().numpy()
                r_loss[sl] = reconstruction_loss(lg.double(), x).cpu().numpy()  # fp64 sum over steps
        return logits, r_loss

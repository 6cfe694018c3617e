"""Does a model show the paper's phenomenon? Six numbers on held-out windows and the targets they should meet.

The paper describes MusicVAE's latent space as a few "music neurons" (small posterior σ) beside hundreds of
"noise neurons" that stay at the prior (σ ≈ 1, μ ≈ 0) and can be set to zero with minimal loss, and a model
that decodes "Twinkle, twinkle" back from its μ. A small model can look like that at first glance (a few dims
with small σ) while its other dims still carry a thin layer of information the decoder uses, or while its
decoder ignores z and only predicts from its own past. :func:`latent_health` measures both failure modes:

- ``music_dims``: dims with mean σ < :data:`~musicneurons.constants.SHARP_SIGMA_THRESHOLD` (0.9);
- ``silent_share``: share of the other dims with mean σ >= :data:`~musicneurons.constants.SILENT_SIGMA`;
- ``excited_noise_median``: median over windows of the other dims with |μ| > ``EXCITED_MU``;
- ``accuracy_lost_zeroing_noise``: teacher-forced step accuracy with z = μ minus the same with every other dim
  set to 0 (the prior mean);
- ``free_minus_hold``: free-running greedy accuracy from z = μ minus the always-hold baseline (first step
  copied, then "hold"), i.e. how much of the melody the decoder gets from z;
- ``twinkle_share``: share of the steps of "Twinkle, twinkle" that its greedy decode from μ gets back.

:data:`TARGETS` holds the bounds the embedded default models are trained to meet (checked in their tests and
printed in their model cards).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from musicneurons.analysis.sampling import seeded_subset
from musicneurons.analysis.warnings import always_hold_accuracy
from musicneurons.arrays import noise_silence
from musicneurons.constants import EXCITED_MU, SHARP_SIGMA_THRESHOLD, SILENT_SIGMA
from musicneurons.data.example_melodies import twinkle


class HealthModel(Protocol):
    """The part of ``musicneurons.model.inference.TrainedModel`` the health rows need."""

    def encode(
        self, windows: np.ndarray, *, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def reconstruct(
        self, windows: np.ndarray, z: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(self, z: np.ndarray, length: int | None = None, temperature: float = ...) -> np.ndarray: ...


@dataclass(frozen=True)
class Target:
    """A target row: ``low <= value <= high`` (``value < high`` with ``strict``); either bound may be None."""

    key: str
    label: str
    low: float | None = None
    high: float | None = None
    strict: bool = False

    def met(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds."""
        if self.low is not None and value < self.low:
            return False
        if self.high is None:
            return True
        return value < self.high if self.strict else value <= self.high

    def bounds(self) -> str:
        """The bounds as a short text, e.g. ``10–80``, ``≥ 0.95``, ``< 100``."""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}"
        if self.low is not None:
            return f"≥ {self.low:g}"
        return f"{'<' if self.strict else '≤'} {self.high:g}"


def targets(bars: int) -> tuple[Target, ...]:
    """The rows a default model of ``bars`` bars (2 or 16) is trained to meet."""
    free_gain = 0.10 if bars == 2 else 0.05
    return (
        Target("music_dims", f"music dims (mean σ < {SHARP_SIGMA_THRESHOLD:g})", 10, 80),
        Target("silent_share", f"other dims with mean σ ≥ {SILENT_SIGMA:g}", 0.95, None),
        Target(
            "excited_noise_median",
            f"median other dims with |μ| > {EXCITED_MU:g} per window",
            None,
            100,
            strict=True,
        ),
        Target("accuracy_lost_zeroing_noise", "accuracy lost when every other dim is set to 0", None, 0.01),
        Target("free_minus_hold", "free-running accuracy − always-hold baseline", free_gain, None),
        Target("twinkle_share", "“Twinkle, twinkle” decoded back from its μ (share of steps)", 0.90, None),
    )


def latent_health(
    model: HealthModel, windows: np.ndarray, *, n_windows: int | None = 2000, seed: int = 0
) -> dict[str, float]:
    """The six rows (see the module docstring) plus the accuracies behind them, on held-out ``windows``.

    ``windows`` (n, T) int8 90-class windows; at most ``n_windows`` of them are used (a seeded subset).
    The encoder's sample draws use ``seed`` too, so the numbers are reproducible.
    """
    w = np.asarray(windows)
    rows = seeded_subset(len(w), n_windows, np.random.default_rng(seed))
    w = w[rows] if len(rows) < len(w) else w
    _z, mu, sigma = model.encode(w, rng=np.random.default_rng(seed))
    if np.isnan(mu).any():
        msg = "mu contains NaN; encode every melody before the analysis"
        raise ValueError(msg)
    mean_sigma = sigma.mean(axis=0)
    music = mean_sigma < SHARP_SIGMA_THRESHOLD
    noise = ~music
    logits, _ = model.reconstruct(w, mu)
    accuracy = float((logits.argmax(-1) == w).mean())
    zeroed = np.where(music[None, :], mu, 0.0).astype(mu.dtype)
    logits_zeroed, _ = model.reconstruct(w, zeroed)
    free = float((model.decode(mu, temperature=0.0) == w).mean())
    hold = always_hold_accuracy(w)
    tune = twinkle(w.shape[1])
    _z, tune_mu, _s = model.encode(tune[None], rng=np.random.default_rng(seed))
    tune_back = model.decode(tune_mu, temperature=0.0)[0]
    silent_share, excited_median = noise_silence(mu, mean_sigma, noise)
    return {
        "n_windows": len(w),
        "music_dims": int(music.sum()),
        "silent_share": silent_share,
        "excited_noise_median": excited_median,
        "accuracy_lost_zeroing_noise": accuracy - float((logits_zeroed.argmax(-1) == w).mean()),
        "free_minus_hold": free - hold,
        "twinkle_share": float((tune_back == tune).mean()),
        "teacher_forced_accuracy": accuracy,
        "free_running_accuracy": free,
        "hold_baseline_accuracy": hold,
    }


def unmet(rows: dict[str, float], bars: int) -> list[str]:
    """Keys of the targets for ``bars`` that ``rows`` (from :func:`latent_health`) does not meet."""
    return [t.key for t in targets(bars) if not t.met(rows[t.key])]

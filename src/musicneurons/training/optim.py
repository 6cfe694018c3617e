"""The optimiser of Magenta's training: TensorFlow 1's Adam, global-norm clipping with a clip-to-zero guard.

- learning rate from :func:`~musicneurons.training.objective.learning_rate`, Adam (beta1 0.9, beta2 0.999,
  epsilon 1e-8 placed as TensorFlow places it, see :class:`TFAdam`);
- gradients clipped to global norm ``grad_clip``; when the norm reaches ``grad_norm_clip_to_zero`` the norm
  used for clipping is 1e10, which scales the whole gradient to ~0 (Magenta ``music_vae_train.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from musicneurons.training.config import TrainConfig

if TYPE_CHECKING:
    from torch.optim.optimizer import ParamsT

# the norm Magenta substitutes once the gradient norm reaches grad_norm_clip_to_zero
CLIP_TO_ZERO_NORM = 1.0e10


class TFAdam(torch.optim.Optimizer):
    """Adam exactly as TensorFlow 1's ``AdamOptimizer`` (Magenta's optimiser).

    TF folds the bias corrections into the step size, lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t), and updates
    theta -= lr_t * m / (sqrt(v) + eps). PyTorch's Adam divides by (sqrt(v / (1 - b2^t)) + eps) instead, i.e.
    its epsilon is larger by 1 / sqrt(1 - b2^t) early in training; otherwise the two are identical.

    State per parameter: ``step`` (int), ``m`` and ``v`` (tensors shaped like the parameter).
    """

    def __init__(
        self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    # ignore[override]: Optimizer.step(closure) is typed to return the closure's loss; this step never
    # calls ``closure`` and returns None
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        """One Adam update of every parameter that has a gradient."""
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["m"], state["v"]
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                lr_t = group["lr"] * math.sqrt(1 - b2**t) / (1 - b1**t)
                p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-lr_t)


def clip_gradients(params: list[Tensor], cfg: TrainConfig) -> float:
    """Magenta's clipping: scale by grad_clip / max(norm, grad_clip), with norm := 1e10 once it reaches
    ``grad_norm_clip_to_zero``. Returns the global norm before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    use_norm = norm if norm < cfg.grad_norm_clip_to_zero else CLIP_TO_ZERO_NORM
    if not math.isfinite(use_norm):
        use_norm = CLIP_TO_ZERO_NORM
    scale = cfg.grad_clip / max(use_norm, cfg.grad_clip)
    if scale < 1.0:
        for g in grads:
            g.mul_(scale)
    return norm

"""A training batch as equal slices ("parts") whose gradients are computed on worker threads and summed.

At the default sizes one training step is thousands of small operations (LSTM steps on 128 x 128 blocks).
Spread over the cores by OpenMP, each of them pays a wake-up of the sleeping threads under passive waiting
(measured on a 2-core Zen 5: a 128 x 512 sigmoid 14 us on one thread, 52 us on two; a whole LSTM layer
4.8 ms on one, 7.1 ms on two), and under spin-waiting the step collapses as soon as another process needs a
core. Here each part runs its whole forward and backward pass on its own thread with one intra-op thread:
no OpenMP region is entered, so neither the wait policy nor a shared core can multiply the cost.

The split is part of the optimisation (``TrainConfig.batch_parts``), not of the machine: the parts, their
random draws and the fixed order in which their gradients are summed are the same with one worker or many,
so a run's numbers do not depend on the thread count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import pairwise
from typing import TypeVar

import torch

T = TypeVar("T")


def part_slices(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous row ranges covering ``range(n)``, sizes differing by at most one (never empty)."""
    parts = max(1, min(parts, n))
    bounds = [round(k * n / parts) for k in range(parts + 1)]
    return [slice(a, b) for a, b in pairwise(bounds)]


def parts_on(device: torch.device, batch_parts: int) -> int:
    """The parts a batch runs as on ``device``: ``batch_parts`` on the CPU, 1 elsewhere (a GPU takes the whole
    batch in one pass; halves would only add kernel launches there)."""
    return batch_parts if device.type == "cpu" else 1


class PartRunner:
    """Runs one function per part, on ``workers`` threads (inline when there is one worker).

    Each worker thread sets its own intra-op thread count to ``threads_per_worker`` when it starts (OpenMP
    keeps that count per thread, and oneDNN reads it). Results come back in part order whatever the thread
    that computed them.
    """

    def __init__(self, workers: int = 1, threads_per_worker: int = 1):
        self.workers = max(1, workers)
        self.threads_per_worker = max(1, threads_per_worker)
        self._pool = None
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(
                self.workers, initializer=torch.set_num_threads, initargs=(self.threads_per_worker,)
            )

    def map(self, fn: Callable[[int], T], parts: int) -> list[T]:
        """``[fn(0), fn(1), ..., fn(parts - 1)]``."""
        if self._pool is None or parts == 1:
            return [fn(k) for k in range(parts)]
        return list(self._pool.map(fn, range(parts)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


@contextmanager
def part_runner(parts: int, device: torch.device) -> Iterator[PartRunner]:
    """A :class:`PartRunner` for a training run on ``device``, with torch's intra-op threads shared out.

    On the CPU, the threads torch was given (``--threads``; default one per core) are divided among
    min(parts, threads) workers, so two parts on two cores run side by side on one thread each. Elsewhere
    (CUDA) the parts run one after the other on the calling thread. The thread count is restored on exit.
    """
    threads = torch.get_num_threads()
    workers = min(parts_on(device, parts), threads)
    runner = PartRunner(workers, threads // workers)
    if workers > 1:
        torch.set_num_threads(runner.threads_per_worker)
    try:
        yield runner
    finally:
        runner.close()
        torch.set_num_threads(threads)


def sum_in_order(grads: Sequence[Sequence[torch.Tensor | None]]) -> list[torch.Tensor | None]:
    """Per parameter, the sum of the parts' gradients in part order (None where no part reached it)."""
    total: list[torch.Tensor | None] = []
    for per_part in zip(*grads, strict=True):
        acc = None
        for g in per_part:
            if g is not None:
                acc = g if acc is None else acc + g
        total.append(acc)
    return total

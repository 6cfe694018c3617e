"""The later parts' stages computed in a second process while the first part runs.

A study's parts are independent until the comparison at the end, and each stage's artifact is cached on
disk under a key of its parameters and inputs. So a child process, forked at the start of the study (before
the model is loaded and before torch starts its threads, as the figure workers are), computes every stage of
the second and later parts, in order, on one torch thread, while the study's own process runs the first
part. When the study reaches a later part it waits for the child, then runs that part as usual: its stages
are found up to date and read back, and only its figures and summary remain. The artifacts are the ones the
study would have computed itself (every stage draws from its own seeded generator); if the child fails or
is killed, the study computes whatever is missing and meets any error where it would have met it anyway.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Self

from musicneurons.study.config import StudyConfig

log = logging.getLogger(__name__)

__all__ = ["StagePrefetch", "should_prefetch"]


Parts = list[tuple[int, str | None]]  # (bars, model name or path) per part, as study_parts returns them
ComputeStages = Callable[[int, str | None, StudyConfig, Path], None]  # one part's stages, no figures


def _child(
    compute: ComputeStages, parts: Parts, config: StudyConfig, out: Path, seconds: Synchronized
) -> None:
    """The child's work; any failure is left for the study's own process to meet (exit code 1, quietly)."""
    from musicneurons.device import set_cpu_threads

    set_cpu_threads(1)  # the study's own process has the other core
    _label_log_lines(f"[{', '.join(f'{bars}-bar' for bars, _ in parts)} stages, second process] ")
    quiet = dataclasses.replace(config, progress=False)
    try:
        for bars, name in parts:
            started = time.perf_counter()
            compute(bars, name, quiet, out)
            seconds.value += time.perf_counter() - started
    except Exception:
        log.debug("stage prefetch failed", exc_info=True)
        raise SystemExit(1) from None


def _label_log_lines(prefix: str) -> None:
    """Start every log line of this (forked) process with ``prefix``: they interleave with the study's."""

    def add_prefix(record: logging.LogRecord) -> bool:
        record.msg = f"{prefix}{record.msg}"
        return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(add_prefix)


class StagePrefetch:
    """A forked child running ``compute`` (the pipeline's stages of one part) for each of ``parts`` in
    order; :meth:`wait` blocks until it is done.

    Start it before anything starts threads (the study does so before its figure workers and its first
    model). ``seconds`` after :meth:`wait`: the child's time on the stages of the parts it finished.
    """

    def __init__(self, compute: ComputeStages, parts: Parts, config: StudyConfig, out: Path) -> None:
        context = multiprocessing.get_context("fork")
        self._seconds = context.Value("d", 0.0)
        self._process = context.Process(
            target=_child,
            args=(compute, parts, config, out, self._seconds),
            name="musicneurons-prefetch",
            daemon=True,
        )
        self._process.start()
        self.parts = [bars for bars, _ in parts]
        self.ok: bool | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.is_alive():  # the study stopped early: its stages are not needed any more
            self._process.terminate()
        self._process.join()

    def wait(self) -> bool:
        """Wait for the child; True when it computed every stage it was given."""
        if self.ok is None:
            self._process.join()
            self.ok = self._process.exitcode == 0
            if not self.ok:
                code = self._process.exitcode
                log.info("the stage prefetch stopped (exit code %s): the study computes the rest", code)
        return self.ok

    @property
    def seconds(self) -> float:
        return float(self._seconds.value)

    def record(self) -> dict[str, object]:
        """What run.json says of it: the parts given to the child, whether it finished them, its seconds."""
        return {"parts": self.parts, "completed": self.ok, "seconds": round(self.seconds, 2)}


def should_prefetch(config: StudyConfig, n_parts: int) -> bool:
    """Whether later parts are worth a second process: several parts, CPU, two cores or more, fork safe."""
    from musicneurons.device import resolve_device
    from musicneurons.study.rendering import can_fork

    if not config.prefetch_parts or n_parts < 2 or (os.cpu_count() or 1) < 2 or not can_fork():
        return False
    return resolve_device(config.device).type == "cpu"

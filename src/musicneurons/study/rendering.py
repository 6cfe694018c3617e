"""Drawing the figure table: skip what is up to date, draw the rest in a small pool of worker processes.

matplotlib is single-threaded and drawing is most of a study's time when done in line, so a
:class:`FigureRenderer` hands each figure to a worker process and returns at once: the figures of one part
are drawn while the next part computes. The workers are forked when the renderer starts, at the beginning
of the study, before the model is loaded and before torch starts its threads; a process that already runs
other Python threads (see :func:`can_fork`), or a platform other than Linux, draws in line instead. A
worker reads the artifacts it needs from their files (the stages wrote them before), draws one figure and
writes it; every figure draws its random points from its own generator, so the files are the same whichever
worker draws them, in whatever order, and the same as with ``workers=0`` (everything drawn in this process,
one after the other).

A figure is up to date when its PNG has a sidecar with the same key (a hash of the figure's name, the
drawing code and the keys of the artifacts it shows) and, with ``svg=True``, its SVG exists.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from musicneurons.study.artifacts import FORMATS, read_meta, stage_key, write_json
from musicneurons.study.figure_plans import (
    BASE_INPUTS,
    FIGURES,
    FIGURES_BY_NAME,
    PREVIEW_FIGURES,
    FigureSettings,
    FigureSpec,
    FigureView,
)
from musicneurons.study.report import FigureEntry

__all__ = ["FigureRenderer", "FigureSettings", "default_workers"]

log = logging.getLogger(__name__)

MAX_WORKERS = 3  # drawing scales little past this (and the study's own stages want the cores too)


def default_workers() -> int:
    """Worker processes for the figures: one per core, at most :data:`MAX_WORKERS`."""
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def can_fork() -> bool:
    """Whether workers may be forked here: on Linux, from a process whose other Python threads (if any) are
    daemon helpers such as tqdm's monitor (from Python 3.12 on, which warns about any thread: none at all)."""
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if sys.version_info >= (3, 12):
        return sys.platform == "linux" and not others
    return sys.platform == "linux" and all(t.daemon for t in others)


def drawing_code_hash() -> str:
    """Hash of the modules that draw figures: editing a figure function redraws the cached figures."""
    import musicneurons.figures as package
    from musicneurons.study import figure_plans

    h = hashlib.sha256()
    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    h.update(Path(figure_plans.__file__).read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class DrawTask:
    """One figure to draw, as sent to a worker: everything it needs, nothing it can load itself."""

    figure: str  # a name in the figure table
    base: Path  # file path without extension
    files: Mapping[str, Path]  # stage -> artifact file
    summary: Mapping[str, Any]
    settings: FigureSettings
    formats: tuple[str, ...]
    key: str


# --------------------------------------------------------------------------- in a worker (or in line)
_LOADED: dict[tuple[str, int, int], Any] = {}  # artifacts a worker has read: (path, size, mtime) -> value


def _load_file(path: Path) -> Any:
    """An artifact read from its file, kept for the next figure this process draws."""
    stat = path.stat()
    cache_key = (str(path), stat.st_size, stat.st_mtime_ns)
    if cache_key not in _LOADED:
        if len(_LOADED) > 16:
            _LOADED.clear()
        _LOADED[cache_key] = FORMATS[path.suffix][1](path)
    return _LOADED[cache_key]


def _file_loader(files: Mapping[str, Path]) -> Any:
    return lambda name: _load_file(files[name]) if name in files else None


def _save(
    fig: Any,
    base: Path,
    formats: Sequence[str],
    meta: Mapping[str, Any] | None,
    started: tuple[float, float] | None = None,
) -> None:
    """Write the figure's files and, with ``meta``, its sidecar (with the seconds since ``started``:
    ``perf_counter()`` and ``process_time()`` when the figure began)."""
    from musicneurons.figures.saving import save_figure

    save_figure(fig, base, formats=formats)
    if "svg" not in formats:
        base.with_suffix(".svg").unlink(missing_ok=True)  # an SVG of an older drawing would now be stale
    if meta is not None:
        png = base.with_suffix(".png")
        seconds = {} if started is None else _seconds(*started)
        write_json(png.with_name(png.name + ".meta.json"), {**meta, **seconds, "bytes": png.stat().st_size})


def draw(task: DrawTask, view: FigureView | None = None) -> str:
    """Draw and save one figure (reading its artifacts from their files unless ``view`` is given); its
    sidecar records the seconds it took (wall and CPU, loading its artifacts included)."""
    started = time.perf_counter(), time.process_time()
    view = view or FigureView(_file_loader(task.files), task.summary, task.settings)
    fig = FIGURES_BY_NAME[task.figure].draw(view)
    _save(fig, task.base, task.formats, {"stage": f"figure:{task.figure}", "key": task.key}, started)
    return task.figure


def _seconds(started: float, cpu: float) -> dict[str, float]:
    """Wall and CPU seconds since ``perf_counter()`` was ``started`` and ``process_time()`` was ``cpu``."""
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
    }


def _draw_preview(
    base: Path, sentences: Sequence[str], panels: Sequence[tuple[str, Path]], formats: tuple[str, ...]
) -> str:
    from musicneurons.figures.preview import report_preview_figure

    _save(report_preview_figure(sentences, panels), base, formats, None)
    return "preview"


def _warm() -> int:
    """Nothing: one per worker, so that the workers start (fork) as soon as the renderer does."""
    return os.getpid()


# --------------------------------------------------------------------------- in the study's process
class FigureRenderer:
    """Draws the figures of the study's parts, in worker processes (``workers`` > 0) or in line (0).

    Use as a context manager; :meth:`submit` returns the report entries at once, :meth:`wait` blocks until
    every figure submitted so far is written (and raises the first error a figure met).
    """

    def __init__(self, *, workers: int | None = None, svg: bool = False, overwrite: bool = False) -> None:
        self.workers = default_workers() if workers is None else max(0, workers)
        self.formats = ("png", "svg") if svg else ("png",)
        self.overwrite = overwrite
        self.code = drawing_code_hash()
        self._pending: list[Future[Any]] = []
        self._planned: dict[Path, dict[str, FigureEntry | None]] = {}  # part folder -> figure -> entry
        self._pool: ProcessPoolExecutor | None = None
        self.blocked = 0.0  # seconds the study's own process spent on figures (drawing in line, waiting)
        self._drawn: list[Path] = []  # figures drawn (or handed to a worker) by this renderer
        if self.workers and not can_fork():
            log.info("figures drawn in this process: forking is unsafe here (other threads, or not Linux)")
            self.workers = 0
        if self.workers:
            import musicneurons.figures.preview  # noqa: F401  (imported once, before the workers fork)

            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
            self._pending += [self._pool.submit(_warm) for _ in range(self.workers)]  # forks them now

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(cancel=exc[0] is not None)

    def close(self, *, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None

    def _up_to_date(self, base: Path, key: str) -> bool:
        png = base.with_suffix(".png")
        meta = None if self.overwrite else read_meta(png)
        return (
            meta is not None
            and meta.get("key") == key
            and all(base.with_suffix(f".{ext}").exists() for ext in self.formats)
        )

    def submit(
        self,
        folder: Path,
        data: Mapping[str, Any],
        files: Mapping[str, Path],
        keys: Mapping[str, str],
        summary: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        settings: FigureSettings,
        absent: Collection[str] = (),
    ) -> list[FigureEntry]:
        """Hand to a worker (or draw) every figure of a part whose artifacts are all there, if not up to date.

        Call it after each stage: a figure starts as soon as the stages it shows have run, while the others
        compute. ``data`` holds the part's artifacts in memory (to plan, and to draw in line), ``files`` the
        same artifacts' files (read by the workers), ``keys`` their stage keys, ``summary`` the part's
        numbers so far (or a function that computes them, called only when a figure is ready), ``absent``
        the stages passed over in this part so far (an optional input, ``name?``, is ready when it ran or
        was passed over). Returns the report entries of the part's figures planned so far, in table order; a
        figure whose stages never ran in this part is never planned.
        """
        planned = self._planned.setdefault(folder, {})
        ready = [
            spec
            for spec in FIGURES
            if spec.name not in planned
            and all(
                i.rstrip("?") in keys or (i.endswith("?") and i.rstrip("?") in absent)
                for i in (*BASE_INPUTS, *spec.inputs)
            )
        ]
        if ready:
            folder.mkdir(parents=True, exist_ok=True)
            numbers = summary() if callable(summary) else summary
            view = FigureView(data.get, numbers, settings)
            for spec in ready:
                planned[spec.name] = self._plan(spec, folder, view, files, keys)
        return [entry for spec in FIGURES if (entry := planned.get(spec.name)) is not None]

    def _plan(
        self,
        spec: FigureSpec,
        folder: Path,
        view: FigureView,
        files: Mapping[str, Path],
        keys: Mapping[str, str],
    ) -> FigureEntry | None:
        """The report entry of a figure (None if it does not apply); drawn or handed on unless up to date."""
        if not spec.when(view):
            return None
        base = folder / spec.name
        inputs = {i: keys[i] for i in (name.rstrip("?") for name in spec.inputs) if i in keys}
        key = stage_key(f"figure:{spec.name}", {"code": self.code}, inputs)
        entry = FigureEntry(spec.name, spec.heading, spec.caption_for(view), base.with_suffix(".png"))
        if self._up_to_date(base, key):
            return entry
        task = DrawTask(spec.name, base, dict(files), dict(view.summary), view.settings, self.formats, key)
        self._drawn.append(base)
        if self._pool is None:
            started = time.perf_counter()
            draw(task, view)
            self.blocked += time.perf_counter() - started
            log.info("figure %s", entry.png)
        else:
            self._pending.append(self._pool.submit(draw, task))
        return entry

    def submit_preview(
        self, base: Path, sentences: Sequence[str], figures: Sequence[tuple[str, Sequence[FigureEntry]]]
    ) -> None:
        """The report's one-image preview: ``sentences`` above the first four :data:`PREVIEW_FIGURES` drawn.

        ``figures``: (part label, its entries) per part. Call after :meth:`wait` (it shows drawn figures).
        """
        panels = [
            (f"{label} model: {entry.heading}", entry.png)
            for label, entries in figures
            for name in PREVIEW_FIGURES
            for entry in entries
            if entry.name == name
        ][:4]
        base.parent.mkdir(parents=True, exist_ok=True)
        if self._pool is None:
            _draw_preview(base, sentences, panels, self.formats)
        else:
            self._pending.append(
                self._pool.submit(_draw_preview, base, list(sentences), panels, self.formats)
            )

    def wait(self) -> None:
        """Block until every submitted figure is written; raise the first error one of them met."""
        pending, self._pending = self._pending, []
        started = time.perf_counter()
        for future in pending:
            name = future.result()
            if isinstance(name, str):
                log.info("figure %s drawn", name)
        self.blocked += time.perf_counter() - started

    def timings(self) -> dict[str, float | int]:
        """The figures this renderer drew (call after :meth:`wait`): how many, and their seconds summed.

        ``seconds`` and ``cpu_seconds`` add each figure's own time in the process that drew it (from its
        sidecar); with workers the figures overlap one another and the stages, so ``blocked`` (the seconds
        the study's process spent drawing in line or waiting for the workers) is what they added to the
        study's wall time.
        """
        metas = [read_meta(base.with_suffix(".png")) or {} for base in self._drawn]
        return {
            "n": len(metas),
            "workers": self.workers,
            "seconds": round(sum(m.get("seconds", 0.0) for m in metas), 2),
            "cpu_seconds": round(sum(m.get("cpu_seconds", 0.0) for m in metas), 2),
            "blocked": round(self.blocked, 2),
        }

"""The files of a corpus run: finding them, checking them before any worker reads them, one file's windows.

Nothing here raises for a bad file: every problem becomes a manifest row (``status``, ``reason``). A file
is only opened if ``stat`` says it is a regular file of at most the size cap (FIFOs, devices, sockets,
broken symlinks and symlinks to devices are recorded, never read), and file names that are not valid
UTF-8 are kept (shown with ``\\xNN`` escapes in the tables).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicneurons.data.melody import MelodyConfig, Mode, extract_windows, split_pieces
from musicneurons.data.midi import MAX_FILE_BYTES, MidiReadError, MidiScore, file_kind, read_midi

__all__ = ["CorpusFile", "ManifestRow", "extract_file", "find_midi_files", "list_corpus"]

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")
STATUSES = ("ok", "no_windows", "unreadable", "error")  # manifest statuses, from best to worst


@dataclass(frozen=True)
class CorpusFile:
    """A file to extract: ``path`` relative to the corpus folder (as the OS names it), ``source`` (the same
    path as valid UTF-8, for the tables), size in bytes and modification time in ns (the cache key)."""

    path: str
    source: str
    size: int
    mtime_ns: int


# (source, status, reason, n_windows, n_notes, bytes, mtime_ns): one manifest row
ManifestRow = tuple[str, str, str, int, int, int, int]


def display_name(path: str) -> str:
    """``path`` as valid UTF-8: bytes that are not UTF-8 (a Latin-1 file name, say) become ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def find_midi_files(root: str | Path) -> list[str]:
    """Paths of the MIDI files under ``root`` (recursive), relative and ``/``-separated, sorted.

    Hidden folders are skipped; names are as the OS gives them (not always valid UTF-8, see
    :func:`display_name`).
    """
    return _walk(Path(root), [])


def _walk(root: Path, unlisted: list[tuple[str, str]]) -> list[str]:
    """:func:`find_midi_files`, recording folders that cannot be listed in ``unlisted`` as (path, why)."""

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else "."
        unlisted.append((where + "/", exc.strerror or str(exc)))

    found = []
    for folder, dirs, files in os.walk(root, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.lower().endswith(MIDI_SUFFIXES):
                found.append(Path(folder, name).relative_to(root).as_posix())
    return sorted(found)


def list_corpus(root: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[CorpusFile], list[ManifestRow]]:
    """The readable candidates under ``root``, and manifest rows for what is refused without reading.

    Refused: broken symlinks, anything that is not a regular file (FIFO, device, socket, a symlink to
    one), files over ``max_bytes``, files whose ``stat`` fails, and folders that cannot be listed.
    """
    unlisted: list[tuple[str, str]] = []
    paths = _walk(root, unlisted)
    files, refused = [], []
    for folder, why in unlisted:
        refused.append((display_name(folder), "unreadable", f"cannot list folder: {why}", 0, 0, 0, 0))
    for rel in paths:
        source = display_name(rel)
        full = root / rel
        try:
            info = full.stat()  # follows symlinks; never opens the file
        except OSError as exc:
            broken = full.is_symlink()
            reason = "broken symbolic link" if broken else f"cannot read file: {exc.strerror or exc}"
            refused.append((source, "unreadable", reason, 0, 0, 0, 0))
            continue
        if not stat.S_ISREG(info.st_mode):
            reason = f"not a regular file ({file_kind(info.st_mode)}): not read"
            refused.append((source, "unreadable", reason, 0, 0, 0, info.st_mtime_ns))
        elif info.st_size > max_bytes:
            reason = f"file of {info.st_size:,} bytes exceeds the size cap of {max_bytes:,} bytes: not read"
            refused.append((source, "unreadable", reason, 0, 0, info.st_size, info.st_mtime_ns))
        else:
            files.append(CorpusFile(rel, source, info.st_size, info.st_mtime_ns))
    return files, refused


def extract_file(path: str | Path, config: MelodyConfig, mode: Mode = "all", max_bytes: int = MAX_FILE_BYTES):
    """Windows of one file plus its manifest fields; never raises for a bad file.

    Returns
    -------
    (status, reason, n_notes, table)
        ``table`` is a :class:`musicneurons.data.melody.WindowTable` (None unless status is ``ok``).
        ``unreadable``: not MIDI Magenta could read, or not a regular file, or over ``max_bytes``;
        ``error``: anything else that went wrong (out of memory, a bug), with the exception's name.
    """
    try:
        score = read_midi(path, max_bytes=max_bytes)
    except MidiReadError as exc:
        return "unreadable", str(exc), 0, None
    except OSError as exc:
        return "unreadable", f"cannot read file: {exc.strerror or exc}", 0, None
    except Exception as exc:  # MemoryError, or a bug: never stop a corpus run
        log.warning("reading %s failed", display_name(str(path)), exc_info=True)
        return "error", f"{type(exc).__name__} while reading: {exc}", 0, None
    try:
        table = extract_windows(score, config, mode=mode)
    except Exception as exc:  # a bug or an unforeseen input must not stop a corpus run
        log.warning("extraction failed for %s", display_name(str(path)), exc_info=True)
        return "error", f"{type(exc).__name__}: {exc}", score.n_notes, None
    if len(table) == 0:
        return "no_windows", why_no_windows(score, config), score.n_notes, None
    return "ok", "", score.n_notes, table


def why_no_windows(score: MidiScore, config: MelodyConfig) -> str:
    """A short human reason for a readable file that yields no window."""
    if score.n_notes == 0:
        return "no notes"
    if score.is_drum.all():
        return "drums only"
    pieces = split_pieces(score)
    meters = {(p.numerator, p.denominator) for p in pieces}
    good = [p for p in pieces if config.steps_per_quarter * 4.0 / p.denominator * p.numerator == 16]
    if not good:
        listed = ", ".join(f"{n}/{d}" for n, d in sorted(meters))
        return f"time signature {listed}: Magenta needs 16 steps per bar (4/4, 2/2, ...)"
    programs = "any program" if config.valid_programs is None else "programs 0-31"
    usable = ~score.is_drum & (score.pitch >= config.min_pitch) & (score.pitch <= config.max_pitch)
    if config.valid_programs is not None:
        usable &= np.isin(score.program, config.valid_programs)
    if not usable.any():
        return f"no non-drum notes with {programs} and pitch {config.min_pitch}..{config.max_pitch}"
    return f"no melody spans {config.slice_bars} bars of 4/4 (gaps, short pieces or tempo changes)"

"""Name the software a run used: the versions recorded beside results (``encode.json``, the study's sidecars
and run records), so that a number can be traced to the code and libraries that produced it."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

__all__ = ["versions"]


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

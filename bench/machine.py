"""What every benchmark prints beside its numbers: the CPU model and the load average.

The benchmarks run as scripts (``python bench/NAME.py``), so this folder is on ``sys.path`` and they import
this module as ``machine``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. ``"2.31 4.08 6.35"``."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())

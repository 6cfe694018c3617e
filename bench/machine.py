"""What every benchmark prints beside its numbers: the CPU model and the load average.

The benchmarks run as scripts (``python bench/NAME.py``), so this folder is on ``sys.path`` and they import
this module as ``machine``.
"""

from __future__ import annotations

import argparse
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


def rerun_per_wait_policy(policy: str, script: str, argv: list[str], *extra: str) -> None:
    """Run ``script`` again with ``argv`` minus its ``--policy`` option (plus ``extra``) once per OpenMP wait
    policy: ``passive`` (OMP_WAIT_POLICY=PASSIVE), ``default`` (unset: OpenMP spins) or ``both`` in turn.

    The policy must be set before torch loads, hence a fresh process per policy.
    """
    import subprocess
    import sys

    rest, skip = [], False
    for a in argv:
        if skip or a == "--policy" or a.startswith("--policy="):
            skip = a == "--policy"
            continue
        rest.append(a)
    for value in {"passive": ["PASSIVE"], "default": [None], "both": ["PASSIVE", None]}[policy]:
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if value is not None:
            env["OMP_WAIT_POLICY"] = value
        subprocess.run([sys.executable, script, *rest, *extra], env=env, check=True)


def add_policy_option(parser: argparse.ArgumentParser, default: str) -> None:
    """The ``--policy`` option :func:`rerun_per_wait_policy` reads (``current``: as the environment says)."""
    parser.add_argument(
        "--policy",
        choices=("current", "passive", "default", "both"),
        default=default,
        help="OMP_WAIT_POLICY: as set now, PASSIVE, unset (OpenMP's spin-wait), or both in turn",
    )

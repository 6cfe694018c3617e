"""Seeded subsets of rows: which windows an analysis uses when there are more than it needs."""

from __future__ import annotations

import numpy as np


def seeded_subset(n: int, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Rows (sorted, so in corpus order) of a subset of at most ``cap`` of ``n`` rows.

    All ``n`` rows (``np.arange(n)``, nothing drawn) when ``cap`` is None or at least ``n``; otherwise ``cap``
    rows drawn uniformly without replacement by one ``rng.choice(n, cap, replace=False)``.
    """
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))

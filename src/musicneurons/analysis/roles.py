"""Which neuron plays which role: the pitch, rhythm and melody neurons from a table of φ_K values.

The paper names neurons after the music features they correlate with most (the "pitch neuron" and the
"rhythm neuron" of Figs. 7-9, the melody-neuron candidates of Fig. 12). Here the choice is a rule over a
long φ_K table, so that it can be stated and checked:

- a neuron's **score** for a feature group (P pitch, R rhythm, M melody) is the mean of its
  ``TOP_SCORE`` (3) largest φ_K with features of that group (:func:`group_scores`);
- the **pitch neuron** has the largest P score, the **rhythm neuron** the largest R score
  (:func:`neuron_role`; ties go to the smaller rank, i.e. the more specific neuron);
- **melody-neuron candidates** are music neurons whose M score beats both their P and their R score and is
  at least ``min_score`` (:func:`melody_candidates`).

Tables
------
phik : long table, one row per (feature, neuron): ``feature``, ``group`` (P/R/M, anything else is ignored),
    ``rank`` (1 = the neuron with the smallest mean σ), ``phik`` (NaN for an undefined value: ignored).
neurons : one row per latent dimension: ``rank`` and ``dim`` (its index in the model's z).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

GROUP_NAMES = {"P": "pitch", "R": "rhythm", "M": "melody"}
TOP_SCORE = 3  # a neuron's score for a feature group: the mean of its TOP_SCORE largest φ_K in that group
MIN_MELODY_SCORE = 0.1  # a melody-neuron candidate needs at least this melody score


def group_scores(phik: pd.DataFrame, *, top: int = TOP_SCORE) -> pd.DataFrame:
    """Per neuron rank (rows, sorted) and group P/R/M (columns): the mean of its ``top`` largest φ_K there.

    A neuron with fewer than ``top`` defined values in a group is scored on those it has; a group with none
    is NaN.
    """
    rows = phik[phik["group"].isin(list(GROUP_NAMES))].dropna(subset=["phik"])

    def score(values: pd.Series) -> float:
        return float(np.sort(values.to_numpy())[::-1][:top].mean())

    table = rows.groupby(["rank", "group"])["phik"].apply(score).unstack("group")
    return table.reindex(columns=list(GROUP_NAMES))


def neuron_role(
    phik: pd.DataFrame, neurons: pd.DataFrame, group: str, *, top_features: int = 6
) -> dict[str, Any]:
    """The neuron whose score for ``group`` (P, R or M; see :func:`group_scores`) is the highest.

    Returns ``{"rank", "dim", "score", "top_features"}``: its rank and latent dimension, its score, and its
    ``top_features`` strongest features of that group as ``{"feature", "phik"}``, strongest first. An empty
    dict when no neuron has a defined φ_K in the group.
    """
    scores = group_scores(phik)[group].dropna()
    if scores.empty:
        return {}
    rank = int(scores.index.to_numpy()[scores.to_numpy().argmax()])  # the first maximum, as idxmax
    rows = phik[(phik["rank"] == rank) & (phik["group"] == group)].dropna(subset=["phik"])
    rows = rows.sort_values("phik", ascending=False).head(top_features)
    dim = int(neurons.loc[neurons["rank"] == rank, "dim"].iloc[0])
    return {
        "rank": rank,
        "dim": dim,
        "score": float(scores.max()),
        "top_features": [
            {"feature": f, "phik": float(v)} for f, v in zip(rows["feature"], rows["phik"], strict=True)
        ],
    }


def neuron_roles(phik: pd.DataFrame, neurons: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``{"pitch_neuron": ..., "rhythm_neuron": ..., "melody_neuron": ...}`` from :func:`neuron_role`."""
    return {f"{word}_neuron": neuron_role(phik, neurons, g) for g, word in GROUP_NAMES.items()}


def melody_candidates(phik: pd.DataFrame, n_music: int, *, min_score: float = MIN_MELODY_SCORE) -> list[int]:
    """Ranks of the music neurons (rank <= ``n_music``) whose melody score beats their pitch and rhythm score.

    The melody score must also reach ``min_score``; a missing group score counts as 0.
    """
    scores = group_scores(phik)
    scores = scores[scores.index <= n_music].fillna(0.0)
    keep = (scores["M"] > scores["P"]) & (scores["M"] > scores["R"]) & (scores["M"] >= min_score)
    return [int(r) for r in scores.index[keep]]

"""Causal probes: move one latent neuron, decode greedily, and see which features follow.

For each chosen neuron j and each probe window x, z = mu(x) with z_j shifted by ``grid * spread_j`` (the
others fixed; ``spread_j`` = the standard deviation of mu_j over a corpus), decoded greedily (temperature 0:
sampling noise would swamp small changes), and every feature of ``musicneurons.features`` is recomputed on
the decodes (Pati & Lerch 2021's attribute sweep; the paper only correlates). Per (neuron, feature):

- ``spearman``: Spearman rho between the shift and the feature's change from the window's own unshifted
decode,
  pooled over windows (0 where the feature never changes);
- ``slope``: least-squares slope of that change on the shift (feature units per spread of the neuron), and
  ``slope_std``: the same in standard deviations of the feature over the unshifted decodes;
- ``monotonicity``: latte's score along each window's traversal (mean sign of the steps that change the
  feature by more than 1e-3; NaN when none does), averaged over the windows where it is defined;
- ``change_share``: the share of grid steps (over all windows) that change the feature at all. Greedy decodes
  are piecewise constant in z, so read monotonicity beside it.

A feature that is NaN for a decode (e.g. an interval feature of a one-note decode) drops that point from rho
and slope and leaves the steps around it uncounted by monotonicity and change_share. Noise neurons are the
control: moving them should change nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

from musicneurons.analysis.disentanglement import monotonicity

log = logging.getLogger(__name__)

DEFAULT_GRID = np.linspace(-3.0, 3.0, 7)  # shifts, in units of the neuron's spread of mu over the corpus
DEFAULT_TOP_K = 8  # music neurons probed by default
CHANGE_EPS = 1e-3  # latte's eps: smaller feature changes count as none


class DecodingModel(Protocol):
    """The part of ``musicneurons.model.inference.TrainedModel`` that the probes need."""

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def decode(self, z: np.ndarray, length: int | None = None, temperature: float = 1.0) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class InterventionResult:
    """Result of :func:`intervention_effects`.

    Attributes
    ----------
    effects : DataFrame
        One row per (neuron, feature): ``neuron``, ``label``, ``feature``, ``group``, ``spearman``, ``slope``,
        ``slope_std``, ``monotonicity``, ``change_share``, ``n_points`` (finite points used).
    by_group : DataFrame
        One row per (neuron, feature group): ``neuron``, ``label``, ``group``, ``mean_abs_spearman``,
        ``mean_change_share``; per neuron, the P / R / M group of the feature it moves most (``top_group``).
    decodes : DataFrame
        One row per (neuron, window, shift): ``neuron``, ``window``, ``shift``, ``changed`` (the decode
        differs from the unshifted one) and every feature value.
    grid : ndarray
        The shifts, in spreads.
    """

    effects: pd.DataFrame
    by_group: pd.DataFrame
    decodes: pd.DataFrame
    grid: np.ndarray


def _default_features(windows: np.ndarray, qpm: np.ndarray) -> pd.DataFrame:
    from musicneurons.features.registry import compute_features

    return compute_features(windows, qpm)


def _default_groups(columns: Sequence[str]) -> dict[str, str]:
    from musicneurons.features.registry import FEATURES

    return {c: FEATURES[c].group if c in FEATURES else "extra" for c in columns}


def _pooled(shift: np.ndarray, delta: np.ndarray) -> tuple[float, float, int]:
    """(Spearman rho, slope, n) of delta (n_windows, n_grid) on shift (n_grid,), NaN points dropped."""
    x = np.broadcast_to(shift, delta.shape).ravel()
    y = delta.ravel()
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if y.size < 3:
        return float("nan"), float("nan"), int(y.size)
    if np.ptp(y) <= CHANGE_EPS:
        return 0.0, 0.0, int(y.size)
    rho = float(stats.spearmanr(x, y).statistic)
    slope = float(np.polyfit(x, y, 1)[0])
    return rho, slope, int(y.size)


def _neuron_effects(grid: np.ndarray, values: np.ndarray, base: int, columns: Sequence[str]) -> list[dict]:
    """Rows of ``effects`` for one neuron; ``values`` (n_windows, n_grid, n_features)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature NaN on every unshifted decode: NaN std
        spread_of_feature = np.nanstd(values[:, base, :], axis=0)
    with np.errstate(invalid="ignore"):
        steps = np.abs(np.diff(values, axis=1)) > CHANGE_EPS  # NaN -> False
    for f, column in enumerate(columns):
        v = values[:, :, f]
        rho, slope, n = _pooled(grid, v - v[:, base : base + 1])
        mono = monotonicity(grid, v[:, :, None])[:, 0]
        rows.append(
            {
                "feature": column,
                "spearman": rho,
                "slope": slope,
                "slope_std": slope / spread_of_feature[f] if spread_of_feature[f] > 0 else float("nan"),
                "monotonicity": float(np.nanmean(mono)) if np.isfinite(mono).any() else float("nan"),
                "change_share": float(steps[:, :, f].mean()),
                "n_points": n,
            }
        )
    return rows


def _validate(mu: np.ndarray, neurons: np.ndarray, spread: np.ndarray, grid: np.ndarray) -> None:
    if neurons.size and (neurons.min() < 0 or neurons.max() >= mu.shape[1]):
        msg = f"neurons must be in 0..{mu.shape[1] - 1}, got {neurons.tolist()}"
        raise ValueError(msg)
    if spread.shape != (mu.shape[1],) or not np.isfinite(spread).all():
        msg = f"spread must be finite with shape ({mu.shape[1]},), got {spread.shape}"
        raise ValueError(msg)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0) or 0.0 not in grid:
        msg = f"grid must be increasing, hold 0 and at least two shifts, got {grid.tolist()}"
        raise ValueError(msg)


def intervention_effects(
    model: DecodingModel,
    windows: object,
    neurons: Sequence[int],
    *,
    labels: Sequence[str] | None = None,
    mu: object | None = None,
    spread: object | None = None,
    grid: object = DEFAULT_GRID,
    qpm: float | np.ndarray = 120.0,
    features: Callable[[np.ndarray, np.ndarray], pd.DataFrame] | None = None,
    feature_groups: dict[str, str] | None = None,
) -> InterventionResult:
    """Shift each neuron's mu along ``grid``, decode greedily and measure how every feature follows.

    Parameters
    ----------
    model : TrainedModel or any object with ``encode`` and ``decode(z, temperature=0)``
    windows : ndarray of int, shape (n_windows, T)
        Probe windows (90-class indices).
    neurons : sequence of int
        Latent dimensions to move, e.g. the top-k music neurons then a few noise neurons.
    labels : sequence of str, optional
        One label per neuron (e.g. ``"music"`` / ``"noise"``); default ``"neuron"``.
    mu : ndarray, shape (n_windows, z_size), optional
        Posterior means of ``windows`` (``model.encode`` when omitted).
    spread : ndarray, shape (z_size,), optional
        Unit of the shifts per dimension: the std of mu over the corpus. Default: over the probe windows.
    grid : sequence of float
        Increasing shifts in spreads, holding 0 (default -3, -2, ..., 3).
    qpm : float or ndarray (n_windows,)
        Tempo of each probe window, reused for its decodes (rhythm features are in seconds).
    features : callable, optional
        ``(windows, qpm) -> DataFrame`` of features; default ``musicneurons.compute_features``.
    feature_groups : dict, optional
        Feature -> group (default: the registry's P / R / M, ``"extra"`` for the extra descriptors).
    """
    w = np.asarray(windows)
    m = np.asarray(model.encode(w)[1] if mu is None else mu, dtype=np.float32)
    dims = np.asarray(neurons, dtype=np.int64).ravel()
    g = np.asarray(grid, dtype=np.float64).ravel()
    s = np.asarray(m.std(axis=0) if spread is None else spread, dtype=np.float64).ravel()
    _validate(m, dims, s, g)
    labels = ["neuron"] * dims.size if labels is None else list(labels)
    base = int(np.flatnonzero(g == 0.0)[0])
    n, steps = w.shape
    tempo = np.broadcast_to(np.asarray(qpm, dtype=np.float64), (n,))
    unshifted = np.asarray(model.decode(m, temperature=0.0))
    shifted = []
    for j in dims:
        z = np.repeat(m[:, None, :], g.size, axis=1)  # (n, grid, z_size)
        z[:, :, j] += (g * s[j]).astype(np.float32)
        moved = np.delete(z, base, axis=1).reshape(-1, m.shape[1])
        decoded = np.asarray(model.decode(moved, temperature=0.0)).reshape(n, g.size - 1, steps)
        shifted.append(np.insert(decoded, base, unshifted, axis=1))
        log.debug("intervention on neuron %d: %d decodes", j, moved.shape[0])
    all_decodes = np.stack(shifted) if shifted else np.zeros((0, n, g.size, steps), np.int8)  # (k, n, g, T)
    compute = _default_features if features is None else features
    table = compute(all_decodes.reshape(-1, steps), np.tile(np.repeat(tempo, g.size), dims.size))
    columns = list(table.columns)
    values = table.to_numpy(dtype=np.float64).reshape(dims.size, n, g.size, len(columns))
    groups = _default_groups(columns) if feature_groups is None else feature_groups
    effects = []
    for i, j in enumerate(dims):
        for row in _neuron_effects(g, values[i], base, columns):
            effects.append(
                {"neuron": int(j), "label": labels[i], "group": groups.get(row["feature"], ""), **row}
            )
    effects_frame = pd.DataFrame(effects)
    changed = (all_decodes != unshifted[None, :, None, :]).any(axis=-1)
    index = pd.MultiIndex.from_product([dims, np.arange(n), g], names=["neuron", "window", "shift"])
    decodes = pd.DataFrame(values.reshape(-1, len(columns)), columns=columns, index=index).reset_index()
    decodes.insert(3, "changed", changed.ravel())
    return InterventionResult(effects_frame, effects_by_group(effects_frame), decodes, g)


def effects_by_group(effects: pd.DataFrame, main_groups: Sequence[str] = ("P", "R", "M")) -> pd.DataFrame:
    """Mean |rho| and mean change share per (neuron, feature group), and ``top_group``: the group of the
    feature with the largest |rho| among ``main_groups`` (any group when the neuron moves none of those)."""
    if effects.empty:
        columns = ["neuron", "label", "group", "mean_abs_spearman", "mean_change_share", "top_group"]
        return pd.DataFrame(columns=columns)
    ranked = effects.assign(abs_spearman=effects["spearman"].abs().fillna(0.0))
    table = (
        ranked.groupby(["neuron", "label", "group"], sort=False)
        .agg(mean_abs_spearman=("abs_spearman", "mean"), mean_change_share=("change_share", "mean"))
        .reset_index()
    )
    preferred = ranked.assign(main=ranked["group"].isin(list(main_groups)))
    preferred = preferred.sort_values(["main", "abs_spearman"], ascending=False, kind="stable")
    top = preferred.drop_duplicates("neuron")[["neuron", "group"]]
    return table.merge(top.rename(columns={"group": "top_group"}), on="neuron")


def probe_neurons(order: object, is_music: object, *, top_k: int = DEFAULT_TOP_K, n_noise: int = 2) -> tuple:
    """The default neurons to move: the ``top_k`` most specific music neurons, then ``n_noise`` noise neurons
    (the least specific ones, closest to the prior). Returns ``(neurons, labels)``."""
    dims = np.asarray(order, dtype=np.int64).ravel()
    music = np.asarray(is_music, dtype=bool)
    music_dims = [int(j) for j in dims if music[j]][:top_k]
    noise_dims = [int(j) for j in dims[::-1] if not music[j]][:n_noise]
    return music_dims + noise_dims, ["music"] * len(music_dims) + ["noise"] * len(noise_dims)


@dataclasses.dataclass(frozen=True)
class ProbeRun:
    """Result of :func:`run_probes`: the effects and how they were chosen (``info``, ready for JSON)."""

    result: InterventionResult
    info: dict


def run_probes(
    model: DecodingModel,
    windows: object,
    *,
    rng: np.random.Generator,
    qpm: float | np.ndarray = 120.0,
    top_k: int = DEFAULT_TOP_K,
    n_noise: int = 2,
    n_windows: int = 200,
    grid: object = DEFAULT_GRID,
    mu: object | None = None,
    sigma: object | None = None,
) -> ProbeRun:
    """Causal probes of a model on a corpus, end to end (what ``musicneurons probe`` runs).

    Encodes every window (unless ``mu`` and ``sigma`` are given), splits music and noise neurons by mean sigma
    (``split_music_noise``), takes the ``top_k`` most specific music neurons and ``n_noise`` noise neurons
    (:func:`probe_neurons`), draws ``n_windows`` probe windows with ``rng`` and runs
    :func:`intervention_effects` with each neuron's spread of mu over the whole corpus.
    """
    from musicneurons.analysis.neurons import split_music_noise

    w = np.asarray(windows)
    if mu is None or sigma is None:
        _, mu, sigma = model.encode(w)
    m = np.asarray(mu, dtype=np.float32)
    split = split_music_noise(sigma)
    neurons, labels = probe_neurons(split.order, split.is_music, top_k=top_k, n_noise=n_noise)
    chosen = np.sort(rng.choice(len(w), size=min(n_windows, len(w)), replace=False))
    tempo = np.broadcast_to(np.asarray(qpm, dtype=np.float64), (len(w),))
    result = intervention_effects(
        model,
        w[chosen],
        neurons,
        labels=labels,
        mu=m[chosen],
        spread=m.std(axis=0),
        grid=grid,
        qpm=tempo[chosen],
    )
    info = {
        "n_corpus_windows": len(w),
        "n_probe_windows": int(chosen.size),
        "probe_windows": [int(i) for i in chosen],
        "n_music_neurons": split.n_music,
        "neurons": [int(j) for j in neurons],
        "labels": labels,
        "spread": [float(m[:, j].std()) for j in neurons],
        "grid": [float(x) for x in result.grid],
        "n_decodes": int(len(neurons) * chosen.size * (result.grid.size - 1) + chosen.size),
        "top_group": {
            str(r.neuron): r.top_group for r in result.by_group.drop_duplicates("neuron").itertuples()
        },
    }
    return ProbeRun(result, info)

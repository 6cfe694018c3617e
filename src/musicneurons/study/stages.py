"""The study's stages as plain functions: each computes one artifact from arrays and tables, nothing else.

:mod:`musicneurons.study.pipeline` decides the order, the file names and the caching (through
:func:`musicneurons.study.artifacts.cached`); the functions here only compute. Latent arrays are in the
model's own dimension order; ``neurons["dim"]`` (sorted by ``rank``) gives the specificity order.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from musicneurons.constants import DEFAULT_QPM

if TYPE_CHECKING:
    from musicneurons.model.inference import TrainedModel

log = logging.getLogger(__name__)

ENCODE_CHUNK = 2048  # windows per progress-bar tick when encoding
FEATURE_CHUNK = 20_000  # windows per call of the feature code (bounds its intermediate arrays)


# --------------------------------------------------------------------------- fingerprints
def model_fingerprint(model: TrainedModel) -> str:
    """The fingerprint of a model's weights (same weights, same key, whatever their source): the one
    ``encode.json`` records, :func:`musicneurons.encode.latents.model_fingerprint`. The config is not in it
    (the study's stage keys name it beside the fingerprint)."""
    from musicneurons.encode.latents import model_fingerprint as weights_fingerprint

    return weights_fingerprint(model.module.state_dict())


def windows_fingerprint(windows: np.ndarray, qpm: np.ndarray) -> str:
    """Hash of a window array and its tempi."""
    h = hashlib.sha256(np.ascontiguousarray(windows, dtype=np.int8).tobytes())
    h.update(str(windows.shape).encode())
    h.update(np.ascontiguousarray(qpm, dtype=np.float64).tobytes())
    return h.hexdigest()[:20]


# --------------------------------------------------------------------------- data stages
def select_windows(
    windows: np.ndarray, frame: pd.DataFrame, *, max_windows: int | None, rng: np.random.Generator
) -> pd.DataFrame:
    """The study's window table: ``window_id``, ``source``, ``qpm``, provenance, ``window`` (list of classes).

    Keeps a random subset of ``max_windows`` rows (in corpus order) when the corpus is larger.
    """
    frame = frame.reset_index(drop=True).copy()
    if len(frame) != len(windows):
        msg = f"corpus table has {len(frame)} rows but {len(windows)} windows"
        raise ValueError(msg)
    if "window_id" not in frame:
        frame.insert(0, "window_id", np.arange(len(frame)))
    if "qpm" not in frame:
        frame["qpm"] = DEFAULT_QPM
    if "source" not in frame:
        frame["source"] = ""
    keep = np.arange(len(frame))
    if max_windows is not None and len(frame) > max_windows:
        keep = np.sort(rng.choice(len(frame), size=max_windows, replace=False))
    out = frame.iloc[keep].reset_index(drop=True)
    out["window"] = list(np.asarray(windows[keep], dtype=np.int8))
    return out


def window_array(table: pd.DataFrame) -> np.ndarray:
    """The ``window`` column of a window table as an int8 array (n, T)."""
    if not len(table):
        return np.zeros((0, 0), dtype=np.int8)
    return np.stack([np.asarray(w, dtype=np.int8) for w in table["window"]])


def encode_latents(
    model: TrainedModel,
    windows: np.ndarray,
    *,
    rng: np.random.Generator,
    progress: bool = True,
    desc: str = "",
) -> dict[str, np.ndarray]:
    """Posterior ``mu`` and ``sigma`` (float32, (n, z_size)) of every window, in chunks, with progress."""
    from tqdm.auto import tqdm

    n = len(windows)
    mu = np.empty((n, model.config.z_size), dtype=np.float32)
    sigma = np.empty_like(mu)
    with tqdm(total=n, desc=desc or "encode", unit="win", disable=not progress, leave=False) as bar:
        for start in range(0, n, ENCODE_CHUNK):
            sl = slice(start, min(start + ENCODE_CHUNK, n))
            _, mu[sl], sigma[sl] = model.encode(windows[sl], rng=rng)
            bar.update(sl.stop - sl.start)
    return {"mu": mu, "sigma": sigma}


def stored_latents(
    model: TrainedModel, folder: str, window_ids: np.ndarray, windows: np.ndarray, n_check: int = 8
) -> dict[str, np.ndarray]:
    """μ and σ of the studied windows, read from a latents folder of ``musicneurons encode`` (``--latents``).

    The folder must name this model (its weights' fingerprint in ``encode.json``) and hold every studied id;
    ``n_check`` windows spread over the set are encoded again and must agree with the stored μ (to 1e-4 in
    fp32, 2e-2 when either side used bf16 or float16), which catches latents of other windows under the
    same ids. Raises StudyError naming what does not match.
    """
    from musicneurons.encode.latents import read_records
    from musicneurons.errors import UserError
    from musicneurons.study.config import StudyError
    from musicneurons.study.corpus_stats import stored_chunks

    records = read_records(folder)
    if not records:
        msg = f"--latents {folder}: no encode.json here (write the folder with `musicneurons encode`)"
        raise StudyError(msg)
    ours = model_fingerprint(model)
    theirs = {r.get("model_fingerprint") for r in records}
    if theirs != {ours}:
        names = ", ".join(str(t)[:12] for t in sorted(map(str, theirs)))
        msg = f"--latents {folder} was encoded by another model (weights {names}..., this one "
        msg += f"{ours[:12]}...); give the --model that encoded it"
        raise StudyError(msg)
    try:  # one record batch at a time (memory: the studied rows plus one batch)
        mu = sigma = np.zeros((0, 0), dtype=np.float32)
        for rows, batch_mu, batch_sigma in stored_chunks(folder, np.asarray(window_ids, dtype=np.int64)):
            if not mu.size:
                mu = np.empty((len(window_ids), batch_mu.shape[1]), dtype=np.float32)
                sigma = np.empty_like(mu)
            mu[rows], sigma[rows] = batch_mu, batch_sigma
    except UserError as exc:
        msg = f"--latents: {exc}; encode the same windows as the study reads (--windows)"
        raise StudyError(msg) from exc
    low = model.precision == "bf16" or any(
        r.get("precision") == "bf16" or r.get("dtype") == "float16" for r in records
    )
    tolerance = 2e-2 if low else 1e-4
    pick = np.unique(np.linspace(0, len(windows) - 1, min(n_check, len(windows))).astype(int))
    _, fresh, _ = model.encode(windows[pick], rng=np.random.default_rng(0))
    gap = np.abs(fresh - mu[pick]).max(axis=1)
    if np.any(gap > tolerance):
        row = pick[int(np.argmax(gap))]
        msg = f"--latents {folder}: window_id {window_ids[row]} has stored mu {gap.max():.3g} away from what "
        msg += "the model gives for the studied window: the latents were computed from other windows"
        raise StudyError(msg)
    return {"mu": mu, "sigma": sigma}


def features_table(
    windows: np.ndarray, qpm: np.ndarray, window_id: np.ndarray, chunk: int = FEATURE_CHUNK
) -> pd.DataFrame:
    """music21 jSymbolic features (and extras) per window at its own tempo, keyed by ``window_id``.

    Computed ``chunk`` windows at a time (each window's features depend on that window only), so the
    intermediate note tables stay the size of one chunk.
    """
    from musicneurons.features.registry import compute_features

    qpm = np.asarray(qpm, dtype=np.float64)
    starts = range(0, max(len(windows), 1), chunk)
    parts = [
        compute_features(windows[a : a + chunk], qpm=qpm[a : a + chunk], convention="music21") for a in starts
    ]
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    table.insert(0, "window_id", np.asarray(window_id))
    return table


def random_windows(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The paper's random 2-bar note sequences (§5.1), own tempi: ``windows`` (n, 32), ``qpm`` (n,)."""
    from musicneurons.data.random_melodies import random_melodies

    windows, qpm = random_melodies(n, rng)
    return {"windows": windows, "qpm": qpm}


def example_encoding(
    model: TrainedModel, window: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One melody through the model (Figs. 2-3): its mu, sigma, a posterior sample z, and argmax decodes.

    ``decoded_mu`` decodes the posterior mean, ``decoded_z`` the sample, both greedily (temperature 0), so
    the difference between them comes from the latent sample alone.
    """
    z, mu, sigma = model.encode(window[None], rng=rng)
    decoded_mu = model.decode(mu, temperature=0.0, rng=rng)
    decoded_z = model.decode(z, temperature=0.0, rng=rng)
    return {
        "window": window,
        "mu": mu[0],
        "sigma": sigma[0],
        "z": z[0],
        "decoded_mu": decoded_mu[0],
        "decoded_z": decoded_z[0],
    }


# --------------------------------------------------------------------------- analysis stages
def neurons_table(
    mu: np.ndarray,
    sigma: np.ndarray,
    mu_random: np.ndarray | None,
    *,
    sigma_threshold: float | None,
    stats: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per latent dimension in specificity order (columns: :mod:`musicneurons.study.summary`).

    With ``stats`` (:func:`musicneurons.study.corpus_stats.latent_stats` of every window) mean σ, mean and
    variance of μ, the split and the active units come from them; ``mu`` and ``sigma`` (the analysis subset)
    then serve only the comparison with random sequences.
    """
    from musicneurons.analysis import neurons

    kwargs = {} if sigma_threshold is None else {"threshold": sigma_threshold}
    if stats is None:
        split = neurons.split_music_noise(sigma, **kwargs)
        active = neurons.active_units(mu)
        mean_mu, var_mu = mu.mean(axis=0, dtype=np.float64), mu.var(axis=0, dtype=np.float64)
    else:
        split = neurons.split_music_noise(stats["mean_sigma"][None, :], **kwargs)  # the mean of one row
        mean_mu, var_mu = stats["mean_mu"], stats["var_mu"]
        active = var_mu > neurons.DEFAULT_ACTIVE_VARIANCE
    order = split.order
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "dim": order,
            "mean_sigma": split.mean_sigma[order],
            "mean_mu": mean_mu[order],
            "var_mu": var_mu[order],
            "is_music": split.is_music[order],
            "is_active": active[order],
            "sigma_threshold": split.threshold,
        }
    )
    if mu_random is not None and len(mu_random):
        ks, p = neurons.ks_per_neuron(mu, mu_random)
        table["ks_random"] = ks[order]
        table["ks_pvalue"] = p[order]
        table["mean_mu_random"] = mu_random.mean(axis=0, dtype=np.float64)[order]
    return table


def ordered_dims(neurons: pd.DataFrame) -> np.ndarray:
    """Latent dimension indices in specificity order."""
    return neurons.sort_values("rank")["dim"].to_numpy()


def latent_correlations(mu: np.ndarray, neurons: pd.DataFrame, n_dims: int) -> dict[str, np.ndarray]:
    """Pearson correlation of mu between the ``n_dims`` most specific dimensions (Fig. 5)."""
    from musicneurons.analysis.correlations import pearson_matrix

    dims = ordered_dims(neurons)[:n_dims]
    return {"corr": pearson_matrix(mu[:, dims]), "dims": dims}


def jsymbolic_columns(features: pd.DataFrame) -> list[str]:
    """The jSymbolic P/R/M feature columns (music21 ids), in table order."""
    from musicneurons.figures.features import feature_group

    return [c for c in features.columns if feature_group(c) in "PRM"]


def feature_correlations(features: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlations between the jSymbolic features (Fig. 6): square, with a ``feature`` column."""
    from musicneurons.analysis.correlations import pearson_matrix

    cols = jsymbolic_columns(features)
    corr = pearson_matrix(features[cols].to_numpy(dtype=np.float64))
    table = pd.DataFrame(corr, columns=cols)
    table.insert(0, "feature", cols)
    return table


def phik_table(features: pd.DataFrame, mu: np.ndarray, neurons: pd.DataFrame, n_neurons: int) -> pd.DataFrame:
    """φ_K between every feature column and the ``n_neurons`` most specific dimensions, as a long table."""
    from musicneurons.analysis.correlations import phik_cross
    from musicneurons.figures.features import feature_group

    cols = [c for c in features.columns if c != "window_id"]
    dims = ordered_dims(neurons)[:n_neurons]
    values = phik_cross(features[cols].to_numpy(dtype=np.float64), mu[:, dims])
    return pd.DataFrame(
        {
            "feature": np.repeat(cols, len(dims)),
            "group": np.repeat([feature_group(c) for c in cols], len(dims)),
            "rank": np.tile(np.arange(1, len(dims) + 1), len(cols)),
            "dim": np.tile(dims, len(cols)),
            "phik": values.ravel(),
        }
    )


def loess_curves(
    features: pd.DataFrame, mu: np.ndarray, requests: Sequence[tuple[int, int, str]]
) -> pd.DataFrame:
    """LOESS curves for (neuron rank, latent dim, feature) requests: long table ``rank``, ``feature``, ``x``,
    ``y``. A curve is cut where x has no data (``supported_segments``): a row of NaN separates the stretches,
    so a line drawn from the table breaks there instead of bridging the empty range. The span is
    :func:`~musicneurons.analysis.local_regression.loess_span` of the samples (0.3 unless that leaves fewer
    than 50 points per fit)."""
    from musicneurons.analysis.local_regression import loess_segments, loess_span

    parts = []
    for rank, dim, feature in dict.fromkeys(requests):  # unique, in order
        x, y = features[feature].to_numpy(dtype=np.float64), mu[:, dim].astype(np.float64)
        n = int((np.isfinite(x) & np.isfinite(y)).sum())
        # span 0.3, widened on small corpora so that every local fit has 50 points (no spikes)
        segments = loess_segments(x, y, frac=loess_span(n)) if n else []
        gap = (np.array([np.nan]), np.array([np.nan]))
        pieces = [arr for seg in segments for arr in (gap, seg)][1:] if segments else [(np.empty(0),) * 2]
        x = np.concatenate([p[0] for p in pieces])
        y = np.concatenate([p[1] for p in pieces])
        parts.append(pd.DataFrame({"rank": rank, "feature": feature, "x": x, "y": y}))
    if not parts:
        return pd.DataFrame({"rank": [], "feature": [], "x": [], "y": []})
    return pd.concat(parts, ignore_index=True)


def counts_table(
    mu: np.ndarray,
    window_id: np.ndarray,
    mu_random: np.ndarray | None,
    neurons: pd.DataFrame,
    threshold: float,
    stats: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per window, how many music and noise neurons have |mu| > ``threshold`` (Fig. 11), real and random.

    With ``stats`` (:func:`musicneurons.study.corpus_stats.latent_stats`, same threshold) the real rows are
    every window's, from its excitation bits; otherwise those of ``mu``.
    """
    from musicneurons.analysis.neurons import activation_counts
    from musicneurons.study.corpus_stats import excited_counts

    is_music = np.zeros(len(neurons), dtype=bool)
    is_music[neurons["dim"].to_numpy()] = neurons["is_music"].to_numpy()
    frames = []
    real = (mu, window_id) if stats is None else (stats["excited"], stats["window_id"])
    for kind, m, ids in (("real", *real), ("random", mu_random, None)):
        if m is None or not len(m):
            continue
        if stats is not None and kind == "real":
            music, noise = excited_counts(m, is_music)
        else:
            music, noise = activation_counts(m, is_music, threshold=threshold)
        frames.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "window_id": np.arange(len(m)) if ids is None else ids,
                    "n_music_active": music,
                    "n_noise_active": noise,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def attributes_table(features: pd.DataFrame, mu: np.ndarray, neurons: pd.DataFrame) -> pd.DataFrame:
    """Attribute vectors vs single music neurons for every jSymbolic feature (Pearson, in absolute value).

    Adds ``group`` and ``best_neuron_rank`` (specificity rank of the best single neuron) to
    :func:`musicneurons.analysis.attributes.compare_attribute_vectors`'s table.
    """
    from musicneurons.analysis.attributes import compare_attribute_vectors
    from musicneurons.figures.features import feature_group

    cols = jsymbolic_columns(features)
    music = neurons.sort_values("rank")
    music = music.loc[music["is_music"], "dim"].to_numpy()
    if len(music) == 0:
        music = ordered_dims(neurons)[:1]
    with np.errstate(invalid="ignore", divide="ignore"):
        table = compare_attribute_vectors(
            mu, features[cols].to_numpy(dtype=np.float64), dims=music, method="pearson", names=cols
        )
    rank_of = dict(zip(neurons["dim"], neurons["rank"], strict=True))
    table.insert(1, "group", [feature_group(c) for c in cols])
    table["best_neuron_rank"] = [rank_of.get(int(d), -1) for d in table["best_neuron"]]
    return table


def ablation_table(
    model: TrainedModel,
    windows: np.ndarray,
    mu: np.ndarray,
    neurons: pd.DataFrame,
    *,
    ks: Sequence[int],
    n_windows: int,
    rng: np.random.Generator,
    progress: bool = True,
    desc: str = "",
) -> pd.DataFrame:
    """Reconstruction accuracy keeping only the k most specific dims of μ, on a random subset of windows."""
    from tqdm.auto import tqdm

    from musicneurons.analysis.ablation import ablation_curve

    pick = np.sort(rng.choice(len(windows), size=min(n_windows, len(windows)), replace=False))
    order = ordered_dims(neurons)
    rows = [
        ablation_curve(model, windows[pick], order, ks=[k], mu=mu[pick])
        for k in tqdm(ks, desc=desc or "ablation", unit="k", disable=not progress, leave=False)
    ]
    table = pd.concat(rows, ignore_index=True)
    table["n_windows"] = len(pick)
    return table

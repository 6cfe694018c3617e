"""The explorer's state and its JSON API as plain functions: one model in memory, a corpus, neuron ranks.

Each ``api_*`` function takes the parsed JSON body (a dict) and returns a JSON-ready dict; bad input raises
:class:`ApiError` with an HTTP status, which the server turns into ``{"error": message}``. Windows are lists
of 90-class indices (0 = hold, 1 = note-off, k >= 2 = MIDI pitch k + 19) of the model's length; notes are
``{"pitch", "start", "end"}`` in seconds at :data:`~musicneurons.constants.DEFAULT_QPM` (the model's tempo).

Neurons are ranked by their mean posterior sigma over the corpus (smallest first, the paper's specificity);
the first ``n_music`` (mean sigma below 0.95) are the music neurons. With a study folder, its
``neurons.parquet`` gives the ranks and ``phik.parquet`` a role per neuron (its best φ_K feature).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicneurons.constants import DEFAULT_QPM, MUSIC_SIGMA_THRESHOLD, NUM_CLASSES, STEPS_PER_BAR
from musicneurons.data.encoding import windows_to_midi
from musicneurons.explore.generate import window_notes

log = logging.getLogger(__name__)

MAX_STEPS = 64  # interpolation / traversal points per request
MAX_CHANNELS = 1000  # latest-wins channels remembered (one per open page)
MAX_Z_ABS = 100.0  # |z_j| accepted by decode (the prior lives within +-5)


class ApiError(Exception):
    """A request the API refuses: ``status`` is the HTTP status (4xx), ``message`` the one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Session:
    """Everything the server keeps: the model, the corpus windows shown in the page and the neuron ranks.

    Attributes
    ----------
    model : TrainedModel-like
        With ``encode``, ``decode`` and ``config`` (``z_size``, ``max_seq_len``).
    windows : ndarray of int8, shape (n, T)
        The melodies listed by ``GET /api/melodies``; ``titles`` and ``sources`` are row-aligned.
    order : ndarray of int, shape (z_size,)
        Latent dims by mean sigma, smallest first; ``mean_sigma`` is indexed by dim.
    n_music : int
        Music neurons: the first ``n_music`` of ``order``.
    labels : dict of int to str
        Role of a dim from the study (``"pitch · φ_K 0.94 with P12"``); empty without a study.
    """

    model: Any
    windows: np.ndarray
    titles: list[str]
    sources: list[str]
    order: np.ndarray
    mean_sigma: np.ndarray
    n_music: int
    labels: dict[int, str] = field(default_factory=dict)
    model_name: str = "default-2bar"
    lock: threading.Lock = field(default_factory=threading.Lock)  # one model call at a time
    latest: dict[str, int] = field(default_factory=dict)  # channel -> newest sequence number seen
    latest_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def z_size(self) -> int:
        return int(self.model.config.z_size)

    @property
    def steps(self) -> int:
        return int(self.model.config.max_seq_len)

    # ------------------------------------------------------------------ latest wins
    def claim(self, body: dict[str, Any]) -> tuple[str, int] | None:
        """Register a request of a ``channel`` (e.g. the sliders) and its sequence number ``seq`` if given."""
        channel, seq = body.get("channel"), body.get("seq")
        if channel is None or seq is None:
            return None
        if not isinstance(channel, str) or len(channel) > 64 or not _is_int(seq):
            raise ApiError(400, "channel must be a short string and seq an integer")
        with self.latest_lock:
            if channel not in self.latest and len(self.latest) >= MAX_CHANNELS:
                self.latest.clear()  # forget old pages' channels (a reload starts a new one)
            self.latest[channel] = max(self.latest.get(channel, seq), seq)
        return channel, seq

    def is_stale(self, ticket: tuple[str, int] | None) -> bool:
        """Whether a newer request of the same channel arrived since (then this one is dropped)."""
        return ticket is not None and self.latest.get(ticket[0], ticket[1]) > ticket[1]


# ---------------------------------------------------------------------- building
def build_session(
    model: Any,
    *,
    windows: np.ndarray,
    titles: list[str] | None = None,
    sources: list[str] | None = None,
    ranking_windows: int = 256,
    study: str | Path | None = None,
    model_name: str = "default-2bar",
) -> Session:
    """A session ranking the neurons on the first ``ranking_windows`` windows (or from ``study``)."""
    windows = np.asarray(windows, dtype=np.int8)
    if windows.ndim != 2 or windows.shape[1] != model.config.max_seq_len or not len(windows):
        msg = f"the explorer needs windows of {model.config.max_seq_len} steps, got shape {windows.shape}"
        raise ValueError(msg)
    titles = titles or [f"window {i}" for i in range(len(windows))]
    sources = sources or [""] * len(windows)
    labels: dict[int, str] = {}
    if study is not None:
        order, mean_sigma, n_music, labels = read_study(study, model.config.max_seq_len, model.config.z_size)
    else:
        _, _, sigma = model.encode(windows[:ranking_windows], rng=np.random.default_rng(0))
        mean_sigma = sigma.mean(axis=0, dtype=np.float64)
        order = np.argsort(mean_sigma, kind="stable")
        n_music = int((mean_sigma < MUSIC_SIGMA_THRESHOLD).sum())
    log.info("%d music neurons of %d", n_music, len(order))
    return Session(
        model, windows, list(titles), list(sources), order, mean_sigma, n_music, labels, model_name
    )


def read_study(study: str | Path, steps: int, z_size: int) -> tuple[np.ndarray, np.ndarray, int, dict]:
    """Ranks, mean sigma, music-neuron count and roles from a ``musicneurons study`` output folder."""
    import pandas as pd

    part = Path(study) / f"{steps // STEPS_PER_BAR}bar"
    neurons_path = part / "neurons.parquet"
    if not neurons_path.is_file():
        msg = f"--study {study}: no {neurons_path.relative_to(study)} for this model's {steps}-step windows"
        raise FileNotFoundError(msg)
    neurons = pd.read_parquet(neurons_path).sort_values("rank")
    if len(neurons) != z_size:
        msg = f"--study {study}: {len(neurons)} neurons in {neurons_path.name}, the model has {z_size}"
        raise ValueError(msg)
    order = neurons["dim"].to_numpy(dtype=np.int64)
    mean_sigma = np.empty(z_size)
    mean_sigma[order] = neurons["mean_sigma"].to_numpy(dtype=np.float64)
    n_music = int(neurons["is_music"].sum())
    phik_path = part / "phik.parquet"
    labels = study_labels(pd.read_parquet(phik_path), neurons) if phik_path.is_file() else {}
    return order, mean_sigma, n_music, labels


def study_labels(phik: Any, neurons: Any) -> dict[int, str]:
    """A role per latent dim from the study's φ_K table, e.g. ``"pitch neuron · φ_K 0.94 with P12"``.

    The group (pitch, rhythm, melody) is the neuron's best by the study's rule
    (:func:`musicneurons.analysis.roles.group_scores`), the feature its largest φ_K in that group; "neuron"
    is added to the group for the study's designated pitch / rhythm / melody neuron.
    """
    from musicneurons.analysis.roles import GROUP_NAMES, group_scores, neuron_roles

    phik = phik[phik["group"].isin(list(GROUP_NAMES))].dropna(subset=["phik"])
    if phik.empty:
        return {}
    designated = {
        (role["rank"], group)
        for group, word in GROUP_NAMES.items()
        if (role := neuron_roles(phik, neurons).get(f"{word}_neuron"))
    }
    dim_of = dict(zip(neurons["rank"], neurons["dim"], strict=True))
    labels = {}
    for rank, scores in group_scores(phik).iterrows():
        group = str(scores.idxmax())
        rows = phik[(phik["rank"] == rank) & (phik["group"] == group)]
        best = rows.loc[rows["phik"].idxmax()]
        word = GROUP_NAMES[group] + (" neuron" if (rank, group) in designated else "")
        labels[int(dim_of[rank])] = f"{word} · φ_K {best['phik']:.2f} with {best['feature']}"
    return labels


# ---------------------------------------------------------------------- API
def api_info(session: Session) -> dict[str, Any]:
    """``GET /api/info``: model shape, neuron ranks, the music/noise cut and the study's roles."""
    return {
        "model": session.model_name,
        "z_size": session.z_size,
        "steps": session.steps,
        "qpm": DEFAULT_QPM,
        "order": session.order.tolist(),
        "mean_sigma": [round(float(s), 5) for s in session.mean_sigma],
        "n_music": session.n_music,
        "labels": {str(k): v for k, v in session.labels.items()},
    }


def api_melodies(session: Session) -> dict[str, Any]:
    """``GET /api/melodies``: the corpus windows the page can pick from."""
    return {
        "melodies": [
            {"id": i, "title": session.titles[i], "source": session.sources[i], "window": w.tolist()}
            for i, w in enumerate(session.windows)
        ]
    }


def api_encode(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/encode`` ``{"window"}`` -> ``{"mu", "sigma", "order", "n_music"}`` (mu, sigma per dim)."""
    window = _window(session, body, "window")
    with session.lock:
        _, mu, sigma = session.model.encode(window[None], rng=np.random.default_rng(0))
    return {
        "mu": [float(v) for v in mu[0]],
        "sigma": [float(v) for v in sigma[0]],
        "order": session.order.tolist(),
        "n_music": session.n_music,
    }


def api_decode(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/decode`` ``{"z", "temperature"?, "seed"?}`` -> ``{"window", "notes"}`` (greedy default)."""
    z = _latent(session, body.get("z"), "z")
    temperature, seed = _temperature(body), _seed(body)
    ticket = session.claim(body)
    with session.lock:
        if session.is_stale(ticket):
            return {"stale": True}
        window = session.model.decode(z[None], temperature=temperature, rng=np.random.default_rng(seed))[0]
    return {"window": window.tolist(), "notes": window_notes(window, DEFAULT_QPM)}


def api_interpolate(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/interpolate`` ``{"a", "b", "steps"}`` (windows, or ``"z_a"``/``"z_b"`` latents).

    Returns ``{"t", "z", "windows", "notes"}``: ``steps`` points of the slerp between the posterior means
    (both ends included) and their greedy decodes.
    """
    from musicneurons.model.inference import slerp

    steps = _int(body.get("steps", 5), "steps", 2, MAX_STEPS)
    ends = []  # ("z", latent) or ("window", window) for a and b
    for key in ("a", "b"):
        if f"z_{key}" in body:
            ends.append(("z", _latent(session, body[f"z_{key}"], f"z_{key}")))
        else:
            ends.append(("window", _window(session, body, key)))
    temperature, seed = _temperature(body), _seed(body)
    ticket = session.claim(body)
    with session.lock:
        if session.is_stale(ticket):
            return {"stale": True}
        windows = [value for kind, value in ends if kind == "window"]
        mus = iter(
            session.model.encode(np.stack(windows), rng=np.random.default_rng(0))[1] if windows else []
        )
        z_a, z_b = (next(mus) if kind == "window" else value for kind, value in ends)
        t = np.linspace(0.0, 1.0, steps)
        z = slerp(z_a, z_b, t).astype(np.float32)
        decoded = session.model.decode(z, temperature=temperature, rng=np.random.default_rng(seed))
    return _decoded(decoded, {"t": t.tolist(), "z": z.tolist()})


def api_traverse(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/traverse`` ``{"z", "dim", "steps"?, "low"?, "high"?}``: decode z with dim swept low..high.

    Returns ``{"values", "windows", "notes"}`` (default: 7 values from -3 to +3).
    """
    z = _latent(session, body.get("z"), "z")
    dim = _int(body.get("dim"), "dim", 0, session.z_size - 1)
    steps = _int(body.get("steps", 7), "steps", 2, MAX_STEPS)
    low, high = _number(body.get("low", -3.0), "low"), _number(body.get("high", 3.0), "high")
    values = np.linspace(low, high, steps)
    zs = np.repeat(z[None], steps, axis=0)
    zs[:, dim] = values
    temperature, seed = _temperature(body), _seed(body)
    ticket = session.claim(body)
    with session.lock:
        if session.is_stale(ticket):
            return {"stale": True}
        decoded = session.model.decode(zs, temperature=temperature, rng=np.random.default_rng(seed))
    return _decoded(decoded, {"values": values.tolist()})


def api_upload(session: Session, data: bytes) -> dict[str, Any]:
    """``POST /api/upload`` (body: a MIDI file) -> ``{"windows", "qpm"}``: its melody windows."""
    from musicneurons.data.melody import extract_windows
    from musicneurons.data.midi import MidiReadError

    if session.steps % STEPS_PER_BAR or session.steps // STEPS_PER_BAR not in (2, 16):
        raise ApiError(400, f"windows of {session.steps} steps cannot be read from MIDI")
    try:
        table = extract_windows(bytes(data), bars=session.steps // STEPS_PER_BAR)
    except (MidiReadError, ValueError, IndexError, OverflowError) as exc:
        raise ApiError(400, f"not a readable MIDI file: {exc}") from exc
    if not len(table):
        raise ApiError(422, "no usable melody window in this MIDI file (a monophonic line in 4/4)")
    return {"windows": table.windows.tolist(), "qpm": table.qpm.tolist()}


def midi_bytes(session: Session, body: dict[str, Any]) -> bytes:
    """``POST /api/midi`` ``{"window"}`` -> a MIDI file of the window at the model's tempo (for download)."""
    window = _window(session, body, "window")
    with tempfile.TemporaryDirectory(prefix="musicneurons-") as folder:
        return windows_to_midi(window[None], Path(folder) / "melody.mid", qpm=DEFAULT_QPM).read_bytes()


# ---------------------------------------------------------------------- validation
def _decoded(windows: np.ndarray, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        **extra,
        "windows": windows.tolist(),
        "notes": [window_notes(w, DEFAULT_QPM) for w in windows],
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, name: str, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise ApiError(400, f"{name} must be an integer in {low}..{high}, got {value!r:.40}")
    return int(value)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) <= MAX_Z_ABS:
        raise ApiError(400, f"{name} must be a number within +-{MAX_Z_ABS:g}, got {value!r:.40}")
    return float(value)


def _temperature(body: dict[str, Any]) -> float:
    value = body.get("temperature", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise ApiError(400, f"temperature must be a number in 0..10 (0 = greedy), got {value!r:.40}")
    return float(value)


def _seed(body: dict[str, Any]) -> int:
    return _int(body.get("seed", 0), "seed", 0, 2**32 - 1)


def _window(session: Session, body: dict[str, Any], key: str) -> np.ndarray:
    value = body.get(key)
    if not isinstance(value, list) or len(value) != session.steps:
        got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
        raise ApiError(400, f"{key} must be a list of {session.steps} class indices, got {got}")
    if not all(_is_int(v) and 0 <= v < NUM_CLASSES for v in value):
        raise ApiError(400, f"{key} must hold integers in 0..{NUM_CLASSES - 1}")
    return np.asarray(value, dtype=np.int8)


def _latent(session: Session, value: Any, key: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != session.z_size:
        got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
        raise ApiError(400, f"{key} must be a list of {session.z_size} numbers, got {got}")
    if not all(not isinstance(v, bool) and isinstance(v, int | float) and abs(v) <= MAX_Z_ABS for v in value):
        raise ApiError(400, f"{key} must hold finite numbers within +-{MAX_Z_ABS:g}")
    return np.asarray(value, dtype=np.float32)


# ---------------------------------------------------------------------- opening
def load_corpus(
    steps: int, *, windows: str | Path | None = None, study: str | Path | None = None, limit: int = 200
) -> tuple[np.ndarray, list[str], list[str]]:
    """Up to ``limit`` windows (evenly spread) with titles and sources, from ``windows`` (a windows.parquet or
    its folder), else the study's windows of this length, else the embedded corpus."""
    import pandas as pd

    from musicneurons.data.corpus import read_windows
    from musicneurons.data.defaults import WINDOW_STEPS, default_corpus

    bars = steps // STEPS_PER_BAR
    if windows is None and study is not None and (Path(study) / f"{bars}bar" / "windows.parquet").is_file():
        windows = Path(study) / f"{bars}bar" / "windows.parquet"
    if windows is not None:
        rows, frame = read_windows(windows)
    elif WINDOW_STEPS.get(bars) == steps:
        frame = default_corpus(bars)
        rows = np.stack(frame["window"].to_list()) if len(frame) else np.zeros((0, steps), np.int8)
    else:
        msg = f"no embedded corpus of {steps}-step windows: pass --windows"
        raise ValueError(msg)
    if rows.ndim != 2 or rows.shape[1] != steps or not len(rows):
        msg = f"{windows or 'the corpus'}: need windows of {steps} steps, got shape {rows.shape}"
        raise ValueError(msg)
    keep = np.unique(np.linspace(0, len(rows) - 1, min(limit, len(rows))).round().astype(np.int64))
    frame = pd.DataFrame(frame).reset_index(drop=True)
    column = next((c for c in ("title", "source") if c in frame.columns), None)
    titles = [str(frame[column].iloc[i]) if column else f"window {i}" for i in keep]
    sources = [str(frame["source"].iloc[i]) if "source" in frame.columns else "" for i in keep]
    return rows[keep], titles, sources

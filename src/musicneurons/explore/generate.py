"""Generate melodies with a model and write them to hear: a ``.mid`` and a ``.wav`` per melody + a JSON list.

Three ways to get melodies (each deterministic for a seed):

- :func:`sample_melodies`: decode latents drawn from the prior N(0, I);
- :func:`reconstruct_melodies`: the windows of a MIDI file and their decodes from the posterior mean mu;
- :func:`interpolate_melodies`: decodes along the slerp between the posterior means of two windows.

:func:`write_melodies` writes ``<name>.mid`` (Magenta's decoded-melody MIDI: program 0, velocity 80) and
``<name>.wav`` (the package's NumPy synth, or FluidSynth with a user's ``.sf2``) per melody, and
``melodies.json``: ``{"command", "model", "qpm", "seed", "temperature", "melodies": [{"name", "midi", "wav",
"qpm", "z", "window", "notes"}]}`` where ``z`` is the latent the melody was decoded from (null for an input).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from musicneurons.atomic_files import atomic_write
from musicneurons.constants import DEFAULT_QPM, STEPS_PER_BAR, STEPS_PER_QUARTER
from musicneurons.data.encoding import notes_from_classes, windows_to_midi
from musicneurons.data.melody import extract_windows
from musicneurons.data.midi import MidiReadError
from musicneurons.data.synth import SAMPLE_RATE, render_windows, write_wav
from musicneurons.errors import UserError

SOUNDFONT_PEAK = 0.8  # FluidSynth renders are scaled to this peak amplitude
DEFAULT_TEMPERATURE = 0.5  # Magenta's MusicVAE demos decode at 0.5: closer to the mode, fewer stray notes


class Model(Protocol):
    """What generation needs from a model (``musicneurons.TrainedModel`` has it)."""

    config: Any

    def encode(self, windows: Any, batch_size: Any = None, rng: Any = None, lengths: Any = None) -> tuple: ...

    def decode(
        self, z: Any, length: Any = None, temperature: float = 1.0, rng: Any = None, batch_size: Any = None
    ) -> np.ndarray: ...


@dataclass
class Melodies:
    """Windows to write, with their names, tempi and the latents they were decoded from (None: an input)."""

    names: list[str]
    windows: np.ndarray  # int8 (n, T) of 90-class indices
    qpm: np.ndarray  # float (n,)
    z: list[np.ndarray | None]
    info: dict[str, Any] = field(default_factory=dict)


def window_steps(model: Model) -> int:
    """Steps per window of the model (32 for 2 bars, 256 for 16 bars)."""
    return int(model.config.max_seq_len)


def sample_melodies(
    model: Model, n: int, *, temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, qpm: float = DEFAULT_QPM
) -> Melodies:
    """Decode ``n`` latents drawn from the prior with ``numpy.random.default_rng(seed)``."""
    if n < 1:
        msg = f"--n must be at least 1, got {n}"
        raise UserError(msg)
    _check_temperature(temperature)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, model.config.z_size)).astype(np.float32)
    windows = model.decode(z, temperature=temperature, rng=rng)
    names = [f"sample-{i:03d}" for i in range(n)]
    info = {"command": "sample", "seed": seed, "temperature": temperature}
    return Melodies(names, windows, np.full(n, float(qpm)), list(z), info)


def reconstruct_melodies(
    model: Model,
    midi: str | Path,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int = 0,
    max_windows: int | None = None,
) -> Melodies:
    """The windows of ``midi`` (``input-NNN``) and their decodes from mu (``decoded-NNN``), interleaved."""
    _check_temperature(temperature)
    table = midi_windows(model, midi)
    if max_windows is not None:
        table = table[0][:max_windows], table[1][:max_windows]
    windows, qpm = table
    _, mu, _ = model.encode(windows, rng=np.random.default_rng(seed))
    decoded = model.decode(mu, temperature=temperature, rng=np.random.default_rng(seed))
    n = len(windows)
    names, rows, tempi, zs = [], [], [], []
    for i in range(n):
        names += [f"input-{i:03d}", f"decoded-{i:03d}"]
        rows += [windows[i], decoded[i]]
        tempi += [qpm[i], qpm[i]]
        zs += [None, mu[i]]
    info = {"command": "reconstruct", "seed": seed, "temperature": temperature, "input": str(midi)}
    return Melodies(names, np.stack(rows).astype(np.int8), np.asarray(tempi), zs, info)


def interpolate_melodies(
    model: Model,
    midi_a: str | Path,
    midi_b: str | Path,
    *,
    steps: int = 5,
    window_a: int | None = None,
    window_b: int | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int = 0,
) -> Melodies:
    """Decodes at ``steps`` points of the slerp between the posterior means of a window of each file.

    ``window_a`` / ``window_b`` pick a window index of each file (default: the first usable one).
    """
    from musicneurons.model.inference import slerp

    if steps < 2:
        msg = f"--steps must be at least 2 (the two ends), got {steps}"
        raise UserError(msg)
    _check_temperature(temperature)
    ends = []
    for path, index, option in ((midi_a, window_a, "--window-a"), (midi_b, window_b, "--window-b")):
        windows, qpm = midi_windows(model, path)
        index = 0 if index is None else index
        if not 0 <= index < len(windows):
            msg = f"{option} {index}: {path} has {len(windows)} windows (0..{len(windows) - 1})"
            raise UserError(msg)
        ends.append((windows[index], float(qpm[index])))
    _, mu, _ = model.encode(np.stack([ends[0][0], ends[1][0]]), rng=np.random.default_rng(seed))
    z = slerp(mu[0], mu[1], np.linspace(0.0, 1.0, steps)).astype(np.float32)
    windows = model.decode(z, temperature=temperature, rng=np.random.default_rng(seed))
    names = [f"interp-{i:03d}" for i in range(steps)]
    info = {
        "command": "interpolate",
        "seed": seed,
        "temperature": temperature,
        "inputs": [str(midi_a), str(midi_b)],
        "windows": [0 if window_a is None else window_a, 0 if window_b is None else window_b],
    }
    return Melodies(names, windows, np.full(steps, ends[0][1]), list(z), info)


def midi_windows(model: Model, midi: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct melody window of a MIDI file at the model's length and its tempo: ``(windows, qpm)``."""
    path = Path(midi)
    if not path.is_file():
        msg = f"{path}: no such MIDI file"
        raise UserError(msg)
    steps = window_steps(model)
    if steps % STEPS_PER_BAR or steps // STEPS_PER_BAR not in (2, 16):
        msg = (
            f"the model decodes {steps} steps; only 2-bar (32) and 16-bar (256) windows can be read from MIDI"
        )
        raise UserError(msg)
    try:
        table = extract_windows(path, bars=steps // STEPS_PER_BAR)
    except MidiReadError as exc:
        msg = f"{path}: not a readable MIDI file ({exc})"
        raise UserError(msg) from exc
    if not len(table):
        bars = steps // STEPS_PER_BAR
        msg = f"{path}: no usable {bars}-bar melody window (a monophonic line in 4/4, pitches 21..108)"
        raise UserError(msg)
    return table.windows, table.qpm


def write_melodies(
    melodies: Melodies, out_dir: str | Path, *, model_name: str = "default-2bar", soundfont: str | None = None
) -> Path:
    """Write ``<name>.mid`` and ``<name>.wav`` per melody and ``melodies.json`` into ``out_dir``.

    Returns the path of ``melodies.json``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} exists and is not a folder"
        raise UserError(msg)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, window, qpm, z in zip(melodies.names, melodies.windows, melodies.qpm, melodies.z, strict=True):
        windows_to_midi(window[None], out / f"{name}.mid", qpm=float(qpm))
        if soundfont is None:
            audio = render_windows(window, qpm=float(qpm), sample_rate=SAMPLE_RATE)
        else:
            audio = render_soundfont(window, float(qpm), soundfont, SAMPLE_RATE)
        write_wav(out / f"{name}.wav", audio, SAMPLE_RATE)
        entries.append(
            {
                "name": name,
                "midi": f"{name}.mid",
                "wav": f"{name}.wav",
                "qpm": float(qpm),
                "z": None if z is None else [float(v) for v in z],
                "window": [int(c) for c in window],
                "notes": window_notes(window, float(qpm)),
            }
        )
    listing = {
        **melodies.info,
        "model": model_name,
        "sample_rate": SAMPLE_RATE,
        "synth": "soundfont" if soundfont else "musicneurons.data.synth",
        "melodies": entries,
    }
    text = json.dumps(listing, indent=1) + "\n"
    return atomic_write(out / "melodies.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))


def window_notes(window: np.ndarray, qpm: float) -> list[dict[str, float]]:
    """Notes of one window as ``[{"pitch", "start", "end"}]`` with times in seconds at ``qpm``."""
    step = 60.0 / qpm / STEPS_PER_QUARTER
    return [
        {"pitch": int(p), "start": round(s * step, 6), "end": round(e * step, 6)}
        for p, s, e in notes_from_classes(window)
    ]


def render_soundfont(window: np.ndarray, qpm: float, soundfont: str | Path, sample_rate: int) -> np.ndarray:
    """Render one window with FluidSynth and a user's ``.sf2`` (needs ``pyfluidsynth`` and ``libfluidsynth``).

    Returns mono float32 audio of the window's grid plus one second of release (the left channel of
    FluidSynth's stereo output), scaled to a peak of :data:`SOUNDFONT_PEAK` (soundfonts differ in loudness).
    """
    path = Path(soundfont)
    if not path.is_file():
        msg = f"--soundfont {path}: no such file"
        raise UserError(msg)
    try:
        import fluidsynth  # type: ignore[import-not-found]  # pyfluidsynth, no type information
    except (ImportError, OSError) as exc:  # OSError: the package is there but libfluidsynth is not
        msg = (
            f"--soundfont needs pyfluidsynth and the FluidSynth library ({exc}); install them with "
            "`pip install 'musicneurons[soundfont]'` and e.g. `apt-get install libfluidsynth3`"
        )
        raise UserError(msg) from exc
    synth = fluidsynth.Synth(samplerate=float(sample_rate))
    try:
        font = synth.sfload(str(path))
        if font < 0:
            msg = f"--soundfont {path}: FluidSynth could not load it"
            raise UserError(msg)
        synth.program_select(0, font, 0, 0)
        step = 60.0 / qpm / STEPS_PER_QUARTER
        events = []
        for pitch, start, end in notes_from_classes(window):
            events += [
                (round(start * step * sample_rate), 1, pitch),
                (round(end * step * sample_rate), 0, pitch),
            ]
        events.sort()
        total = round((len(window) * step + 1.0) * sample_rate)
        chunks, now = [], 0
        for when, on, pitch in [*events, (total, -1, 0)]:
            if when > now:
                chunks.append(np.asarray(synth.get_samples(when - now), dtype=np.int16)[0::2])
                now = when
            if on == 1:
                synth.noteon(0, pitch, 80)
            elif on == 0:
                synth.noteoff(0, pitch)
        audio = np.concatenate(chunks).astype(np.float64) / 32768.0 if chunks else np.zeros(total)
        peak = np.abs(audio).max(initial=0.0)
        return (audio * (SOUNDFONT_PEAK / peak) if peak > 0 else audio).astype(np.float32)
    finally:
        synth.delete()


def _check_temperature(temperature: float) -> None:
    if not temperature >= 0:
        msg = f"--temperature must be >= 0 (0 decodes greedily), got {temperature}"
        raise UserError(msg)

"""A small deterministic synthesizer: notes or melody windows -> float32 audio -> 16-bit PCM WAV.

Pure NumPy and the standard library's ``wave``: no soundfont, no system library, the same bytes on every
machine. Each note is a triangle wave at its equal-tempered frequency (A4 = MIDI 69 = 440 Hz) under a
linear attack of :data:`ATTACK` seconds and a linear release of :data:`RELEASE` seconds that starts at the
note's end, so a note sounds from ``start`` to ``end + RELEASE``. Overlapping notes add; the mix is scaled
by a fixed gain (no normalisation, so one note sounds the same whatever else plays).

Entry points::

    audio = render_notes([(69, 0.0, 0.5)])      # (pitch, start s, end s) -> float32 (n_samples,)
    audio = render_windows(windows, qpm=120.0)  # 90-class windows (T,) or (n, T), one after another
    data = wav_bytes(audio, SAMPLE_RATE)        # a complete mono 16-bit PCM .wav file, as bytes
    write_wav("melody.wav", audio, SAMPLE_RATE)
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from musicneurons.atomic_files import atomic_write
from musicneurons.constants import DEFAULT_QPM, STEPS_PER_QUARTER
from musicneurons.data.encoding import notes_from_classes

__all__ = [
    "ATTACK",
    "RELEASE",
    "SAMPLE_RATE",
    "midi_to_hz",
    "render_notes",
    "render_windows",
    "wav_bytes",
    "write_wav",
]

SAMPLE_RATE = 22050  # Hz
ATTACK = 0.005  # seconds of linear fade-in at each note's start
RELEASE = 0.05  # seconds of linear fade-out after each note's end
GAIN = 0.25  # peak amplitude of one note; four overlapping notes reach full scale


def midi_to_hz(pitch: float | np.ndarray) -> float | np.ndarray:
    """Equal-tempered frequency in Hz of a MIDI pitch: 440 * 2 ** ((pitch - 69) / 12)."""
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


def render_notes(notes: Iterable[tuple[float, float, float]], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render notes to mono audio.

    Parameters
    ----------
    notes : iterable of (pitch, start, end)
        MIDI pitch (0..127) and onset / offset in seconds (``end > start >= 0``); extra fields are ignored.
    sample_rate : int
        Samples per second.

    Returns
    -------
    numpy.ndarray
        float32 (n_samples,) in [-1, 1]: ``round((max end + RELEASE) * sample_rate)`` samples (none
        without notes). Samples where no note sounds are exactly 0.

    Raises
    ------
    ValueError
        If a pitch is outside 0..127, a time is negative or a note ends before it starts.
    """
    if sample_rate <= 0:
        msg = f"sample_rate must be positive, got {sample_rate}"
        raise ValueError(msg)
    rows = [tuple(float(x) for x in note[:3]) for note in notes]
    for pitch, start, end in rows:
        if not 0 <= pitch <= 127 or start < 0 or end <= start:
            msg = (
                f"bad note (pitch {pitch}, start {start} s, end {end} s): need pitch 0..127, 0 <= start < end"
            )
            raise ValueError(msg)
    if not rows:
        return np.zeros(0, dtype=np.float32)
    total = round((max(end for _, _, end in rows) + RELEASE) * sample_rate)
    out = np.zeros(total, dtype=np.float64)
    for pitch, start, end in rows:
        first = round(start * sample_rate)
        last = min(round((end + RELEASE) * sample_rate), total)
        t = np.arange(last - first, dtype=np.float64) / sample_rate  # seconds since the onset
        phase = t * midi_to_hz(pitch)
        tone = 1.0 - 4.0 * np.abs((phase + 0.25) % 1.0 - 0.5)  # triangle: zero mean, peak 1, tone(0) = 0
        envelope = np.minimum(1.0, t / ATTACK)
        envelope = np.minimum(envelope, np.clip((end - start + RELEASE - t) / RELEASE, 0.0, 1.0))
        out[first:last] += GAIN * envelope * tone
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def render_windows(
    windows: np.ndarray | list, qpm: float = DEFAULT_QPM, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Render melody windows of 90-class indices, shape (T,) or (n, T), played one after another.

    One step lasts ``60 / qpm / 4`` seconds; window i starts at ``i * T`` steps. The audio lasts the whole
    grid plus :data:`RELEASE` (``n * T`` steps + release), so windows line up with their MIDI files even when
    the last steps are rests.
    """
    if qpm <= 0:
        msg = f"qpm must be positive, got {qpm}"
        raise ValueError(msg)
    w = np.asarray(windows)
    if w.ndim == 1:
        w = w[None]
    if w.ndim != 2:
        msg = f"windows must have shape (T,) or (n, T), got {w.shape}"
        raise ValueError(msg)
    step = 60.0 / qpm / STEPS_PER_QUARTER
    notes = [
        (pitch, (i * w.shape[1] + start) * step, (i * w.shape[1] + end) * step)
        for i, window in enumerate(w)
        for pitch, start, end in notes_from_classes(window)
    ]
    audio = render_notes(notes, sample_rate)
    total = round((w.size * step + RELEASE) * sample_rate)
    return np.pad(audio, (0, total - len(audio))) if len(audio) < total else audio


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A complete mono 16-bit PCM WAV file of ``audio`` (float in [-1, 1], clipped), as bytes."""
    samples = np.clip(np.asarray(audio, dtype=np.float64).ravel(), -1.0, 1.0)
    pcm = np.round(samples * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``audio`` as a mono 16-bit PCM WAV file (atomically); returns the path."""
    data = wav_bytes(audio, sample_rate)
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))

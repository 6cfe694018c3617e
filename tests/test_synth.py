"""The NumPy synth: pitch by FFT, silence, length, determinism and the WAV container (known answers)."""

from __future__ import annotations

import hashlib
import wave

import numpy as np
import pytest

from musicneurons.data.synth import (
    RELEASE,
    SAMPLE_RATE,
    midi_to_hz,
    render_notes,
    render_windows,
    wav_bytes,
    write_wav,
)


def _peak_hz(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1.0 / sample_rate)[np.argmax(spectrum)])


def test_midi_to_hz_known_values():
    assert midi_to_hz(69) == pytest.approx(440.0)
    assert midi_to_hz(60) == pytest.approx(261.6255653, rel=1e-9)
    assert midi_to_hz(81) == pytest.approx(880.0)


@pytest.mark.parametrize(("pitch", "hz"), [(69, 440.0), (57, 220.0), (72, 523.2511306)])
def test_fundamental_by_fft(pitch, hz):
    audio = render_notes([(pitch, 0.0, 1.0)], sample_rate=SAMPLE_RATE)
    # 1 s of tone: FFT bins are 1 Hz wide
    assert abs(_peak_hz(audio[:SAMPLE_RATE], SAMPLE_RATE) - hz) <= 1.0


def test_triangle_has_only_odd_harmonics():
    audio = render_notes([(69, 0.0, 1.0)])[:SAMPLE_RATE]
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    assert spectrum[880] < 1e-3 * spectrum[440]  # no 2nd harmonic
    assert spectrum[1320] == pytest.approx(spectrum[440] / 9, rel=0.05)  # 3rd at 1/9 of the fundamental


def test_duration_is_last_end_plus_release():
    audio = render_notes([(60, 0.5, 1.0), (64, 0.25, 2.0)], sample_rate=8000)
    assert len(audio) == round((2.0 + RELEASE) * 8000)
    assert audio.dtype == np.float32


def test_silence_where_no_note_sounds():
    sr = 8000
    audio = render_notes([(60, 0.5, 1.0), (67, 2.0, 2.5)], sample_rate=sr)
    assert np.all(audio[: int(0.5 * sr)] == 0)  # before the first onset
    assert np.all(audio[round((1.0 + RELEASE) * sr) : int(2.0 * sr)] == 0)  # between release and next onset
    assert np.abs(audio[int(0.6 * sr) : int(0.9 * sr)]).max() > 0.2  # the note itself sounds
    assert np.abs(audio).max() <= 0.25 + 1e-6  # one note peaks at the fixed gain


def test_envelope_attack_and_release():
    sr = 22050
    audio = render_notes([(69, 0.0, 0.5)], sample_rate=sr)
    assert audio[0] == 0.0
    tail = audio[round((0.5 + RELEASE * 0.9) * sr) :]
    assert np.abs(tail).max() < 0.25 * 0.11  # last tenth of the release is below 1/10 of the peak


def test_no_notes_is_empty():
    assert render_notes([]).shape == (0,)


@pytest.mark.parametrize("note", [(128, 0.0, 1.0), (60, -0.1, 1.0), (60, 1.0, 1.0)])
def test_bad_notes_raise(note):
    with pytest.raises(ValueError, match="bad note"):
        render_notes([note])


def test_render_windows_timing_and_pitch():
    # class k >= 2 is MIDI pitch k + 19: 50 is A4 (69); 4 steps at 120 qpm = 0.5 s, then NOTE_OFF, rests
    window = np.zeros(32, dtype=np.int8)
    window[0], window[4] = 50, 1
    sr = 8000
    audio = render_windows(window, qpm=120.0, sample_rate=sr)
    assert len(audio) == round((32 * 0.125 + RELEASE) * sr)  # the whole 4-s grid plus the release
    assert np.all(audio[round((0.5 + RELEASE) * sr) :] == 0)
    alone = render_notes([(69, 0.0, 0.5)], sr)
    np.testing.assert_array_equal(audio[: len(alone)], alone)
    two = render_windows(np.stack([window, window]), qpm=120.0, sample_rate=sr)
    start = 4 * sr  # second window starts after 32 steps = 4 s
    assert np.allclose(two[start : start + sr // 2], audio[: sr // 2])


def test_render_windows_equals_render_notes():
    window = np.zeros(16, dtype=np.int8)
    window[[0, 2, 8]] = [41, 43, 45]  # pitches 60, 62, 64; the last one held to the window's end
    expected = render_notes([(60, 0.0, 0.25), (62, 0.25, 1.0), (64, 1.0, 2.0)], 8000)
    got = render_windows(window, qpm=120.0, sample_rate=8000)
    np.testing.assert_array_equal(got, expected)


def test_wav_bytes_container_and_determinism(tmp_path):
    audio = render_notes([(69, 0.0, 0.25), (72, 0.25, 0.5)])
    data = wav_bytes(audio, SAMPLE_RATE)
    assert data == wav_bytes(render_notes([(69, 0.0, 0.25), (72, 0.25, 0.5)]), SAMPLE_RATE)
    path = write_wav(tmp_path / "a.wav", audio, SAMPLE_RATE)
    assert path.read_bytes() == data
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLE_RATE)
        assert wav.getnframes() == len(audio)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(pcm, np.round(audio.astype(np.float64) * 32767).astype(np.int16))
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    # pinned digest: the same bytes on every machine (triangle + linear envelope in float64)
    assert (
        hashlib.sha256(data).hexdigest() == "4bf08a27100369707f7c37b9b4bb9985d90e831b1c917b1da4a32b744bba5737"
    )


def test_wav_clips_out_of_range():
    data = wav_bytes(np.array([2.0, -2.0, 0.5], dtype=np.float32), 8000)
    pcm = np.frombuffer(data[44:], dtype="<i2")
    assert pcm.tolist() == [32767, -32767, 16384]

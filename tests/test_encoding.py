"""Encodings: Magenta's 90-class melody code, one-hot tensors, notes and MIDI round trips."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from musicneurons.data.encoding import (
    classes_to_events,
    classes_to_onehot,
    events_to_classes,
    notes_from_classes,
    onehot_to_classes,
    windows_to_midi,
)
from musicneurons.data.melody import extract_windows

NE, OFF = -2, -1


def test_events_to_classes_uses_magentas_table():
    # MelodyOneHotEncoding(21, 109): -2 -> 0, -1 -> 1, pitch p -> p - 21 + 2
    assert events_to_classes([NE, OFF, 21, 60, 108]).tolist() == [0, 1, 2, 41, 89]
    assert classes_to_events([0, 1, 2, 41, 89]).tolist() == [NE, OFF, 21, 60, 108]
    assert events_to_classes(np.array([[NE, 60], [OFF, 62]])).dtype == np.int8


def test_every_class_maps_to_its_event_and_back():
    events = [NE, OFF, *range(21, 109)]  # class 0, 1, then pitches 21..108 as classes 2..89
    assert classes_to_events(np.arange(90)).tolist() == events
    assert events_to_classes(events).tolist() == list(range(90))


@pytest.mark.parametrize("event", [20, 109, 127, -3])
def test_out_of_range_events_are_refused(event):
    with pytest.raises(ValueError, match=str(event)):
        events_to_classes([60, event])


def test_out_of_range_classes_are_refused():
    with pytest.raises(ValueError, match="90"):
        classes_to_events([0, 90])
    with pytest.raises(ValueError, match="-1"):
        classes_to_onehot([-1])


def test_onehot_is_magentas_bool_tensor():
    window = np.array([2, 0, 1, 89])
    onehot = classes_to_onehot(window)
    assert onehot.shape == (4, 90)
    assert onehot.dtype == bool
    assert onehot.sum() == 4
    assert [onehot[0, 2], onehot[1, 0], onehot[2, 1], onehot[3, 89]] == [True] * 4
    np.testing.assert_array_equal(onehot_to_classes(onehot), window)
    batch = classes_to_onehot(np.stack([window, window]), dtype=np.float32)
    assert batch.shape == (2, 4, 90)
    assert batch.dtype == np.float32


def test_notes_from_classes():
    c4, e4, g4 = 60 - 19, 64 - 19, 67 - 19
    # C4 held 2 steps, NOTE_OFF, rest, E4 retriggered by E4, G4 sustained to the end
    window = [c4, 0, 1, 0, e4, e4, 0, g4, 0, 0]
    assert notes_from_classes(window) == [(60, 0, 2), (64, 4, 5), (64, 5, 7), (67, 7, 10)]
    assert notes_from_classes([0, 1, 0]) == []
    assert notes_from_classes([1, c4]) == [(60, 1, 2)]


def test_windows_to_midi_writes_magentas_rendering(tmp_path):
    c4, e4 = 60 - 19, 64 - 19
    window = np.array([c4, 0, 0, 0, e4, 0, 1, 0] + [0] * 24, dtype=np.int8)
    path = windows_to_midi(window, tmp_path / "w.mid")
    midi = pretty_midi.PrettyMIDI(str(path))
    (instrument,) = midi.instruments
    assert instrument.program == 0
    # 120 qpm, 4 steps per quarter: 0.125 s per step; velocity 80
    assert [(n.pitch, n.start, n.end, n.velocity) for n in instrument.notes] == [
        (60, 0.0, 0.5, 80),
        (64, 0.5, 0.75, 80),
    ]


def test_windows_to_midi_round_trips_through_extraction(tmp_path):
    rng = np.random.default_rng(3)
    windows = []
    for _ in range(20):
        events = rng.choice([NE, NE, NE, OFF, 55, 60, 62, 67, 72], size=32)
        events[0] = 60  # a note in the first bar, so the melody starts at step 0
        sounding = False
        for step, event in enumerate(events):  # a NOTE_OFF during a rest cannot exist in MIDI
            if event == OFF and not sounding:
                events[step] = NE
            sounding = event >= 0 or (sounding and event == NE)
        windows.append(events_to_classes(events))
    for i, window in enumerate(windows):
        path = windows_to_midi(window, tmp_path / f"{i}.mid", qpm=90.0)
        table = extract_windows(path, bars=2)
        assert table.windows.tolist() == [window.tolist()]
        # MIDI stores whole microseconds per quarter: 666,667 us is 89.99996 qpm
        np.testing.assert_allclose(table.qpm, [90.0], rtol=1e-6)


def test_several_windows_play_one_after_another(tmp_path):
    a = np.array([41] + [0] * 31, dtype=np.int8)
    path = windows_to_midi(np.stack([a, a]), tmp_path / "two.mid", qpm=np.array([120.0, 60.0]))
    notes = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    assert [(n.start, n.end) for n in notes] == [(0.0, 4.0), (4.0, 12.0)]

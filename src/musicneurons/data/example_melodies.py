"""Built-in example melodies as 90-class windows: "Twinkle, twinkle, little star" (the paper's Fig. 2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from musicneurons.constants import FIRST_PITCH_CLASS, MIN_PITCH, STEPS_PER_QUARTER


def _melody(notes: Sequence[tuple[str, int]]) -> np.ndarray:
    """Legato notes as (name, quarter notes) -> 90-class indices on the 16th grid (each onset then holds)."""
    semitone = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    out: list[int] = []
    for name, quarters in notes:
        pitch = 12 * (int(name[1:]) + 1) + semitone[name[0]]
        out += [pitch - MIN_PITCH + FIRST_PITCH_CLASS] + [0] * (quarters * STEPS_PER_QUARTER - 1)
    return np.array(out, dtype=np.int8)


_TWINKLE_LINES = (  # the tune in 4/4 quarter notes, one 2-bar line each
    (("C4", 1), ("C4", 1), ("G4", 1), ("G4", 1), ("A4", 1), ("A4", 1), ("G4", 2)),
    (("F4", 1), ("F4", 1), ("E4", 1), ("E4", 1), ("D4", 1), ("D4", 1), ("C4", 2)),
    (("G4", 1), ("G4", 1), ("F4", 1), ("F4", 1), ("E4", 1), ("E4", 1), ("D4", 2)),
)
#: "Twinkle, twinkle, little star", first two bars (C4 C4 G4 G4 | A4 A4 G4-, quarter notes): paper Fig. 2.
TWINKLE_2BAR = _melody(_TWINKLE_LINES[0])
#: The whole tune (12 bars: lines 1 2 3 3 1 2) followed by its first 4 bars again, to fill 16 bars.
TWINKLE_16BAR = np.concatenate([_melody(_TWINKLE_LINES[i]) for i in (0, 1, 2, 2, 0, 1, 0, 1)])


def twinkle(n_steps: int) -> np.ndarray:
    """The built-in example melody for a window length of ``n_steps`` (32 or 256)."""
    for melody in (TWINKLE_2BAR, TWINKLE_16BAR):
        if len(melody) == n_steps:
            return melody.copy()
    msg = f"no built-in example melody of {n_steps} steps (have 32 and 256)"
    raise ValueError(msg)

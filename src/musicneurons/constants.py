"""Event codes and grid constants shared by every stage (values as in Magenta's note_seq)."""

from __future__ import annotations

MELODY_NO_EVENT = -2  # hold the previous state (sustain a note or continue a rest)
MELODY_NOTE_OFF = -1  # end the sounding note

MIN_PITCH = 21  # inclusive; piano A0, Magenta's PIANO_MIN
MAX_PITCH = 108  # inclusive; piano C8, Magenta's PIANO_MAX

NO_EVENT_CLASS = 0  # class index of MELODY_NO_EVENT
NOTE_OFF_CLASS = 1  # class index of MELODY_NOTE_OFF
FIRST_PITCH_CLASS = 2  # class index of MIN_PITCH; class k >= 2 is MIDI pitch k + 19
NUM_CLASSES = MAX_PITCH - MIN_PITCH + 1 + FIRST_PITCH_CLASS  # 90

STEPS_PER_QUARTER = 4  # 16th-note grid
STEPS_PER_BAR = 16  # Magenta keeps only pieces with 16 steps per bar
DEFAULT_QPM = 120.0  # note_seq's implicit tempo when a file sets none; 0.125 s per 16th-note step
DEFAULT_VELOCITY = 80

MEL_PROGRAMS = tuple(range(32))  # Magenta's MEL_PROGRAMS: piano, chromatic percussion, organ, guitar

# Thresholds on the latent statistics, named once (docs/analyses.md explains each choice).
MUSIC_SIGMA_THRESHOLD = 0.95  # the study's split: a dim is a "music neuron" when its mean sigma is below this
SHARP_SIGMA_THRESHOLD = 0.9  # a stricter count of clearly used dims, logged by training and in model cards
SILENT_SIGMA = 0.98  # a noise dim is "silent" (at the prior) when its mean sigma is at least this
EXCITED_MU = 0.1  # the paper's Fig. 11: a neuron is "excited" by a melody when |mu_j| > 0.1

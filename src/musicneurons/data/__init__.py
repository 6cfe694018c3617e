"""MIDI files to melody windows: the MIDI reader, Magenta-exact extraction, encodings, corpus tables, random
melodies.

Lowest data layer: imports only the top-level leaves (``constants``, ``atomic_files``, ``arrays``,
``errors``). No torch, no
matplotlib.
"""

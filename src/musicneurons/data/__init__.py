"""MIDI to melody windows: the MIDI reader, Magenta-exact extraction, encodings, corpora, random melodies.

The lowest layer: it imports only the top-level leaves (``constants``, ``atomic_files``, ``arrays``,
``errors``); no torch.
"""

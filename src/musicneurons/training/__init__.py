"""Training a MusicVAE with Magenta's objective: presets, losses, schedules, the TF-form Adam and the loop.

Imports ``model``, ``data`` and the top-level leaves.
"""

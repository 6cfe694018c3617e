"""The MusicVAE model: definition, checkpoints (ours and TensorFlow bundles), loading, inference, centering.

torch lives here (and in ``training``). Imports ``data`` and the top-level leaves, nothing above.
"""

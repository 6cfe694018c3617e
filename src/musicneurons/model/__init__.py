"""The MusicVAE model: definition, checkpoints (ours and TensorFlow bundles), loading, inference, centering.

``config`` (the architecture) <- ``lstm`` (LSTM blocks) <- ``musicvae`` (the model); ``registry`` (every model
name); ``weights_file`` and ``checkpoints`` (our format); ``tf/`` (Magenta's bundles) <- ``convert`` (the
name table); ``load`` (any source -> a model); ``inference`` (``TrainedModel``); ``centering``.

torch lives here (and in ``training``). Imports ``data`` and the top-level leaves, nothing above.
"""

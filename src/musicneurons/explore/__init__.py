"""Hear the models and play with their latents: generation to MIDI/WAV and the local web explorer.

``generate`` writes sampled, reconstructed or interpolated melodies as ``.mid`` + ``.wav`` + JSON; ``session``
holds the explorer's JSON API as plain functions over one model; ``server`` serves it and the page
(``static/``, with vendored JavaScript listed in ``static/THIRD_PARTY_NOTICES.txt``) on localhost.
Imports every lower layer (``data``, ``model``, ``analysis``); nothing imports it but ``cli``.
"""

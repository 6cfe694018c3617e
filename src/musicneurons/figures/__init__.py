"""Figures: tables in, matplotlib Figures out. The only package besides ``study`` that imports matplotlib.

``style`` (shared colours and axis helpers), ``latent`` (figures of the latent space), ``features`` (figures
of music features against neurons), ``preview`` (a one-image glimpse of the report) draw; only ``saving``
writes files.
"""

"""The study's analyses over arrays: music vs noise neurons, correlations and phi_K, LOESS, attribute vectors,
ablation. No torch (models are reached through a Protocol) and no matplotlib.
"""

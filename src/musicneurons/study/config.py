"""What shapes a study run: :class:`StudyConfig` (the CLI's options) and :class:`StudyError`."""

from __future__ import annotations

from dataclasses import dataclass

from musicneurons.constants import EXCITED_MU

DEFAULT_MODELS = {2: "default-2bar", 16: "default-16bar"}


class StudyError(ValueError):
    """A study that cannot run as asked (model and corpus disagree, too few windows): the message says why."""


@dataclass(frozen=True)
class StudyConfig:
    """Everything that shapes a study run (the CLI's options).

    Parameters
    ----------
    model : str, optional
        A model for a single part: an embedded name (``default-2bar``, ``default-16bar``), one of our model
        folders, or a Magenta checkpoint (``.tar``, directory or prefix). None: the embedded default for each
        window length in ``bars``.
    midi : str, optional
        A folder of MIDI files to extract windows from (Magenta's converter rules); None: the embedded corpus.
    windows : str, optional
        A ``windows.parquet`` from ``extract`` or a folder of them (as ``musicneurons encode`` reads them),
        instead of ``midi`` or the embedded corpus.
    latents : str, optional
        A latents folder written by ``musicneurons encode`` from the same windows with the same model: μ and σ
        of the studied windows are read from it instead of encoding them (one part only).
    bars : tuple of int
        Window lengths to study, (2, 16) by default; with ``model`` it must match the model.
    n_random : int
        Random note sequences to compare with (2-bar parts only); at most as many as real windows are used.
    seed : int
        Seeds every random draw (each stage gets its own generator from the seed and its name).
    device, precision : str
        Where and how to run the model (``auto``/``cpu``/``cuda``; ``fp32``/``bf16``).
    max_windows : int, optional
        Study a random subset of at most this many real windows per part.
    sigma_threshold : float, optional
        Music neuron: mean σ below this (None: ``musicneurons.constants.MUSIC_SIGMA_THRESHOLD``).
    activation_threshold : float
        A window excites a neuron when |μ| exceeds this (paper: 0.1).
    n_phik_neurons : int
        φ_K is computed between every feature and this many most specific neurons (more if a model has more
        music neurons, up to 128): the figures show no more.
    n_corr_dims : int
        Dimensions in the latent correlation matrix (paper: 100).
    ablation_steps : int
        Window steps (windows × T) decoded per point of the ablation curve: 16,000 = 500 2-bar windows or
        62 16-bar windows. 0 skips the ablation.
    svg : bool
        Also write every figure as SVG (PNG is always written; the report embeds the PNGs).
    figure_workers : int, optional
        Processes that draw the figures while the study goes on (None: up to 3, fewer on fewer cores;
        0: draw in this process, one after the other). The figures are the same either way.
    overwrite : bool
        Recompute every stage even when its artifact matches.
    progress : bool
        Show progress bars.
    """

    model: str | None = None
    midi: str | None = None
    windows: str | None = None
    latents: str | None = None
    bars: tuple[int, ...] = (2, 16)
    n_random: int = 50_000
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    max_windows: int | None = None
    sigma_threshold: float | None = None
    activation_threshold: float = EXCITED_MU
    n_phik_neurons: int = 64
    n_corr_dims: int = 100
    ablation_steps: int = 16_000
    svg: bool = False
    figure_workers: int | None = None
    overwrite: bool = False
    progress: bool = True

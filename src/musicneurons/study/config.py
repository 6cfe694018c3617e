"""What shapes a study run: :class:`StudyConfig` (the CLI's options), :class:`StudyError`, and the command
line that reproduces a run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from musicneurons.constants import EXCITED_MU
from musicneurons.errors import UserError

DEFAULT_MODELS = {2: "default-2bar", 16: "default-16bar"}

#: What ``--skip`` may leave out: name -> (the stages it skips, in words). Every other stage is needed by
#: the paper's figures. ``audio`` is no stage: the report's listening section.
SKIPPABLE: dict[str, tuple[tuple[str, ...], str]] = {
    "ablation": (("ablation",), "the ablation curve (decodes with the least specific dimensions zeroed)"),
    "free-running": (("free_running",), "greedy decodes of mu and the always-hold baseline (a warning)"),
    "phik-null": (("phik_null",), "the piece-shuffled phi_K null (pale cells in Fig. 7)"),
    "bootstrap": (("uncertainty",), "the bootstrap over source files and the claims' measures"),
    "probes": (("interventions",), "the causal probes (decodes with one neuron moved)"),
    "disentanglement": (("disentanglement",), "the disentanglement scores"),
    "detector": (("detector",), "the music-vs-noise detector"),
    "audio": ((), "the report's audio clips and their MIDI files"),
}
#: ``--skip extras``: everything beyond the paper's own figures and numbers (the study as it first was).
SKIP_GROUPS = {"extras": tuple(name for name in SKIPPABLE if name != "ablation")}


def parse_skip(text: str | None) -> tuple[str, ...]:
    """``--skip`` as the names it skips, in :data:`SKIPPABLE` order (``extras`` expanded); a UserError names
    a name it does not know."""
    names: set[str] = set()
    for name in filter(None, (n.strip() for n in (text or "").split(","))):
        if name in SKIP_GROUPS:
            names.update(SKIP_GROUPS[name])
        elif name in SKIPPABLE:
            names.add(name)
        else:
            known = ", ".join([*SKIPPABLE, *SKIP_GROUPS])
            msg = f"--skip {name}: no such part of the study (one of: {known})"
            raise UserError(msg)
    return tuple(name for name in SKIPPABLE if name in names)


class StudyError(UserError):
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
    analysis_windows : int, optional
        Cap on the windows the per-window analyses see (φ_K, correlations, LOESS, attribute vectors, the
        bootstrap, the φ_K null, probes, detector, ablation, features, the comparison with random sequences):
        when a part studies more windows, those analyses use a random subset of this many, drawn without
        replacement from the study seed (the same subset on every rerun), and the cheap numbers (mean σ per
        dimension, hence the music/noise split, mean and variance of μ, the per-window excitation counts)
        are still computed over every window, streamed in chunks, so memory does not grow with the corpus
        beyond a few bytes per window. 50,000 is the paper's sample size; 0 or None: no cap. Below the cap
        nothing changes. The summary gives both sizes (``n_windows_total``, ``n_windows_analysis``).
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
    probe_steps : int
        Window steps (windows × T) per point of the causal probes' grid: 512 = 16 2-bar windows or 2 16-bar
        windows, each decoded 7 times for each of ``probe_top_k`` music neurons and 2 noise neurons. 0 skips.
    probe_top_k : int
        Music neurons moved by the causal probes (the most specific ones).
    detector_steps : int
        Window steps of real windows in the music-vs-noise detector (8,192 = 256 2-bar or 32 16-bar windows),
        each with four negatives encoded and reconstructed. 0 skips.
    disentanglement_samples : int
        Windows (at most) the disentanglement scores use. 0 skips.
    skip : tuple of str
        Parts of the study left out (names of :data:`SKIPPABLE`): their stages do not run, their figures and
        report sections are not drawn, and the summary lists them under ``skipped``.
    svg : bool
        Also write every figure as SVG (PNG is always written; the report embeds the PNGs).
    figure_workers : int, optional
        Processes that draw the figures while the study goes on (None: up to 3, fewer on fewer cores;
        0: draw in this process, one after the other). The figures are the same either way.
    prefetch_parts : bool
        Compute the later parts' stages in a second process while the first part runs (on the CPU with two
        cores or more; :mod:`musicneurons.study.prefetch`). The results are the same either way.
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
    analysis_windows: int | None = 50_000
    sigma_threshold: float | None = None
    activation_threshold: float = EXCITED_MU
    n_phik_neurons: int = 64
    n_corr_dims: int = 100
    ablation_steps: int = 16_000
    probe_steps: int = 512
    probe_top_k: int = 8
    detector_steps: int = 8_192
    disentanglement_samples: int = 1_000
    skip: tuple[str, ...] = ()
    svg: bool = False
    figure_workers: int | None = None
    prefetch_parts: bool = True
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.analysis_windows is not None and (self.analysis_windows < 0 or self.analysis_windows == 1):
            msg = f"analysis_windows must be 0 or None (no cap) or at least 2, got {self.analysis_windows}"
            raise StudyError(msg)

    def skips(self, stage: str) -> bool:
        """Whether ``--skip`` leaves out this stage (or ``audio``)."""
        return any(stage == name or stage in SKIPPABLE[name][0] for name in self.skip)


#: StudyConfig fields that the command line sets, and their flags (for run.json's "command").
COMMAND_FLAGS = {
    "model": "--model",
    "midi": "--midi",
    "windows": "--windows",
    "latents": "--latents",
    "n_random": "--n-random",
    "seed": "--seed",
    "device": "--device",
    "precision": "--precision",
    "max_windows": "--max-windows",
    "analysis_windows": "--analysis-windows",
    "sigma_threshold": "--sigma-threshold",
}


def command_line(config: StudyConfig, out: Path) -> str:
    """The `musicneurons study` command that reproduces this run."""
    default = StudyConfig()
    args = ["musicneurons", "study", "--out", str(out)]
    for name, flag in COMMAND_FLAGS.items():
        value = getattr(config, name)
        if value != getattr(default, name):
            args += [flag, str(value)]
    if config.bars != default.bars and config.model is None:
        args += ["--bars", *map(str, config.bars)]
    if config.skip:
        args += ["--skip", ",".join(config.skip)]
    if config.svg:
        args.append("--svg")
    return " ".join(args)

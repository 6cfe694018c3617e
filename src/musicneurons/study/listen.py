"""Short audio for the report: the example melody, its decodes, the melodies at both ends of the pitch and
rhythm neurons and a few random sequences, rendered by :mod:`musicneurons.data.synth` and embedded as WAV
data URIs (``<audio>`` elements), with the same clips written as MIDI files in ``report/midi/``.

:func:`listen_section` is a row of :data:`musicneurons.study.pipeline.REPORT_SECTIONS`. Clips are rendered at
:data:`SAMPLE_RATE` (enough for the synth's triangle waves up to MIDI 100) and 16-bar windows other than
the example are cut to their first :data:`LONG_WINDOW_STEPS` steps, so the report stays a few MB.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from musicneurons.study.part import Part
    from musicneurons.study.report import ReportSection

SAMPLE_RATE = 11_025  # Hz
LONG_WINDOW_STEPS = 64  # 4 bars: what is played of a 16-bar corpus window
N_RANDOM_CLIPS = 3


def _clips(part: Part, summary: Mapping[str, Any]) -> list[tuple[str, str, np.ndarray, float]]:
    """(file stem, label, window, qpm) of every clip of a part."""
    from musicneurons.constants import DEFAULT_QPM

    clips = []
    example = part.data.get("example")
    if example is not None:
        clips.append(("twinkle", "Twinkle, twinkle (the input)", example["window"], DEFAULT_QPM))
        clips.append(("twinkle_decoded_mu", "its greedy decode of μ", example["decoded_mu"], DEFAULT_QPM))
        if part.bars == 2:
            clips.append(
                ("twinkle_decoded_z", "its greedy decode of a sample z", example["decoded_z"], DEFAULT_QPM)
            )
    cut = min(part.windows.shape[1], LONG_WINDOW_STEPS)
    for role in ("pitch_neuron", "rhythm_neuron"):
        r = summary.get(role) or {}
        if "dim" not in r:
            continue
        values = part.mu[:, r["dim"]]
        word = role.split("_")[0]
        for end, i in (("lowest", int(np.argmin(values))), ("highest", int(np.argmax(values)))):
            label = f"{end} μ of the {word} neuron (neuron {r['rank']}: {values[i]:+.2f})"
            clips.append((f"{word}_{end}", label, part.windows[i, :cut], float(part.qpm[i])))
    random = part.data.get("random")
    if random is not None:
        for j in range(min(N_RANDOM_CLIPS, len(random["windows"]))):
            clips.append(
                (f"random_{j + 1}", f"random sequence {j + 1}", random["windows"][j], float(random["qpm"][j]))
            )
    return clips


def listen_section(part: Part, summary: Mapping[str, Any]) -> ReportSection | None:
    """The part's clips as ``<audio>`` elements and MIDI downloads (data URIs), MIDI files also beside it."""
    from musicneurons.data.encoding import windows_to_midi
    from musicneurons.data.synth import render_windows, wav_bytes
    from musicneurons.study.report import ReportSection

    clips = [] if part.config.skips("audio") else _clips(part, summary)
    if not clips:
        return None
    midi_dir = part.folder.parent / "report" / "midi"
    items = []
    for stem, label, window, qpm in clips:
        audio = render_windows(np.asarray(window), qpm=qpm, sample_rate=SAMPLE_RATE)
        data = base64.b64encode(wav_bytes(audio, SAMPLE_RATE)).decode("ascii")
        name = f"{part.key}_{stem}.mid"
        windows_to_midi(np.asarray(window), midi_dir / name, qpm=qpm)
        midi = base64.b64encode((midi_dir / name).read_bytes()).decode("ascii")  # a few hundred bytes
        items.append(
            f'<li>{html.escape(label)}<br><audio controls preload="none" '
            f'src="data:audio/wav;base64,{data}"></audio> <a download="{html.escape(name)}" '
            f'href="data:audio/midi;base64,{midi}">MIDI</a></li>'
        )
    cut = (
        " 16-bar corpus windows are cut to their first 4 bars."
        if part.windows.shape[1] > LONG_WINDOW_STEPS
        else ""
    )
    body = (
        "<p>Rendered by musicneurons' own synth (triangle waves, no soundfont) at each window's tempo."
        f"{cut} Audio and MIDI are inside this file (the MIDI files are also in <code>report/midi/</code>)."
        "</p><ul>" + "".join(items) + "</ul>"
    )
    return ReportSection("Listen", body)

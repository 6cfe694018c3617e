"""The self-contained HTML report, ``report/index.html``: headline sentences, figures, tables, metadata.

:func:`write_report` embeds every figure as a base64 PNG, so the file can be mailed or attached on its own;
tables and SVG files (when drawn) are linked relative to the report. The words come from
:mod:`musicneurons.study.summary` (the numbers of ``summary.json``), so the report and the JSON never
disagree. Extra blocks (a comparison table, a list of warnings) are :class:`ReportSection` entries: under
the key ``""`` they come first, before the headline numbers; under a part key they close that part.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from musicneurons.atomic_files import atomic_write
from musicneurons.study.artifacts import json_text
from musicneurons.study.summary import headline_sentences, part_description


@dataclass(frozen=True)
class FigureEntry:
    """One figure in the report: file stem, heading, caption (what the reader sees) and its PNG."""

    name: str
    heading: str
    caption: str
    png: Path


@dataclass(frozen=True)
class ReportSection:
    """A block of the report: a heading (escaped) and a body that is already HTML (not escaped)."""

    heading: str
    body_html: str


# --------------------------------------------------------------------------- HTML
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
figure{margin:1.5em 0;padding:.5em;border:1px solid #eee;border-radius:6px}
figure img{max-width:100%;height:auto;display:block;margin:auto}
figcaption{font-size:.92em;color:#444;margin-top:.5em}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.headline li{margin:.4em 0}.meta{font-size:.85em}pre{background:#f7f7f7;padding:.7em;overflow-x:auto}
.note{background:#fff8e1;border-left:4px solid #f0c040;padding:.4em .8em}
.warn{background:#fdecea;border-left:4px solid #d93025;padding:.4em .8em .4em 2em;margin:.6em 0}
td.agrees{background:#e6f4ea}td.differs{background:#fce8e6}td.not-comparable{background:#f1f3f4}
table.paper td{text-align:left;vertical-align:top}
"""


def _img_tag(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def table_html(df: pd.DataFrame, digits: int = 4) -> str:
    """A small DataFrame as an HTML table (numbers to ``digits`` significant digits, NaN as a dash)."""
    return df.to_html(
        index=False, float_format=lambda v: f"{v:.{digits}g}", border=0, na_rep="–", escape=True
    )


def write_report(
    path: Path,
    *,
    title: str,
    summary: Mapping[str, Any],
    parts: Sequence[tuple[str, str]],
    figures: Mapping[str, Sequence[FigureEntry]],
    tables: Mapping[str, Mapping[str, Path]],
    previews: Mapping[str, pd.DataFrame] | None = None,
    notes: Sequence[str] = (),
    metadata: Mapping[str, Any],
    sections: Mapping[str, Sequence[ReportSection]] | None = None,
) -> Path:
    """Write the self-contained HTML report to ``path`` (atomically) and return it.

    Parameters
    ----------
    summary : the ``summary.json`` content; ``summary["parts"][key]`` feeds :func:`headline_sentences`.
    parts : (key, label) per model, e.g. ``("2bar", "2-bar")``, in report order.
    figures : part key -> figures, in reading order.
    tables : part key -> {table name: file}; linked relative to the report's folder.
    previews : "part key/name" -> small DataFrame shown inline (e.g. the first music neurons).
    notes : remarks shown at the top (e.g. "fewer random sequences than asked for").
    metadata : config, versions, seeds and stage timings, shown at the end.
    sections : extra blocks: key ``""`` before the headline numbers, a part key at the end of that part.
    """
    sections = sections or {}
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        (
            "<p>A reproduction of <em>Exploring how a Generative AI interprets music</em> (Barenboim, "
            "Del Debbio, Hirn, Sanz) with <code>musicneurons study</code>. Latent dimensions are ordered by "
            "their mean posterior σ over the corpus; “neuron k” is the k-th most specific dimension.</p>"
        ),
    ]
    toc = " · ".join(
        [
            '<a href="#headline">Headline numbers</a>',
            *(f'<a href="#{key}">{html.escape(label)} model</a>' for key, label in parts),
            '<a href="#metadata">Run metadata</a>',
            _json_link("summary.json", summary),
            _json_link("run.json", metadata),
        ]
    )
    out.append(f"<nav>{toc}</nav>")
    out += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    out += [_section_html(section) for section in sections.get("", ())]  # warnings and the paper, first
    out.append('<h2 id="headline">Headline numbers</h2><ul class="headline">')
    for key, label in parts:
        if key in summary.get("parts", {}):
            out += [f"<li>{html.escape(s)}</li>" for s in headline_sentences(summary["parts"][key], label)]
    out.append("</ul>")
    base = path.parent
    for key, label in parts:
        out.append(f'<h2 id="{key}">{html.escape(label)} model</h2>')
        if key in summary.get("parts", {}):
            out.append(f"<p>{html.escape(part_description(summary['parts'][key]))}</p>")
        out += [_figure_html(key, fig, base) for fig in figures.get(key, [])]
        for name, frame in (previews or {}).items():
            if name.split("/", 1)[0] == key:
                out.append(f"<h3>{html.escape(name.split('/', 1)[1])}</h3>{table_html(frame)}")
        if tables.get(key):
            links = ", ".join(
                f'<a href="{_rel(p, base)}">{html.escape(n)}</a>' for n, p in tables[key].items()
            )
            out.append(f"<p>Tables (Parquet; open with pandas or DuckDB): {links}.</p>")
        out += [_section_html(section) for section in sections.get(key, ())]
    out.append('<h2 id="metadata">Run metadata</h2><div class="meta">')
    out += _metadata_html(metadata)
    out.append("</div>")
    out.append(
        f"<p>All numbers above are also in {_json_link('summary.json', summary)} (inside this file, and"
        " beside the report folder). The Parquet tables and SVG figures linked above are files of the study"
        " folder: those links work while the report sits in <code>OUT/report/</code>.</p></body></html>"
    )
    text = "\n".join(out) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _json_link(name: str, content: Mapping[str, Any]) -> str:
    """A download link carrying ``content`` as JSON inside the page (it survives the report being mailed)."""
    data = base64.b64encode(json_text(content).encode("utf-8")).decode("ascii")
    return f'<a download="{name}" href="data:application/json;base64,{data}">{name}</a>'


def _figure_html(key: str, fig: FigureEntry, base: Path) -> str:
    """A figure with its caption; the SVG is linked when it was drawn (``musicneurons study --svg``)."""
    svg = fig.png.with_suffix(".svg")
    link = f' (<a href="{_rel(svg, base)}">SVG</a>)' if svg.exists() else ""
    return (
        f'<figure id="{key}-{fig.name}">{_img_tag(fig.png, fig.heading)}'
        f"<figcaption><b>{html.escape(fig.heading)}.</b> {html.escape(fig.caption)}{link}"
        "</figcaption></figure>"
    )


def _section_html(section: ReportSection) -> str:
    return f"<h3>{html.escape(section.heading)}</h3>{section.body_html}"


def _metadata_html(metadata: Mapping[str, Any]) -> list[str]:
    """The command, stage timings and versions as small tables, then everything as JSON."""
    out = []
    if "command" in metadata:
        out.append(
            f"<p>Reproduce with <code>{html.escape(str(metadata['command']))}</code>"
            + (f" ({metadata['seconds_this_run']:.0f} s this run)" if "seconds_this_run" in metadata else "")
            + ". Each stage draws its random numbers from its own generator, seeded by the study seed and "
            "the stage name.</p>"
        )
    stages = metadata.get("stages")
    if stages:
        frame = pd.DataFrame(
            [
                {"stage": k, "seconds": v.get("seconds"), "computed at": v.get("created")}
                for k, v in stages.items()
            ]
        )
        out.append(
            "<h3>Stages (time when computed; reused stages keep their first time)</h3>" + table_html(frame)
        )
    if metadata.get("versions"):
        frame = pd.DataFrame([{"package": k, "version": v} for k, v in metadata["versions"].items()])
        out.append("<h3>Versions</h3>" + table_html(frame))
    out.append(f"<h3>Everything</h3><pre>{html.escape(json.dumps(metadata, indent=2, default=str))}</pre>")
    return out


def _rel(target: Path, base: Path) -> str:
    return html.escape(Path(os.path.relpath(target, base)).as_posix())

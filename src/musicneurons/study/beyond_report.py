"""Report sections of the stages beyond the paper (:mod:`musicneurons.study.beyond`): the causal probes per
neuron, the disentanglement scores and the detector's method x negative table, each with its caveat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from musicneurons.study.beyond import CAVEATS
from musicneurons.study.report import ReportSection, table_html


def detector_section(part: Any, summary: Mapping[str, Any]) -> ReportSection | None:
    detector = summary.get("detector")
    if not detector:
        return None
    table = pd.DataFrame(detector["auroc"]).rename_axis("method").reset_index()
    body = table_html(table, digits=3) + f"<p>{CAVEATS['detector']}</p>"
    return ReportSection("music vs noise: AUROC (method × negative, easy to hard)", body)


def disentanglement_section(part: Any, summary: Mapping[str, Any]) -> ReportSection | None:
    table = part.data.get("disentanglement")
    if table is None or not len(table):
        return None
    columns = ["latents", "mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"]
    columns += ["modularity", "explicitness", "scc", "interpretability", "active_units", "n_factors"]
    body = (
        table_html(table[[c for c in columns if c in table]], digits=3)
        + f"<p>{CAVEATS['disentanglement']}</p>"
    )
    return ReportSection("disentanglement scores against the jSymbolic features", body)


def interventions_section(part: Any, summary: Mapping[str, Any]) -> ReportSection | None:
    probes = summary.get("interventions")
    if not probes:
        return None
    body = table_html(pd.DataFrame(probes["neurons"]), digits=3) + f"<p>{CAVEATS['interventions']}</p>"
    return ReportSection("causal probes: what moving each neuron changes", body)


SECTIONS = (interventions_section, disentanglement_section, detector_section)

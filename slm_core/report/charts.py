"""Plotly figures of a report's evaluation, drawn from ``ReportData``: accuracy per model and
confusion matrices. The decision's charts (cost against volume, the validation profit curve,
the score radar) live in :mod:`slm_core.report.value_charts`, shared with the pages.

Plotly.js reads some HTML tags inside trace names and tick labels (``<b>``, ``<a href>``), so
every user-supplied label (class and group names) is escaped before it goes into a figure.
Every figure has a white background (``LAYOUT``), whatever template a page has set.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from slm_core.i18n import t
from slm_core.report.collect import ReportData
from slm_core.report.value_charts import LAYOUT

_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def _safe(text: object) -> str:
    return html.escape(str(text), quote=False)


def accuracy_figure(data: ReportData, lang: str = "en") -> go.Figure:
    """Test accuracy and macro-F1 per model with their 95% bootstrap intervals."""
    ranked = sorted(data.runs, key=lambda r: (-r.evaluation.accuracy, r.run_id))
    labels = [r.label for r in ranked]
    fig = go.Figure()
    for key, getter, ci in (
        ("accuracy", lambda e: e.accuracy, lambda e: e.accuracy_ci),
        ("macro_f1", lambda e: e.macro_f1, lambda e: e.macro_f1_ci),
    ):
        values = [getter(r.evaluation) for r in ranked]
        lows = [ci(r.evaluation)[0] for r in ranked]
        highs = [ci(r.evaluation)[1] for r in ranked]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=t(f"report_col.{key}", lang),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [max(0.0, h - v) for h, v in zip(highs, values, strict=True)],
                    "arrayminus": [max(0.0, v - lo) for lo, v in zip(lows, values, strict=True)],
                },
                hovertemplate="%{x}: %{y:.3f}<extra>%{fullData.name}</extra>",
            )
        )
    if ranked:
        fig.add_hline(
            y=ranked[0].evaluation.majority_rate,
            line_dash="dot",
            annotation_text=t("report_chart.majority", lang),
            annotation_position="top left",
        )
    fig.update_layout(
        **LAYOUT,
        title=t("report_chart.accuracy_title", lang),
        barmode="group",
        height=380,
        margin=_MARGIN,
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def confusion_figure(classes: Sequence[str], matrix: Sequence[Sequence[int]], lang: str = "en"):
    """Counts of true (rows) against predicted (columns) labels on the test split."""
    labels = [_safe(c) for c in classes]
    fig = go.Figure(
        go.Heatmap(
            z=[list(row) for row in matrix],
            x=labels,
            y=labels,
            colorscale="Blues",
            text=[[str(v) for v in row] for row in matrix],
            texttemplate="%{text}",
            showscale=False,
        )
    )
    size = min(140 + 45 * len(labels), 560)
    fig.update_layout(
        **LAYOUT,
        title=t("report_chart.confusion_title", lang),
        height=size,
        margin=_MARGIN,
        xaxis={"title": t("results.cm_x", lang)},
        yaxis={"title": t("results.cm_y", lang), "autorange": "reversed"},
    )
    return fig

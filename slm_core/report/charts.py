"""Plotly figures of a report's evaluation, drawn from ``ReportData``: accuracy per model and
confusion matrices. The decision's charts (cost against volume, the validation profit curve,
the score radar) live in :mod:`slm_core.report.value_charts`, shared with the pages.

Plotly.js reads some HTML tags inside trace names and tick labels (``<b>``, ``<a href>``), so
every user-supplied label (class and group names) is escaped before it goes into a figure.
Every figure carries its own template (:mod:`slm_core.report.figure_style`), whatever the
default is where it is built.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from slm_core.i18n import t
from slm_core.report.collect import ReportData
from slm_core.report.figure_style import MARGIN, fit_labels
from slm_core.report.value_charts import safe_label


def accuracy_figure(data: ReportData, lang: str = "en") -> go.Figure:
    """Test accuracy and macro-F1 per model with their 95% intervals (Wilson; BCa bootstrap).

    A measured LLM gets its own bar, named with the size of the sample it answered (the small
    models answered the whole test split), accuracy only, with its Wilson interval.
    """
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
    if data.llm is not None:
        m = data.llm.measurement
        low, high = m.accuracy_ci
        name = safe_label(t("report_chart.llm_bar", lang, llm=m.label, n=m.n))
        fig.add_trace(
            go.Bar(
                x=[name],
                y=[m.accuracy],
                name=t("report_chart.llm_accuracy", lang),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [max(0.0, high - m.accuracy)],
                    "arrayminus": [max(0.0, m.accuracy - low)],
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
        title=t("report_chart.accuracy_title", lang),
        barmode="group",
        height=380,
        margin=MARGIN,
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fit_labels(fig)


def confusion_figure(
    classes: Sequence[str],
    matrix: Sequence[Sequence[float]],
    lang: str = "en",
    *,
    title: str | None = None,
    percent: bool = False,
    clickable: bool = False,
) -> go.Figure:
    """True (rows) against predicted (columns) labels on the test split: counts, or row shares
    with ``percent``. One builder for the report and the Results page.

    ``clickable``: a scatter of near-invisible square markers sits on top of the heatmap
    (Streamlit's chart selection does not report clicks on heatmap cells); a selected marker's
    ``customdata`` is ``[true label, predicted label, cell text]`` with the labels unescaped.
    """
    raw = [str(c) for c in classes]
    labels = [safe_label(c) for c in raw]
    texts = [[f"{v:.0%}" if percent else f"{int(v):,}" for v in row] for row in matrix]
    x_title, y_title = t("results.cm_x", lang), t("results.cm_y", lang)
    hover = f"{safe_label(y_title)}: %{{y}}<br>{safe_label(x_title)}: %{{x}}<br>"
    heat = go.Heatmap(
        z=[list(row) for row in matrix],
        x=labels,
        y=labels,
        colorscale="Blues",
        text=texts,
        texttemplate="%{text}" if len(labels) <= 15 else None,
        # With markers on top, they answer the hover; the heatmap stays quiet.
        hoverinfo="skip" if clickable else None,
        hovertemplate=None if clickable else hover + "%{text}<extra></extra>",
        showscale=False,
    )
    traces = [heat]
    if clickable:
        traces.append(
            go.Scatter(
                x=[c for _ in labels for c in labels],
                y=[r for r in labels for _ in labels],
                mode="markers",
                marker={
                    "symbol": "square",
                    "size": max(8, min(48, 480 // max(len(labels), 1))),
                    "opacity": 0.02,
                    "color": "#000000",
                },
                customdata=[
                    [r, c, text]
                    for r, row in zip(raw, texts, strict=True)
                    for c, text in zip(raw, row, strict=True)
                ],
                hovertemplate=hover + "%{customdata[2]}<extra></extra>",
                showlegend=False,
            )
        )
    fig = go.Figure(traces)
    fig.update_layout(
        title=title or t("report_chart.confusion_title", lang),
        height=min(140 + 45 * len(labels), 560),
        margin=MARGIN,
        xaxis={"title": x_title, "type": "category", "side": "bottom"},
        yaxis={"title": y_title, "type": "category", "autorange": "reversed"},
        clickmode="event+select" if clickable else None,
    )
    return fit_labels(fig)

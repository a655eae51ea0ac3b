"""Plotly figures of a report, drawn from ``ReportData`` (used by the HTML report and the pages).

Plotly.js reads some HTML tags inside trace names and tick labels (``<b>``, ``<a href>``), so
every user-supplied label (class and group names) is escaped before it goes into a figure.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from slm_core.i18n import CURRENCY_SYMBOLS, t
from slm_core.report.collect import ReportData

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
        title=t("report_chart.accuracy_title", lang),
        barmode="group",
        height=380,
        margin=_MARGIN,
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def cost_figure(data: ReportData, lang: str = "en") -> go.Figure | None:
    """Money per 1M predictions of measured models and the LLM API, log scale (None: none)."""
    v = data.value
    if v is None or not data.any_cost_measured:
        return None
    a = v.assumptions
    names, values, colours = [], [], []
    for r in data.runs:
        per_m = r.cost.cost_per_million(a.price_per_vcpu_hour)
        if per_m is not None and per_m > 0:
            names.append(r.label)
            values.append(per_m)
            colours.append("#2563eb")
    if v.llm is not None and v.llm.business.details.get("cost_per_item"):
        names.append(_safe(t("value.llm_column", lang, name=a.llm_name)))
        values.append(float(v.llm.business.details["cost_per_item"]) * 1e6)
        colours.append("#9ca3af")
    if not values:
        return None
    symbol = CURRENCY_SYMBOLS.get(a.currency, a.currency + " ")
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=colours,
            hovertemplate="%{x}: " + symbol + "%{y:,.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        title=t("report_chart.cost_title", lang),
        height=360,
        margin=_MARGIN,
        yaxis={"type": "log", "title": t("report_chart.cost_y", lang), "tickprefix": symbol},
    )
    return fig


def profit_figure(data: ReportData, lang: str = "en") -> go.Figure | None:
    """Yearly net value against the confidence threshold, one line per model."""
    v = data.value
    if v is None or not v.scorecards:
        return None
    fig = go.Figure()
    for card in v.scorecards:
        curve = card.business.curve
        fig.add_trace(
            go.Scatter(
                x=curve["threshold"],
                y=curve["net_value"],
                mode="lines",
                name=card.label,
                legendgroup=card.label,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[card.business.threshold],
                y=[card.business.net_value],
                mode="markers",
                marker={"size": 11, "symbol": "diamond"},
                name=card.label,
                legendgroup=card.label,
                showlegend=False,
            )
        )
    if v.llm is not None:
        fig.add_hline(
            y=v.llm.business.net_value,
            line_dash="dash",
            annotation_text=_safe(t("value.llm_column", lang, name=v.assumptions.llm_name)),
            annotation_position="bottom right",
        )
    fig.update_layout(
        title=t("value.profit_title", lang),
        height=380,
        margin=_MARGIN,
        legend={"orientation": "h", "y": -0.25},
        xaxis={"title": t("value.profit_x", lang), "range": [0, 1]},
        yaxis={
            "title": t("value.profit_y", lang),
            "tickprefix": CURRENCY_SYMBOLS.get(v.assumptions.currency, ""),
        },
    )
    return fig


def radar_figure(data: ReportData, lang: str = "en") -> go.Figure | None:
    """Every model's 0–100 scores over the business and social dimensions (unmeasured at 0)."""
    from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS

    v = data.value
    if v is None or not v.scorecards:
        return None
    dims = [*BUSINESS_DIMENSIONS, *SOCIAL_DIMENSIONS]
    theta = [t(f"value.dim.{d}", lang) for d in dims]
    fig = go.Figure()
    for c in v.scorecards:
        scores = [(c.business_dims.get(d) or c.social_dims.get(d)).score for d in dims]
        r = [0.0 if s is None else float(s) for s in scores]
        fig.add_trace(
            go.Scatterpolar(
                r=r + r[:1], theta=theta + theta[:1], name=c.label, fill="toself", opacity=0.55
            )
        )
    fig.update_layout(
        title=t("value.radar_title", lang),
        height=440,
        margin={"l": 90, "r": 90, "t": 60, "b": 20},
        polar={"radialaxis": {"range": [0, 100], "tickvals": [25, 50, 75, 100]}},
        legend={"orientation": "h", "y": -0.1},
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
        title=t("report_chart.confusion_title", lang),
        height=size,
        margin=_MARGIN,
        xaxis={"title": t("results.cm_x", lang)},
        yaxis={"title": t("results.cm_y", lang), "autorange": "reversed"},
    )
    return fig

"""Plotly figures for the Value page, drawn from a ValueReport (no computation here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
_HOVER = {"threshold": "threshold", "net": "net", "automated": "automated", "accuracy": "accuracy"}


def profit_figure(
    report,
    *,
    title: str,
    x_title: str,
    y_title: str,
    llm_label: str,
    money_prefix: str = "$",
    hover: Mapping[str, str] | None = None,
) -> go.Figure:
    """Yearly net value against the confidence threshold, one line per model.

    A marker shows each model's threshold in use; a dashed line the LLM-API alternative.
    ``hover`` names the tooltip rows (threshold, net, automated, accuracy) in the page's language.
    """
    words = {**_HOVER, **(hover or {})}
    net = f"{words['threshold']} %{{x:.2f}}<br>{words['net']} {money_prefix}%{{y:,.0f}}"
    fig = go.Figure()
    for card in report.scorecards:
        curve = card.business.curve
        fig.add_trace(
            go.Scatter(
                x=curve["threshold"],
                y=curve["net_value"],
                mode="lines",
                name=card.label,
                legendgroup=card.label,
                customdata=[
                    [c, "–" if a is None else f"{a:.1%}"]
                    for c, a in zip(curve["coverage"], curve["accuracy"], strict=True)
                ],
                hovertemplate=(
                    f"{net}<br>{words['automated']} %{{customdata[0]:.1%}}"
                    f"<br>{words['accuracy']} %{{customdata[1]}}<extra>%{{fullData.name}}</extra>"
                ),
            )
        )
        b = card.business
        fig.add_trace(
            go.Scatter(
                x=[b.threshold],
                y=[b.net_value],
                mode="markers",
                marker={"size": 11, "symbol": "diamond"},
                name=card.label,
                legendgroup=card.label,
                showlegend=False,
                hovertemplate=f"{net}<extra>%{{fullData.name}}</extra>",
            )
        )
    if report.llm is not None:
        fig.add_hline(
            y=report.llm.business.net_value,
            line_dash="dash",
            annotation_text=llm_label,
            annotation_position="bottom right",
        )
    fig.update_layout(
        title=title,
        height=380,
        margin=_MARGIN,
        legend={"orientation": "h", "y": -0.25},
        xaxis_title=x_title,
        yaxis_title=y_title,
        yaxis_tickprefix=money_prefix,
    )
    fig.update_xaxes(range=[0, 1])
    return fig


def radar_figure(
    labels: Sequence[str],
    scores: Mapping[str, Sequence[float | None]],
    *,
    title: str,
) -> go.Figure:
    """One closed polygon per model over the dimension ``labels`` (None drawn at 0)."""
    fig = go.Figure()
    theta = list(labels) + [labels[0]] if labels else []
    for name, values in scores.items():
        r = [0.0 if v is None else float(v) for v in values]
        text = ["–" if v is None else f"{v:.0f}" for v in values]
        fig.add_trace(
            go.Scatterpolar(
                r=r + r[:1],
                theta=theta,
                name=name,
                fill="toself",
                opacity=0.55,
                text=text + text[:1],
                hovertemplate="%{theta}: %{text}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        title=title,
        height=420,
        margin={"l": 90, "r": 90, "t": 60, "b": 20},
        polar={"radialaxis": {"range": [0, 100], "tickvals": [25, 50, 75, 100]}},
        legend={"orientation": "h", "y": -0.1},
    )
    return fig

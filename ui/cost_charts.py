"""Plotly figures for the Cost page, drawn from already computed numbers (no computation here)."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def money_figure(
    per_run: Mapping[str, float | None],
    llm_label: str,
    llm_value: float | None,
    *,
    title: str,
    x_title: str,
) -> go.Figure:
    """Money per 1M predictions, one bar per measured run and one for the API, log scale."""
    labels = [k for k, v in per_run.items() if v]
    values = [per_run[k] for k in labels]
    colours = ["#2E7D32"] * len(labels)
    if llm_value:
        labels.append(llm_label)
        values.append(llm_value)
        colours.append("#C62828")
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colours,
            text=[f"{v:.3g}" for v in values],
            textposition="outside",
            hovertemplate="%{y}: %{x:.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"title": x_title, "type": "log"},
        yaxis={"autorange": "reversed"},
        margin=_MARGIN,
        height=120 + 36 * len(labels),
        showlegend=False,
    )
    return fig


def latency_figure(
    rows: Mapping[str, Mapping[str, float | None]],
    *,
    title: str,
    x_title: str,
) -> go.Figure:
    """Latency percentiles per run (grouped bars: one trace per percentile), log scale."""
    fig = go.Figure()
    names = list(rows)
    percentiles = sorted({p for values in rows.values() for p in values})
    for p in percentiles:
        fig.add_trace(
            go.Bar(
                x=[rows[n].get(p) for n in names],
                y=names,
                orientation="h",
                name=p,
                hovertemplate="%{y} " + p + ": %{x:.3f} ms<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        barmode="group",
        xaxis={"title": x_title, "type": "log"},
        yaxis={"autorange": "reversed"},
        margin=_MARGIN,
        height=140 + 22 * len(names) * max(len(percentiles), 1),
        legend={"orientation": "h"},
    )
    return fig

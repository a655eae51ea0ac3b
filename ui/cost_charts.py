"""Plotly figures of what the Cost page measured (the money chart is the value core's
``cost_volume_figure``, shared with the Value page and the report)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import plotly.graph_objects as go

from slm_core.report.figure_style import fit_labels

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def log_ticks(values: list[float]) -> list[float]:
    """1-2-5 ticks spanning ``values`` on a log axis (Plotly's own minor labels read "2 3 4")."""
    positive = [v for v in values if v and v > 0]
    if not positive:
        return []
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    return [m * 10.0**e for e in range(low, high + 1) for m in (1, 2, 5)]


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
    ticks = log_ticks([v for values in rows.values() for v in values.values() if v is not None])
    fig.update_layout(
        title=title,
        barmode="group",
        xaxis={
            "title": x_title,
            "type": "log",
            "tickvals": ticks,
            "ticktext": [f"{v:g}" for v in ticks],
        },
        yaxis={"autorange": "reversed"},
        margin=_MARGIN,
        height=140 + 22 * len(names) * max(len(percentiles), 1),
        legend={"orientation": "h"},
    )
    return fit_labels(fig)

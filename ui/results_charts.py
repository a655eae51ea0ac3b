"""Plotly figures for the Results page, drawn from an EvalResult (no computation here)."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from slm_core.curves import Calibration, CoverageCurve
from slm_core.report.figure_style import fit_labels

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def _unit_square(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    """Lay out a curve of two rates, both axes from 0 to 1."""
    fig.update_layout(
        title=title,
        height=380,
        margin=_MARGIN,
        xaxis_title=x_title,
        yaxis_title=y_title,
        xaxis_range=[0, 1],
        yaxis_range=[0, 1.02],
    )
    return fit_labels(fig)


def _per_label(curves: dict[str, dict], x: str, y: str, score: str, name: str) -> go.Figure:
    """One line per label (its ``x`` against its ``y``), its ``score`` named in the legend."""
    return go.Figure(
        [
            go.Scatter(
                x=curve[x],
                y=curve[y],
                mode="lines",
                name=f"{html.escape(cls)} ({name} {curve[score]:.3f})",
            )
            for cls, curve in curves.items()
        ]
    )


def roc_figure(
    roc: dict[str, dict], *, title: str, x_title: str, y_title: str, chance: str
) -> go.Figure:
    """One-vs-rest ROC curves, one line per label, AUC in the legend."""
    fig = _per_label(roc, "fpr", "tpr", "auc", "AUC")
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name=chance, line={"dash": "dot", "color": "grey"}
        )
    )
    return _unit_square(fig, title, x_title, y_title)


def pr_figure(pr: dict[str, dict], *, title: str, x_title: str, y_title: str) -> go.Figure:
    """One-vs-rest precision-recall curves, average precision in the legend."""
    fig = _per_label(pr, "recall", "precision", "average_precision", "AP")
    return _unit_square(fig, title, x_title, y_title)


def reliability_figure(
    cal: Calibration, *, title: str, x_title: str, y_title: str, count_title: str, perfect: str
) -> go.Figure:
    """Accuracy against mean confidence per bin, with the diagonal and bin sizes as bars."""
    centres = [(lo + hi) / 2 for lo, hi in zip(cal.lower, cal.upper, strict=True)]
    points = [
        (c, a, n)
        for c, a, n in zip(cal.confidence, cal.accuracy, cal.count, strict=True)
        if c is not None
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=centres,
            y=cal.count,
            name=count_title,
            yaxis="y2",
            marker_color="rgba(100,116,139,0.25)",
            width=0.9 / cal.n_bins,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name=perfect, line={"dash": "dot", "color": "grey"}
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[p[0] for p in points],
            y=[p[1] for p in points],
            mode="lines+markers",
            name=y_title,
            customdata=[p[2] for p in points],
            hovertemplate=f"{x_title} %{{x:.2f}}<br>{y_title} %{{y:.2f}}<br>"
            f"{count_title} %{{customdata}}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=380,
        margin=_MARGIN,
        xaxis={"title": x_title, "range": [0, 1]},
        yaxis={"title": y_title, "range": [0, 1.02]},
        yaxis2={"title": count_title, "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h", "y": -0.25},
    )
    return fit_labels(fig)


def coverage_figure(
    curve: CoverageCurve,
    threshold: float,
    *,
    x_title: str,
    coverage_title: str,
    accuracy_title: str,
) -> go.Figure:
    """Share answered and accuracy on the answered texts, over the confidence threshold."""
    x = [float(v) for v in curve.thresholds]
    accuracy = [None if v != v else float(v) for v in curve.accuracy]  # NaN -> gap
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=x, y=[float(v) for v in curve.coverage], mode="lines", name=coverage_title)
    )
    fig.add_trace(go.Scatter(x=x, y=accuracy, mode="lines", name=accuracy_title))
    fig.add_vline(x=threshold, line_dash="dash", line_color="grey")
    fig.update_layout(
        height=340,
        margin=_MARGIN,
        xaxis={"title": x_title, "range": [0, 1]},
        yaxis={"range": [0, 1.02], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.25},
    )
    return fit_labels(fig)

"""Plotly figures of the decision, drawn from a ``ValueReport`` — one builder per chart, used by
the Value, Cost and Present pages and the HTML report alike.

Every user-supplied label (model and API names) is escaped: Plotly.js reads some HTML tags.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from slm_core.escape import plotly_text
from slm_core.i18n import CURRENCY_SYMBOLS, format_number, t
from slm_core.report.figure_style import MARGIN, fit_labels
from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS
from slm_core.value.scorecard import ValueReport
from slm_core.value.text import option_label

# One colour per kind of option, so a reader finds "the API" or "people" in every chart.
COLOURS = {"manual": "#6b7280", "api": "#dc2626", "cascade": "#7c3aed"}
MODEL_COLOURS = ("#2563eb", "#059669", "#d97706", "#0891b2", "#be185d", "#4d7c0f", "#9333ea")


# A user-supplied label escaped for Plotly.js, which reads some HTML tags in names.
safe_label = plotly_text


def colour(report: ValueReport, key: str) -> str:
    """The colour of one option, the same in every chart."""
    if key in COLOURS:
        return COLOURS[key]
    models = [o.key for o in report.models]
    return MODEL_COLOURS[models.index(key) % len(MODEL_COLOURS)] if key in models else "#111827"


def _symbol(report: ValueReport) -> str:
    cur = report.assumptions.currency
    return CURRENCY_SYMBOLS.get(cur, cur + " ")


def _vline(x: float, line: dict) -> dict:
    """A vertical line at ``x`` across the whole plot, as ``add_vline`` draws it."""
    return {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
            "line": line}  # fmt: skip


def cost_volume_figure(report: ValueReport, lang: str = "en") -> go.Figure | None:
    """Yearly cost against yearly volume (log–log) for every option, crossovers marked.

    Each line is what handling the whole volume costs a year with that option: people for the
    texts not automated, errors, serving (always-on servers step up with the peak rate), API
    fees and maintenance. Set-up is one-off and not in it.
    """
    curves = report.decision.curves
    if not curves:
        return None
    volumes = curves["volume"]
    symbol = _symbol(report)
    fig = go.Figure()
    for o in report.options:
        ys = curves["cost"].get(o.key)
        if ys is None:
            continue
        best = o.key == report.decision.best
        fig.add_trace(
            go.Scatter(
                x=volumes,
                y=[max(y, 1e-2) for y in ys],
                mode="lines",
                name=safe_label(option_label(o, lang)),
                line={
                    "color": colour(report, o.key),
                    "width": 4 if best else 2,
                    "dash": "dot" if o.kind == "manual" else "solid",
                },
                hovertemplate="%{x:,.0f}: " + symbol + "%{y:,.0f}<extra>%{fullData.name}</extra>",
            )
        )
    # Annotations on a log axis take log10 of the value (shapes take the value itself).
    # Shapes and annotations go in as one list each: add_vline re-inspects the figure's axes
    # for every line (~50 ms each, most of the chart's time on a page's first visit).
    shapes, notes = [], []
    for c in report.decision.crossovers:
        shapes.append(_vline(c.volume, {"dash": "dash", "color": "#9ca3af", "width": 1}))
        notes.append(
            {
                "x": math.log10(c.volume),
                "y": 1.0,
                "yref": "paper",
                "text": format_number(float(f"{c.volume:.2g}"), lang),
                "showarrow": False,
                "font": {"size": 10, "color": "#6b7280"},
                "textangle": -90,
                "xanchor": "left",
                "yanchor": "top",
            }
        )
    volume = curves["scenario_volume"]
    shapes.append(_vline(volume, {"color": "#111827", "width": 2}))
    notes.append(
        {
            "x": math.log10(volume),
            "y": 0.0,
            "yref": "paper",
            "text": t("value.chart.your_volume", lang),
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 11, "color": "#111827"},
        }
    )
    fig.update_layout(
        shapes=shapes,
        annotations=notes,
        title=t("value.chart.cost_volume_title", lang),
        height=440,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.22},
        xaxis={"type": "log", "title": t("value.chart.volume_x", lang)},
        yaxis={
            "type": "log",
            "title": t("value.chart.cost_y", lang, cur=report.assumptions.currency),
            "tickprefix": symbol,
        },
    )
    return fit_labels(fig)


def profit_figure(report: ValueReport, lang: str = "en") -> go.Figure | None:
    """Net value per text against the confidence threshold on the validation split (the curve
    that chose each model's threshold), with the threshold in use marked."""
    models = [o for o in report.models if o.business.curve.get("threshold")]
    if not models:
        return None
    a = report.assumptions
    fig = go.Figure()
    for o in models:
        curve = o.business.curve
        fixed = (o.business.serving_cost or 0.0) + a.yearly_maintenance
        yearly = [a.annual_volume * v - fixed for v in curve["value_per_text"]]
        c = colour(report, o.key)
        fig.add_trace(
            go.Scatter(
                x=curve["threshold"],
                y=yearly,
                mode="lines",
                name=safe_label(o.label),
                legendgroup=o.key,
                line={"color": c},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[o.business.threshold],
                y=[o.business.net_value],
                mode="markers",
                marker={"size": 11, "symbol": "diamond", "color": c},
                name=safe_label(o.label),
                legendgroup=o.key,
                showlegend=False,
                hovertemplate=t("value.chart.test_point", lang) + ": %{y:,.0f}<extra></extra>",
            )
        )
    api = report.api
    if api is not None:
        fig.add_hline(
            y=api.business.net_value,
            line_dash="dash",
            line_color=COLOURS["api"],
            annotation_text=safe_label(option_label(api, lang)),
            annotation_position="top left",
        )
    fig.add_hline(y=0, line_color="#6b7280", line_width=1)
    fig.update_layout(
        title=t("value.chart.profit_title", lang),
        height=400,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
        xaxis={"title": t("value.profit_x", lang), "range": [0, 1]},
        yaxis={"title": t("value.profit_y", lang), "tickprefix": _symbol(report)},
    )
    return fit_labels(fig)


def radar_figure(report: ValueReport, lang: str = "en") -> go.Figure | None:
    """Every option's 0–100 scores on the business dimensions and the social dimensions scored
    for every option (left-out dimensions are not drawn)."""
    options = [o for o in report.options if o.kind != "manual"]
    if not options:
        return None
    dims = [*BUSINESS_DIMENSIONS, *(d for d in SOCIAL_DIMENSIONS if d not in report.left_out)]
    theta = [t(f"value.dim.{d}", lang) for d in dims]
    fig = go.Figure()
    for o in options:
        scores = [(o.business_dims.get(d) or o.social_dims.get(d)).score for d in dims]
        r = [0.0 if s is None else float(s) for s in scores]
        fig.add_trace(
            go.Scatterpolar(
                r=r + r[:1],
                theta=theta + theta[:1],
                name=safe_label(option_label(o, lang)),
                fill="toself",
                opacity=0.5,
                line={"color": colour(report, o.key)},
            )
        )
    fig.update_layout(
        title=t("value.radar_title", lang),
        height=460,
        margin={"l": 130, "r": 130, "t": 60, "b": 20},
        polar={"radialaxis": {"range": [0, 100], "tickvals": [25, 50, 75, 100]}},
        legend={"orientation": "h", "y": -0.1},
    )
    return fit_labels(fig)

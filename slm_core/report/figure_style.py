"""The look every chart shares, on the pages and in the HTML report: one explicit template.

A figure built inside the Streamlit process otherwise takes Streamlit's default Plotly template,
whose colorway is placeholders (``#000001``…) that only Streamlit's front end replaces: written
into a report, every bar is near-black. That template also has no automargin, so tick labels
were clipped by a 10 px margin. A template *object* (not a name looked up later) travels with the
figure wherever it is drawn.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import plotly.graph_objects as go
import plotly.io as pio

# The margin of every chart; automargin widens it to fit tick labels and titles.
MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


@lru_cache(maxsize=1)
def template() -> go.layout.Template:
    """Plotly's white template with real colours and axes that make room for their labels."""
    base = copy.deepcopy(pio.templates["plotly_white"])
    base.layout.xaxis.automargin = True
    base.layout.yaxis.automargin = True
    return base


def layout() -> dict:
    """Layout settings every chart starts from (white paper, the explicit template)."""
    return {"template": template(), "paper_bgcolor": "white", "plot_bgcolor": "white"}


def fit_labels(fig: go.Figure) -> go.Figure:
    """``fig`` with every axis (subplots too) making room for its tick labels — cheap, so the
    pages' own charts get it on every run; they keep Streamlit's theme there."""
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def styled(fig: go.Figure) -> go.Figure:
    """``fig`` as it leaves the app (the HTML report): the shared template, labels fitted.
    Assigning a template costs tens of milliseconds, so the chart builders leave it to the
    export (``report.html.figure_html``) and pages draw their charts in Streamlit's theme."""
    fig.update_layout(**layout())
    return fit_labels(fig)

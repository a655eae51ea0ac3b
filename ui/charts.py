"""Plotly figures built from typed results (no computation here, only drawing)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from slm_core.report.figure_style import fit_labels
from ui.state import t


def history_figure(history: dict[str, list[float]], title_loss: str, title_acc: str) -> go.Figure:
    """Train/validation loss and accuracy per epoch, side by side, in the interface language."""
    names = {"train": t("chart.train"), "val": t("chart.val"), "epoch": t("chart.epoch")}
    fig = make_subplots(rows=1, cols=2, subplot_titles=(title_loss, title_acc))
    for col, metric, title in ((1, "loss", title_loss), (2, "accuracy", title_acc)):
        for key, split, dash in ((metric, "train", "solid"), (f"val_{metric}", "val", "dash")):
            values = history.get(key) or []
            if values:
                fig.add_trace(
                    go.Scatter(
                        x=list(range(1, len(values) + 1)),
                        y=values,
                        name=f"{names[split]} · {title}",
                        mode="lines+markers",
                        line={"dash": dash},
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text=names["epoch"], dtick=1)
    fig.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    return fit_labels(fig)

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


def sweep_figure(sweep: dict) -> go.Figure:
    """Each setting a sweep tried: its validation accuracy, the size of its marker the training
    texts it got (successive halving gives the weaker ones fewer), the promoted one starred."""
    trials = [trial for trial in sweep.get("trials", []) if trial.get("val_accuracy") is not None]
    rows_label = t("sweep.rows")

    def hover(trial: dict) -> str:
        settings = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in trial["settings"].items()
        )
        return f"{settings}<br>{rows_label}: {trial['train_rows']}"

    best = [trial for trial in trials if trial["settings"] == sweep.get("best")]
    largest = max((trial["train_rows"] for trial in trials), default=1) or 1
    fig = go.Figure(
        go.Scatter(
            x=[trial["number"] + 1 for trial in trials],
            y=[trial["val_accuracy"] for trial in trials],
            mode="markers",
            marker={"size": [8 + 14 * trial["train_rows"] / largest for trial in trials]},
            hovertext=[hover(trial) for trial in trials],
            hoverinfo="text+y",
            name=t("sweep.y_axis"),
        )
    )
    if best:
        fig.add_trace(
            go.Scatter(
                x=[best[0]["number"] + 1],
                y=[best[0]["val_accuracy"]],
                mode="markers",
                marker={"symbol": "star", "size": 18},
                hovertext=[hover(best[0])],
                hoverinfo="text+y",
                name=t("sweep.best"),
            )
        )
    fig.update_xaxes(title_text=t("sweep.x_axis"), dtick=1)
    fig.update_yaxes(title_text=t("sweep.y_axis"), tickformat=".0%")
    fig.update_layout(
        title=t("sweep.chart_title"),
        height=260,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.35},
    )
    return fit_labels(fig)

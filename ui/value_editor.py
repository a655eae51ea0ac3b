"""The Value page's assumptions editor, score weights and per-model confidence thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from slm_core.i18n import CURRENCY_SYMBOLS
from slm_core.value.assumptions import (
    BUSINESS_DIMENSIONS,
    GRID_INTENSITY,
    PAYOFF_MODES,
    SOCIAL_DIMENSIONS,
    Assumptions,
    with_grid_region,
)
from slm_core.value.business import cost_matrix
from ui.state import lang, t
from ui.value_scenario import (
    CURRENT_KEY,
    GROUPS,
    VERSION_KEY,
    ensure_state,
    source_help,
    widget_key,
)

# (step, format) of each number input; the rest use (1.0, "%.2f").
_NUMBER_FORMAT: dict[str, tuple[float, str]] = {
    "annual_volume": (1000.0, "%.0f"),
    "price_per_vcpu_hour": (0.001, "%.4f"),
    "llm_input_price_per_m": (0.01, "%.3f"),
    "llm_output_price_per_m": (0.01, "%.3f"),
    "llm_output_tokens": (1.0, "%.0f"),
    "llm_prompt_tokens": (10.0, "%.0f"),
    "llm_accuracy": (0.01, "%.3f"),
    "tokens_per_char_latin": (0.05, "%.3f"),
    "tokens_per_char_cjk": (0.05, "%.3f"),
    "grid_gco2_per_kwh": (1.0, "%.0f"),
    "pue": (0.01, "%.2f"),
    "setup_cost": (100.0, "%.0f"),
    "yearly_maintenance": (100.0, "%.0f"),
    "llm_setup_cost": (100.0, "%.0f"),
    "business_share": (0.05, "%.2f"),
}
_UPPER = {"llm_accuracy": 1.0, "business_share": 1.0}
_LOWER = {"pue": 1.0}


def _number(base: Assumptions, field: str, container) -> float:
    step, fmt = _NUMBER_FORMAT.get(field, (1.0, "%.2f"))
    return container.number_input(
        t(f"value.field.{field}") + (f" ({base.unit(field, lang())})" if base.unit(field) else ""),
        min_value=_LOWER.get(field, 0.0),
        max_value=_UPPER.get(field),
        step=step,
        format=fmt,
        key=widget_key(field),
        help=source_help(base, field),
    )


def _grid_changed() -> None:
    region = st.session_state.get(widget_key("grid_region"))
    if region in GRID_INTENSITY:
        st.session_state[widget_key("grid_gco2_per_kwh")] = GRID_INTENSITY[region]


def _field_widget(base: Assumptions, field: str, container, classes: Sequence[str]) -> Any:
    if field == "currency":
        options = list(dict.fromkeys([*CURRENCY_SYMBOLS, base.currency]))
        return container.selectbox(
            t("value.field.currency"), options, key=widget_key(field), help=source_help(base, field)
        )
    if field == "payoff_mode":
        return container.radio(
            t("value.field.payoff_mode"),
            PAYOFF_MODES,
            horizontal=True,
            format_func=lambda m: t(f"value.payoff_mode.{m}"),
            key=widget_key(field),
            help=source_help(base, field),
        )
    if field == "positive_class":
        options = list(dict.fromkeys(["", *classes, base.positive_class]))
        return container.selectbox(
            t("value.field.positive_class"),
            options,
            format_func=lambda c: c or "—",
            key=widget_key(field),
            help=source_help(base, field),
        )
    if field == "grid_region":
        options = list(dict.fromkeys([*GRID_INTENSITY, base.grid_region]))
        return container.selectbox(
            t("value.field.grid_region"),
            options,
            key=widget_key(field),
            on_change=_grid_changed,
            help=source_help(base, field),
        )
    if field == "llm_name":
        return container.text_input(
            t("value.field.llm_name"), key=widget_key(field), help=source_help(base, field)
        )
    if field == "business_share":
        return container.slider(
            t("value.field.business_share"),
            0.0,
            1.0,
            step=0.05,
            key=widget_key(field),
            help=source_help(base, field),
        )
    return float(_number(base, field, container))


def _payoff_editor(base: Assumptions, values: dict[str, Any], classes: Sequence[str]) -> dict:
    simple = Assumptions.from_dict(
        {
            k: values[k]
            for k in (
                "cost_false_positive",
                "cost_false_negative",
                "cost_other_error",
                "positive_class",
            )
        },
        base,
    )
    matrix = cost_matrix(base if base.payoff_mode == "matrix" else simple, classes)
    frame = pd.DataFrame(matrix, index=list(classes), columns=list(classes))
    st.caption(t("value.payoff_matrix"), help=t("value.payoff_help"))
    edited = st.data_editor(
        frame,
        key=f"value.payoff.{st.session_state.get(VERSION_KEY, 0)}",
        disabled=False,
        width="stretch",
    )
    out: dict[str, dict[str, float]] = {}
    for i, true in enumerate(classes):
        for j, pred in enumerate(classes):
            if i == j:
                continue
            value = edited.iloc[i, j]
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            out.setdefault(str(true), {})[str(pred)] = max(0.0, float(value))
    return out


def assumptions_editor(base: Assumptions, classes: Sequence[str]) -> Assumptions:
    """All assumptions as widgets, grouped in tabs; returns the edited Assumptions."""
    ensure_state(base)
    st.caption(t("value.assumptions_help"))
    tabs = st.tabs([t(f"value.group.{g}") for g in GROUPS])
    values: dict[str, Any] = {}
    for tab, (group, names) in zip(tabs, GROUPS.items(), strict=True):
        with tab:
            cols = st.columns(3)
            for i, name in enumerate(names):
                values[name] = _field_widget(base, name, cols[i % 3], classes)
            if group == "errors" and values.get("payoff_mode") == "matrix" and classes:
                values["payoff_matrix"] = _payoff_editor(base, values, classes)
            if group == "weights":
                values["business_weights"] = _weights(
                    "bw", BUSINESS_DIMENSIONS, t("value.business_weights")
                )
                values["social_weights"] = _weights(
                    "sw", SOCIAL_DIMENSIONS, t("value.social_weights")
                )
    a = with_grid_region(base.edit(**values))
    st.session_state[CURRENT_KEY] = a.to_dict()
    return a


def _weights(prefix: str, dims: Sequence[str], title: str) -> dict[str, float]:
    st.markdown(f"**{title}**", help=t("value.weights_help"))
    cols = st.columns(4)
    return {
        dim: float(
            cols[i % 4].number_input(
                t(f"value.dim.{dim}"),
                min_value=0.0,
                step=0.1,
                format="%.2f",
                key=widget_key(f"{prefix}.{dim}"),
            )
        )
        for i, dim in enumerate(dims)
    }


def threshold_inputs(runs: Sequence[tuple[int, str]]) -> dict[int, float]:
    """One optional threshold per run (empty = the best one, found automatically)."""
    cols = st.columns(min(4, max(1, len(runs))))
    out: dict[int, float] = {}
    for i, (run_id, label) in enumerate(runs):
        value = cols[i % len(cols)].number_input(
            t("value.threshold_for", model=label),
            min_value=0.0,
            max_value=1.0,
            value=None,
            step=0.01,
            format="%.2f",
            key=f"vt.{run_id}",
            help=t("value.threshold_help"),
        )
        if value is not None:
            out[run_id] = float(value)
    return out

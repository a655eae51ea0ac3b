"""The Value page's editors: every assumption (grouped as ``FIELD_GROUPS``) and the per-run
choices (a confidence threshold, a serving mode) that ``ui.decision.value_report`` reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from slm_core.escape import md_text
from slm_core.i18n import CURRENCY_SYMBOLS
from slm_core.value.assumptions import (
    BUSINESS_DIMENSIONS,
    PAYOFF_MODES,
    RANGES,
    RAREST_CLASS,
    SERVING_MODES,
    SOCIAL_DIMENSIONS,
    Assumptions,
)
from slm_core.value.payoff import cost_matrix
from slm_core.value.scorecard import ValueReport
from slm_core.value.sources import FIELD_GROUPS, FIELD_UNITS, GRID_INTENSITY
from ui.decision import (
    MATRIX_VERSION_KEY,
    SERVING_KEY,
    THRESHOLDS_KEY,
    VERSION_KEY,
    field_key,
    payoff_editor_key,
    serving_key,
    threshold_key,
)
from ui.state import lang, t
from ui.value_scenario import MATRIX_FIELD, source_help

# (step, format) of number inputs that need more than their unit's default.
_NUMBER_FORMAT: dict[str, tuple[float, str]] = {
    "annual_volume": (1000.0, "%.0f"),
    "minutes_per_item": (0.5, "%.2f"),
    "fx_rate": (0.01, "%.4f"),
    "setup_cost": (100.0, "%.0f"),
    "yearly_maintenance": (100.0, "%.0f"),
    "llm_setup_cost": (100.0, "%.0f"),
    "price_per_vcpu_hour": (0.001, "%.4f"),
    "instance_vcpus": (1.0, "%.0f"),
    "min_instances": (1.0, "%.0f"),
    "business_hours_per_day": (0.5, "%.1f"),
    "business_days_per_year": (1.0, "%.0f"),
    "serverless_price_per_gb_s": (0.000001, "%.10f"),
    "serverless_price_per_m_requests": (0.01, "%.2f"),
    "serverless_min_memory_mb": (64.0, "%.0f"),
    "batch_runs_per_year": (1.0, "%.0f"),
    "batch_min_billed_seconds": (1.0, "%.0f"),
    "llm_input_price_per_m": (0.01, "%.3f"),
    "llm_output_price_per_m": (0.01, "%.3f"),
    "llm_prompt_tokens": (10.0, "%.0f"),
    "llm_output_tokens": (1.0, "%.0f"),
    "llm_wh_per_query": (0.01, "%.3f"),
    "cpu_watts_per_thread": (0.5, "%.1f"),
    "ram_watts_per_instance": (1.0, "%.1f"),
    "llm_latency_ms": (50.0, "%.0f"),
    "grid_gco2_per_kwh": (1.0, "%.0f"),
    "device_disk_budget_mb": (1.0, "%.0f"),
    "device_memory_budget_mb": (1.0, "%.0f"),
    "latency_budget_ms": (10.0, "%.0f"),
    "payback_horizon_months": (1.0, "%.0f"),
    "privacy_own_server": (5.0, "%.0f"),
    "min_group_size": (1.0, "%.0f"),
    "feedback_min_ratings": (1.0, "%.0f"),
}
_UNIT_FORMAT = {"0–1": (0.01, "%.3f"), "×": (0.05, "%.2f"), "tokens/char": (0.05, "%.3f")}
# Fields that only matter with a positive class (simple error costs).
POSITIVE_ONLY = ("cost_false_positive", "cost_false_negative")


def _label(a: Assumptions, field: str) -> str:
    unit = a.unit(field, lang())
    return t(f"value.field.{field}") + (f" ({unit})" if unit else "")


def _number(a: Assumptions, field: str, container) -> float:
    step, fmt = _NUMBER_FORMAT.get(field) or _UNIT_FORMAT.get(
        FIELD_UNITS.get(field, ""), (1.0, "%.2f")
    )
    low, high = RANGES.get(field, (0.0, None))
    return container.number_input(
        _label(a, field),
        min_value=float(low),
        max_value=None if high is None or high == float("inf") else float(high),
        step=step,
        format=fmt,
        key=field_key(field),
        help=source_help(a, field),
    )


def _grid_changed() -> None:
    region = st.session_state.get(field_key("grid_region"))
    if region in GRID_INTENSITY:
        st.session_state[field_key("grid_gco2_per_kwh")] = GRID_INTENSITY[region]


def positive_class_label(value: str) -> str:
    """'—' for none, 'the rarest class' for ``RAREST_CLASS``, else the class name."""
    if not value:
        return t("value.no_positive_class")
    return t("value.rarest_class") if value == RAREST_CLASS else value


def _choice(a: Assumptions, field: str, container, options, **kwargs) -> Any:
    options = list(dict.fromkeys([*options, getattr(a, field)]))
    return container.selectbox(
        _label(a, field), options, key=field_key(field), help=source_help(a, field), **kwargs
    )


def _field_widget(a: Assumptions, field: str, container, classes: Sequence[str]) -> Any:
    if field == "currency":
        return _choice(a, field, container, CURRENCY_SYMBOLS)
    if field == "serving_mode":
        return _choice(
            a, field, container, SERVING_MODES, format_func=lambda m: t(f"value.mode_short.{m}")
        )
    if field == "positive_class":
        return _choice(
            a, field, container, ["", RAREST_CLASS, *classes], format_func=positive_class_label
        )
    if field == "grid_region":
        return _choice(a, field, container, GRID_INTENSITY, on_change=_grid_changed)
    if field == "payoff_mode":
        return container.radio(
            _label(a, field),
            PAYOFF_MODES,
            horizontal=True,
            format_func=lambda m: t(f"value.payoff_mode.{m}"),
            key=field_key(field),
            help=source_help(a, field),
        )
    if field == "llm_name":
        return container.text_input(
            _label(a, field), key=field_key(field), help=source_help(a, field)
        )
    if field == "business_share":
        return container.slider(
            _label(a, field), 0.0, 1.0, step=0.05, key=field_key(field), help=source_help(a, field)
        )
    return _number(a, field, container)


def _matrix_edited(editor_key: str, classes: list[str], shown: list[list[float]]) -> None:
    """Store the whole matrix the user sees (the data editor's state is only its edits)."""
    grid = [list(row) for row in shown]
    for row, cells in (st.session_state.get(editor_key) or {}).get("edited_rows", {}).items():
        for column, value in cells.items():
            if column in classes and value is not None and not np.isnan(float(value)):
                grid[int(row)][classes.index(column)] = max(0.0, float(value))
    st.session_state[field_key(MATRIX_FIELD)] = {
        true: {pred: grid[i][j] for j, pred in enumerate(classes) if i != j}
        for i, true in enumerate(classes)
    }
    st.session_state[MATRIX_VERSION_KEY] = st.session_state.get(MATRIX_VERSION_KEY, 0) + 1


def _payoff_editor(a: Assumptions, classes: Sequence[str], prior: Sequence[float]) -> None:
    classes = [str(c) for c in classes]
    shown = cost_matrix(a, classes, prior).tolist()
    key = payoff_editor_key(
        st.session_state.get(VERSION_KEY, 0), st.session_state.get(MATRIX_VERSION_KEY, 0)
    )
    st.caption(t("value.payoff_matrix", cur=a.currency), help=t("value.payoff_help"))
    st.data_editor(
        pd.DataFrame(shown, index=classes, columns=classes),
        key=key,
        width="stretch",
        on_change=_matrix_edited,
        args=(key, classes, shown),
    )


def _weights(prefix: str, dims: Sequence[str], title: str) -> None:
    st.markdown(f"**{title}**", help=t("value.weights_help"))
    cols = st.columns(4)
    for i, dim in enumerate(dims):
        cols[i % 4].number_input(
            t(f"value.dim.{dim}"),
            min_value=0.0,
            step=0.1,
            format="%.2f",
            key=field_key(f"{prefix}.{dim}"),
        )


def assumptions_editor(
    a: Assumptions,
    classes: Sequence[str],
    prior: Sequence[float],
    replaced: Mapping[str, str] | None = None,
) -> None:
    """Every assumption as a widget, in one tab per ``FIELD_GROUPS`` group.

    The widgets hold the state that ``ui.value_scenario.edited_assumptions`` reads (``a`` is
    that scenario, for units, labels and sources). ``replaced`` maps fields a measurement
    replaces to the note shown under their widget (they stay editable, but are not used).
    """
    replaced = replaced or {}
    st.caption(t("value.assumptions_help"))
    tabs = st.tabs([t(f"value.group.{g}") for g in FIELD_GROUPS])
    for tab, (group, names) in zip(tabs, FIELD_GROUPS.items(), strict=True):
        with tab:
            cols = st.columns(3)
            shown = [n for n in names if n not in POSITIVE_ONLY or a.positive_class]
            for i, name in enumerate(shown):
                _field_widget(a, name, cols[i % 3], classes)
                if name in replaced:  # a caption, not a changed label: the widget keeps its state
                    cols[i % 3].caption(md_text(replaced[name], exact=False))
            if group == "errors" and not a.positive_class:
                st.caption(t("value.fp_fn_unused"))
            if group == "errors" and a.payoff_mode == "matrix" and classes:
                _payoff_editor(a, classes, prior)
            if group == "weights":
                _weights("bw", BUSINESS_DIMENSIONS, t("value.business_weights"))
                _weights("sw", SOCIAL_DIMENSIONS, t("value.social_weights"))


# ---------------------------------------------------------------- per-run choices


def _threshold_changed(run_id: int) -> None:
    chosen = dict(st.session_state.get(THRESHOLDS_KEY) or {})
    value = st.session_state.get(threshold_key(run_id))
    if value is None:
        chosen.pop(run_id, None)
    else:
        chosen[run_id] = float(value)
    st.session_state[THRESHOLDS_KEY] = chosen


def _serving_changed(run_id: int) -> None:
    chosen = dict(st.session_state.get(SERVING_KEY) or {})
    value = st.session_state.get(serving_key(run_id))
    if value:
        chosen[run_id] = value
    else:
        chosen.pop(run_id, None)
    st.session_state[SERVING_KEY] = chosen


def run_controls(report: ValueReport) -> None:
    """Per model: a confidence threshold (empty = chosen on validation) and a serving mode
    (empty = the scenario's), kept per run id in ``THRESHOLDS_KEY`` / ``SERVING_KEY``."""
    thresholds = st.session_state.get(THRESHOLDS_KEY) or {}
    serving = st.session_state.get(SERVING_KEY) or {}
    scenario_mode = t(f"value.mode_short.{report.assumptions.serving_mode}")
    st.caption(t("value.run_controls_help"))
    for o in report.models:
        run_id = o.run_id
        # Seed the widgets from the kept choices (a visit to another page drops widget state).
        st.session_state.setdefault(threshold_key(run_id), thresholds.get(run_id))
        st.session_state.setdefault(serving_key(run_id), serving.get(run_id, ""))
        c1, c2 = st.columns(2)
        c1.number_input(
            t("value.threshold_for", model=o.label),
            min_value=0.0,
            max_value=1.0,
            value=None,
            step=0.01,
            format="%.2f",
            placeholder=t("value.threshold_placeholder"),
            key=threshold_key(run_id),
            on_change=_threshold_changed,
            args=(run_id,),
            help=t("value.threshold_help"),
        )
        c2.selectbox(
            t("value.serving_for", model=o.label),
            ["", *SERVING_MODES],
            format_func=lambda m: (
                t(f"value.mode_short.{m}") if m else t("value.mode_scenario", mode=scenario_mode)
            ),
            key=serving_key(run_id),
            on_change=_serving_changed,
            args=(run_id,),
            help=t("value.serving_help"),
        )

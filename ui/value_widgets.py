"""Streamlit widgets of the Value page: scenario bar, assumptions editor and score tables."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from slm_core.errors import SlmError
from slm_core.i18n import CURRENCY_SYMBOLS, format_money, format_number
from slm_core.value.assumptions import (
    BUSINESS_DIMENSIONS,
    GRID_INTENSITY,
    PAYOFF_MODES,
    PRESET_IDS,
    SOCIAL_DIMENSIONS,
    Assumptions,
    from_store,
    load_preset,
    localized_source,
    parse_scenario,
    scenario_name,
    source_kind,
    to_store,
    with_grid_region,
)
from slm_core.value.business import cost_matrix
from slm_core.value.social import CARD_ITEMS
from slm_core.value.text import format_figure, note_text
from ui.state import error_text, lang, t

BASE_KEY = "value.base"  # the loaded scenario, as Assumptions.to_dict()
VERSION_KEY = "value.version"  # bumped on every load so that editors start afresh
CURRENT_KEY = "value.current"  # the edited scenario, to survive a visit to another page
PREFIX = "va."

GROUPS: dict[str, tuple[str, ...]] = {
    "people": (
        "annual_volume",
        "minutes_per_item",
        "hourly_labour_cost",
        "currency",
        "value_per_correct",
    ),
    "errors": (
        "payoff_mode",
        "positive_class",
        "cost_false_positive",
        "cost_false_negative",
        "cost_other_error",
    ),
    "costs": ("setup_cost", "yearly_maintenance", "price_per_vcpu_hour"),
    "llm": (
        "llm_name",
        "llm_accuracy",
        "llm_input_price_per_m",
        "llm_output_price_per_m",
        "llm_prompt_tokens",
        "llm_output_tokens",
        "llm_setup_cost",
        "tokens_per_char_latin",
        "tokens_per_char_cjk",
    ),
    "energy": (
        "grid_region",
        "grid_gco2_per_kwh",
        "pue",
        "cpu_watts_per_thread",
        "device_disk_budget_mb",
        "device_memory_budget_mb",
        "latency_budget_ms",
    ),
    "weights": ("business_share",),
}
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


# ------------------------------------------------------------------ state


def _key(field: str) -> str:
    return PREFIX + field


def _widget_values(a: Assumptions) -> dict[str, Any]:
    values = {f: getattr(a, f) for g in GROUPS.values() for f in g}
    for dim in BUSINESS_DIMENSIONS:
        values[f"bw.{dim}"] = float(a.business_weights.get(dim, 0.0))
    for dim in SOCIAL_DIMENSIONS:
        values[f"sw.{dim}"] = float(a.social_weights.get(dim, 0.0))
    return values


def load_into_state(a: Assumptions) -> None:
    """Make ``a`` the scenario being edited: every widget starts from its values."""
    st.session_state[BASE_KEY] = a.to_dict()
    st.session_state.pop(CURRENT_KEY, None)
    st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1
    for name, value in _widget_values(a).items():
        st.session_state[_key(name)] = value


def base_assumptions() -> Assumptions:
    """The loaded scenario (the first preset until the user loads another)."""
    if BASE_KEY not in st.session_state:
        load_into_state(load_preset(PRESET_IDS[0]))
    return Assumptions.from_dict(st.session_state[BASE_KEY])


def _ensure_state(base: Assumptions) -> None:
    # Widgets are created from session state only. Streamlit drops the state of widgets that
    # a run did not draw (another page was open), so refill it from the last edited values.
    current = st.session_state.get(CURRENT_KEY)
    source = Assumptions.from_dict(current) if current else base
    for name, value in _widget_values(source).items():
        st.session_state.setdefault(_key(name), value)


def source_help(a: Assumptions, field: str) -> str:
    """Tooltip: unit, kind of default, source, date and note of one assumption."""
    src = a.source(field)
    parts = [p for p in (a.unit(field, lang()), t(f"value.kind.{source_kind(src)}")) if p]
    src = localized_source(src, lang())
    origin = src.source + (f" ({src.date})" if src.date else "")
    text = " · ".join(parts) + f"  \n{origin}"
    return text + (f"  \n{src.note}" if src.note else "")


# ---------------------------------------------------------------- scenario


def scenario_choices(store, dataset_id: str) -> dict[str, tuple[str, Any]]:
    """Presets and saved scenarios: option id -> (label, loader returning Assumptions)."""
    out: dict[str, tuple[str, Any]] = {}
    for preset in PRESET_IDS:
        out[f"preset:{preset}"] = (
            f"{t('value.preset_prefix')}: {scenario_name(load_preset(preset).name, lang())}",
            lambda preset=preset: load_preset(preset),
        )
    for record in store.list_scenarios(dataset_id):
        out[f"saved:{record.id}"] = (
            f"{t('value.saved_prefix')}: {scenario_name(record.name, lang())} (#{record.id})",
            lambda rid=record.id: from_store(store, rid),
        )
    return out


def scenario_bar(store, dataset_id: str, current: Assumptions) -> None:
    """Pick a preset or a saved scenario, load a file, save and download the current one."""
    choices = scenario_choices(store, dataset_id)
    options = list(choices)

    def label(option: str) -> str:
        return choices[option][0]

    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    choice = c1.selectbox(
        t("value.scenario"),
        options,
        format_func=label,
        help=t("value.scenario_help"),
        key="value.scenario_choice",
    )
    if c2.button(t("value.load_scenario"), icon=":material/download:", key="value.load"):
        loaded = choices[choice][1]()
        load_into_state(loaded)
        st.session_state["value.flash"] = t("value.loaded", name=scenario_name(loaded.name, lang()))
        st.rerun()
    if "value.flash" in st.session_state:
        st.success(st.session_state.pop("value.flash"), icon=":material/check:")

    upload = st.file_uploader(
        t("value.upload"), type=["toml", "json"], help=t("value.upload_help"), key="value.upload"
    )
    if upload is not None:
        digest = hashlib.sha1(upload.getvalue()).hexdigest()
        if st.session_state.get("value.upload_digest") != digest:
            try:
                loaded = parse_scenario(upload.getvalue(), upload.name)
            except SlmError as exc:
                st.error(error_text(exc), icon=":material/error:")
            else:
                st.session_state["value.upload_digest"] = digest
                load_into_state(loaded)
                st.session_state["value.flash"] = t(
                    "value.loaded", name=scenario_name(loaded.name, lang())
                )
                st.rerun()

    c1, c2, c3, c4 = st.columns([3, 1.2, 1.2, 1.2], vertical_alignment="bottom")
    name = c1.text_input(
        t("value.save_name"), value=scenario_name(current.name, lang()), key="value.save_name"
    )
    if c2.button(t("value.save"), icon=":material/save:", key="value.save"):
        record = to_store(store, Assumptions.from_dict({"name": name}, current), name, dataset_id)
        st.toast(t("value.saved", name=record.name, id=record.id))
    stem = "".join(ch if ch.isalnum() else "_" for ch in current.name.lower()).strip("_")
    c3.download_button(
        t("value.download_toml"),
        current.to_toml(),
        f"{stem or 'scenario'}.toml",
        mime="application/toml",
        key="value.dl_toml",
    )
    c4.download_button(
        t("value.download_json"),
        current.to_json(),
        f"{stem or 'scenario'}.json",
        mime="application/json",
        key="value.dl_json",
    )


# ----------------------------------------------------------------- editor


def _number(base: Assumptions, field: str, container) -> float:
    step, fmt = _NUMBER_FORMAT.get(field, (1.0, "%.2f"))
    return container.number_input(
        t(f"value.field.{field}") + (f" ({base.unit(field, lang())})" if base.unit(field) else ""),
        min_value=_LOWER.get(field, 0.0),
        max_value=_UPPER.get(field),
        step=step,
        format=fmt,
        key=_key(field),
        help=source_help(base, field),
    )


def _grid_changed() -> None:
    region = st.session_state.get(_key("grid_region"))
    if region in GRID_INTENSITY:
        st.session_state[_key("grid_gco2_per_kwh")] = GRID_INTENSITY[region]


def _field_widget(base: Assumptions, field: str, container, classes: Sequence[str]) -> Any:
    if field == "currency":
        options = list(dict.fromkeys([*CURRENCY_SYMBOLS, base.currency]))
        return container.selectbox(
            t("value.field.currency"), options, key=_key(field), help=source_help(base, field)
        )
    if field == "payoff_mode":
        return container.radio(
            t("value.field.payoff_mode"),
            PAYOFF_MODES,
            horizontal=True,
            format_func=lambda m: t(f"value.payoff_mode.{m}"),
            key=_key(field),
            help=source_help(base, field),
        )
    if field == "positive_class":
        options = list(dict.fromkeys(["", *classes, base.positive_class]))
        return container.selectbox(
            t("value.field.positive_class"),
            options,
            format_func=lambda c: c or "—",
            key=_key(field),
            help=source_help(base, field),
        )
    if field == "grid_region":
        options = list(dict.fromkeys([*GRID_INTENSITY, base.grid_region]))
        return container.selectbox(
            t("value.field.grid_region"),
            options,
            key=_key(field),
            on_change=_grid_changed,
            help=source_help(base, field),
        )
    if field == "llm_name":
        return container.text_input(
            t("value.field.llm_name"), key=_key(field), help=source_help(base, field)
        )
    if field == "business_share":
        return container.slider(
            t("value.field.business_share"),
            0.0,
            1.0,
            step=0.05,
            key=_key(field),
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
    _ensure_state(base)
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
                key=_key(f"{prefix}.{dim}"),
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


# ------------------------------------------------------------------ tables


def _score_colour(value: Any) -> str:
    """Red (0) through amber to green (100); grey when there is no score."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "background-color: #eeeeee; color: #777777"
    v = max(0.0, min(100.0, float(value))) / 100.0
    red = int(220 - 120 * v) if v > 0.5 else 220
    green = int(90 + 130 * min(1.0, v * 2)) if v <= 0.5 else 200
    return f"background-color: rgba({red}, {green}, 90, 0.45)"


def score_frame(report) -> pd.DataFrame:
    """Dimensions as rows, models (and the LLM API) as columns, 0–100 scores, plus formulas."""
    cards = list(report.scorecards)
    llm = report.llm
    rows: list[tuple[str, str, dict[str, float | None]]] = []
    for dim in BUSINESS_DIMENSIONS:
        scores = {c.label: c.business_dims[dim].score for c in cards}
        if llm is not None:
            scores[_llm_column(report)] = llm.business_dims[dim].score
        rows.append((t(f"value.dim.{dim}"), t(f"value.formula.{dim}"), scores))
    for dim in SOCIAL_DIMENSIONS:
        rows.append(
            (
                t(f"value.dim.{dim}"),
                t(f"value.formula.{dim}"),
                {c.label: c.social_dims[dim].score for c in cards},
            )
        )
    business = {c.label: c.business_score.score for c in cards}
    if llm is not None:
        business[_llm_column(report)] = llm.business_score.score
    rows.append((t("value.row.business_score"), t("value.formula.business_score"), business))
    rows.append(
        (
            t("value.row.social_score"),
            t("value.formula.social_score"),
            {c.label: c.social_score.score for c in cards},
        )
    )
    rows.append(
        (t("value.row.overall"), t("value.formula.overall"), {c.label: c.overall for c in cards})
    )
    columns = [c.label for c in cards] + ([_llm_column(report)] if llm is not None else [])
    data = {
        col: [np.nan if r[2].get(col) is None else float(r[2][col]) for r in rows]
        for col in columns
    }
    frame = pd.DataFrame(data, index=[r[0] for r in rows])
    frame[t("value.col_formula")] = [r[1] for r in rows]
    frame.index.name = t("value.col_dimension")
    return frame


def styled_scores(frame: pd.DataFrame):
    """Scores as text ('–' when missing) on cells coloured by the score (no matplotlib needed)."""
    formula = t("value.col_formula")
    score_cols = [c for c in frame.columns if c != formula]
    colours = frame.copy()
    colours[score_cols] = frame[score_cols].map(_score_colour)
    colours[formula] = ""
    shown = frame.copy().astype(object)
    shown[score_cols] = frame[score_cols].map(lambda v: "–" if pd.isna(v) else f"{v:.0f}")
    return shown.style.apply(lambda _: colours, axis=None)


def table_height(frame: pd.DataFrame) -> int:
    """Pixel height that shows every row of a table without an inner scroll bar."""
    return 38 + 35 * len(frame)


def _llm_column(report) -> str:
    return t("value.llm_column", name=report.assumptions.llm_name)


def figures_frame(report) -> pd.DataFrame:
    """The headline figure (with unit) behind every score, per model."""
    a = report.assumptions
    cards = list(report.scorecards)
    rows: dict[str, dict[str, str]] = {}
    for dim in BUSINESS_DIMENSIONS:
        rows[t(f"value.dim.{dim}")] = {
            c.label: format_figure(c.business_dims[dim], a.currency, lang()) for c in cards
        }
        if report.llm is not None:
            rows[t(f"value.dim.{dim}")][_llm_column(report)] = format_figure(
                report.llm.business_dims[dim], a.currency, lang()
            )
    for dim in SOCIAL_DIMENSIONS:
        rows[t(f"value.dim.{dim}")] = {
            c.label: _social_figure(c.social_dims[dim], a) for c in cards
        }
    frame = pd.DataFrame(rows).T
    frame.index.name = t("value.col_dimension")
    return frame.fillna("")


def _social_figure(dim, a: Assumptions) -> str:
    text = format_figure(dim, a.currency, lang())
    if dim.status in ("estimate", "assumed"):
        text += f" ({t('value.status.' + dim.status)})"
    return text


def business_frame(report) -> pd.DataFrame:
    """Every yearly business figure per model and for the LLM API."""
    a = report.assumptions
    cur, lg = a.currency, lang()
    columns = list(report.scorecards) + ([report.llm] if report.llm is not None else [])

    def money(v: float | None, digits: int = 0) -> str:
        if v is None:
            return t("value.not_measured")
        if 0 < abs(v) < 1:  # compute for small models is often a fraction of a cent a year
            digits = max(digits, 4)
        return format_money(v, cur, lg, digits)

    rows = {
        "threshold": lambda b: (
            "–"
            if b.threshold is None
            else (
                f"{b.threshold:.2f} · "
                + t(
                    "value.threshold_auto"
                    if b.threshold_source == "optimised"
                    else "value.threshold_override"
                )
            )
        ),
        "coverage": lambda b: f"{b.coverage:.1%}",
        "automated_accuracy": lambda b: (
            "–" if b.automated_accuracy is None else f"{b.automated_accuracy:.1%}"
        ),
        "automated_per_year": lambda b: format_number(b.automated_per_year, lang()),
        "labour_saved": lambda b: money(b.labour_saved),
        "correct_value": lambda b: money(b.correct_value),
        "error_cost": lambda b: money(b.error_cost),
        "inference_cost": lambda b: money(b.inference_cost, 2),
        "maintenance": lambda b: money(b.maintenance),
        "setup_cost": lambda b: money(b.setup_cost),
        "net_value": lambda b: money(b.net_value),
        "roi": lambda b: "–" if b.roi is None else f"{b.roi:.0%}",
        "payback": lambda b: (
            t("value.never") if b.payback_months is None else f"{b.payback_months:.1f}"
        ),
    }
    data = {
        (_llm_column(report) if c.run_id is None else c.label): [
            fn(c.business) for fn in rows.values()
        ]
        for c in columns
    }
    frame = pd.DataFrame(data, index=[t(f"value.row.{k}") for k in rows])
    return frame


def sources_frame(a: Assumptions) -> pd.DataFrame:
    """Every assumption with its value, unit, source, date, note and kind."""
    names = [f for g in GROUPS.values() for f in g] + ["business_weights", "social_weights"]
    if a.payoff_mode == "matrix":
        names.append("payoff_matrix")
    rows = []
    for name in names:
        src = a.source(name)
        shown = localized_source(src, lang())
        value = getattr(a, name)
        if isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        rows.append(
            {
                t("value.col_field"): t(f"value.field.{name}"),
                t("value.col_value"): str(value),
                t("value.col_unit"): a.unit(name, lang()),
                t("value.col_kind"): t(f"value.kind.{source_kind(src)}"),
                t("value.col_source"): shown.source,
                t("value.col_date"): shown.date,
                t("value.col_note"): shown.note,
            }
        )
    return pd.DataFrame(rows)


def dimension_frame(report, dim: str) -> pd.DataFrame:
    """One social dimension across models: figure, score, status and notes."""
    a = report.assumptions
    rows = []
    for c in report.scorecards:
        d = c.social_dims[dim]
        notes = [note_text(n, lang()) for n in d.notes]
        if dim == "transparency" and d.details.get("missing"):
            missing = ", ".join(t(f"value.card.{k}") for k in d.details["missing"])
            notes.append(t("value.card_missing", items=missing))
        rows.append(
            {
                t("value.col_model"): c.label,
                t("value.col_value"): format_figure(d, a.currency, lang()),
                t("value.col_score"): "–" if d.score is None else f"{d.score:.0f}",
                t("value.col_kind"): t(f"value.status.{d.status}"),
                t("value.run_notes"): " ".join(notes),
            }
        )
    return pd.DataFrame(rows)


def checklist_frame(report) -> pd.DataFrame:
    """The model-card checklist (✓/✗) per model."""
    data = {}
    for c in report.scorecards:
        items = c.social_dims["transparency"].details.get("items", {})
        data[c.label] = ["✓" if items.get(k) else "✗" for k in CARD_ITEMS]
    return pd.DataFrame(data, index=[t(f"value.card.{k}") for k in CARD_ITEMS])


def compare_frame(named: Sequence[tuple[str, Any]]) -> pd.DataFrame:
    """Scenarios as rows: the winner, then each model's overall score and yearly net value."""
    rows = {}
    for name, report in named:
        row: dict[str, Any] = {t("value.col_winner"): report.recommendation.winner or "–"}
        cur = report.assumptions.currency
        for c in report.scorecards:
            row[f"{c.label} · {t('value.row.overall')}"] = (
                "–" if c.overall is None else f"{c.overall:.0f}"
            )
            row[f"{c.label} · {t('value.row.net_value')}"] = format_money(
                c.business.net_value, cur, lang()
            )
        if report.llm is not None:
            row[
                f"{t('value.llm_column', name=report.assumptions.llm_name)} · "
                f"{t('value.row.net_value')}"
            ] = format_money(report.llm.business.net_value, cur, lang())
        rows[name] = row
    frame = pd.DataFrame(rows).T
    frame.index.name = t("value.scenario")
    return frame.fillna("")

"""Cached report data and small Streamlit helpers for the Report and Present pages."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pandas as pd
import streamlit as st

from slm_core.report.table_types import Table, format_cell, visible
from ui.state import get_store, lang

# The Value page keeps the scenario being edited here (see ui/value_scenario.py).
VALUE_CURRENT_KEY = "value.current"
VALUE_BASE_KEY = "value.base"
VALUE_THRESHOLDS_KEY = "value.thresholds"

# Presentation mode: no sidebar, no toolbar, large figures for a projector.
PRESENT_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stSidebarNav"], header[data-testid="stHeader"], [data-testid="stToolbar"],
[data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"], .block-container { padding-top: 1.5rem !important;
  max-width: 100% !important; }
[data-testid="stMetricValue"] { font-size: 3.1rem !important; line-height: 1.15; }
[data-testid="stMetricLabel"] p { font-size: 1.25rem !important; }
[data-testid="stCaptionContainer"] p { font-size: 1rem; }
h1 { font-size: 2.6rem !important; }
[data-testid="stAlert"] p { font-size: 1.35rem; line-height: 1.5; }
</style>
"""


def current_assumptions():
    """The scenario the Value page is editing (its first preset until the user opens it)."""
    from slm_core.value.assumptions import PRESET_IDS, Assumptions, load_preset

    for key in (VALUE_CURRENT_KEY, VALUE_BASE_KEY):
        data = st.session_state.get(key)
        if data:
            return Assumptions.from_dict(data)
    return load_preset(PRESET_IDS[0])


def current_thresholds() -> tuple[tuple[int, float], ...]:
    """Thresholds chosen on the Value page, as a hashable tuple for cache keys."""
    chosen = st.session_state.get(VALUE_THRESHOLDS_KEY) or {}
    return tuple(sorted((int(k), float(v)) for k, v in chosen.items()))


def fingerprint(store, dataset_id: str) -> str:
    """Changes when a run finishes or gets a benchmark, an evaluation, card text or feedback."""
    from slm_core.report.model_card import read_card_text

    runs = store.list_runs(dataset_id=dataset_id, statuses=("succeeded",))
    parts = [
        (
            r.id,
            str(r.finished_at),
            store.get_result(r.id, "bench"),
            store.get_result(r.id, "evaluation") is not None,
            read_card_text(store, r.id).to_dict(),
        )
        for r in runs
    ]
    raw = json.dumps([parts, store.feedback_summary(dataset_id)], default=str, sort_keys=True)
    return hashlib.sha1(raw.encode()).hexdigest()


@st.cache_data(show_spinner=False, max_entries=8)
def cached_report_data(dataset_id: str, key: str, assumptions_json: str, thresholds: tuple):
    """ReportData of a dataset under one scenario (``key`` is the store fingerprint)."""
    from slm_core.report import collect_report
    from slm_core.value.assumptions import Assumptions

    return collect_report(
        get_store(),
        dataset_id,
        Assumptions.from_json(assumptions_json),
        thresholds=dict(thresholds),
    )


def report_data():
    """(ReportData, store fingerprint) of the active dataset under the Value page's scenario.

    (None, None) when no dataset is active.
    """
    from ui.state import active_dataset

    dataset = active_dataset()
    if dataset is None:
        return None, None
    key = fingerprint(get_store(), dataset.id)
    data = cached_report_data(
        dataset.id, key, current_assumptions().to_json(), current_thresholds()
    )
    return data, key


@st.cache_data(show_spinner=False, max_entries=16)
def cached_cards(_data, key: str, report_lang: str) -> dict[int, str]:
    """Markdown model cards; their structured fields are stored once per change (``key``)."""
    from slm_core.report.model_card import model_card_markdown, model_cards

    cards = model_cards(get_store(), _data, save=True)
    return {run_id: model_card_markdown(card, report_lang) for run_id, card in cards.items()}


def table_frame(table: Table, currency: str = "USD") -> pd.DataFrame:
    """A report table as text, formatted for the interface language (as in the HTML report)."""
    idx = visible(table.columns)
    rows = [
        [format_cell(row[i], table.columns[i].kind, lang(), currency) for i in idx]
        for row in table.rows
    ]
    return pd.DataFrame(rows, columns=[table.columns[i].label for i in idx])


def _score_colour(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "background-color: #eeeeee; color: #777777"
    v = max(0.0, min(100.0, float(value))) / 100.0
    red = int(220 - 120 * v) if v > 0.5 else 220
    green = int(90 + 130 * min(1.0, v * 2)) if v <= 0.5 else 200
    return f"background-color: rgba({red}, {green}, 90, 0.45)"


def styled_scores(table: Table, *, with_formula: bool = False):
    """The side-by-side score table (dimensions × models), cells coloured by score."""
    keep = [i for i, c in enumerate(table.columns) if c.show]
    if not with_formula:
        keep = [i for i in keep if table.columns[i].kind == "score" or i == 0]
    labels = [table.columns[i].label for i in keep]
    shown = pd.DataFrame(
        [[format_cell(row[i], table.columns[i].kind, lang()) for i in keep] for row in table.rows],
        columns=labels,
    ).set_index(labels[0])
    colours = pd.DataFrame(
        [
            [_score_colour(row[i]) if table.columns[i].kind == "score" else "" for i in keep[1:]]
            for row in table.rows
        ],
        columns=labels[1:],
        index=shown.index,
    )
    return shown.style.apply(lambda _: colours, axis=None)


@st.cache_resource(show_spinner=False)
def html_size_mb() -> float:
    """Roughly what the HTML report weighs: the inlined plotly.js plus the report itself."""
    from slm_core.report.html import plotly_js

    return (len(plotly_js().encode("utf-8")) + 200_000) / 1e6

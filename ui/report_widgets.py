"""Cached report data and small Streamlit helpers for the Report and Present pages.

The scenario, the per-run choices and the value report come from ``ui/decision.py`` (their one
home), so these pages state the same decision as the Value page.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from slm_core.report.table_types import Table, format_cell, score_css, visible
from ui.state import get_store, lang

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


@st.cache_data(show_spinner=False, max_entries=8)
def cached_report_data(dataset_id: str, key: str, assumptions_json: str, overrides: tuple, _value):
    """ReportData of a dataset around its value report ``_value``, which is a function of the
    other arguments (``key``: the store fingerprint; the scenario; the per-run overrides)."""
    from slm_core.report import collect_report

    return collect_report(get_store(), dataset_id, value=_value)


def report_data():
    """(ReportData, key) of the active dataset around the value report that the Value page
    shows (``ui.decision.value_report``), so every page states the same decision.

    ``key`` changes with the store's runs, the scenario and the per-run choices (the model
    cards, which state the decision, are cached on it). (None, None) when no dataset is active.
    """
    from ui.decision import (
        current_assumptions,
        current_overrides,
        fingerprint,
        overrides_key,
        value_report,
    )
    from ui.state import active_dataset

    dataset = active_dataset()
    if dataset is None:
        return None, None
    store_key = fingerprint(get_store(), dataset.id)
    a = current_assumptions()
    overrides = overrides_key(current_overrides())
    value = value_report(dataset.id, a)
    data = cached_report_data(dataset.id, store_key, a.to_json(), overrides, _value=value)
    raw = json.dumps([store_key, a.to_json(), overrides], default=str)
    return data, hashlib.sha1(raw.encode()).hexdigest()


@st.cache_data(show_spinner=False, max_entries=16)
def cached_cards(_data, key: str, report_lang: str) -> dict[int, str]:
    """Markdown model cards, the measured LLM's last; their structured fields are stored once
    per change (``key``)."""
    from slm_core.report.llm_card import llm_cards
    from slm_core.report.model_card import model_card_markdown, model_cards

    cards = model_cards(get_store(), _data, save=True)
    out = {run_id: model_card_markdown(card, report_lang) for run_id, card in cards.items()}
    out.update(llm_cards(get_store(), _data, report_lang, save=True))
    return out


def table_frame(table: Table, currency: str = "USD") -> pd.DataFrame:
    """A report table as text, formatted for the interface language (as in the HTML report)."""
    idx = visible(table.columns)
    rows = [
        [format_cell(row[i], table.columns[i].kind, lang(), currency) for i in idx]
        for row in table.rows
    ]
    return pd.DataFrame(rows, columns=[table.columns[i].label for i in idx])


def styled_scores(table: Table, *, with_formula: bool = False, rows=None):
    """The side-by-side score table (dimensions × options), cells coloured by score.

    The first visible column is the index; without ``with_formula`` only score columns follow.
    """
    keep = visible(table.columns)
    first = keep[0]
    if not with_formula:
        keep = [first, *(i for i in keep if table.columns[i].kind == "score")]
    rows = table.rows if rows is None else list(rows)
    labels = [table.columns[i].label for i in keep]
    shown = pd.DataFrame(
        [[format_cell(row[i], table.columns[i].kind, lang()) for i in keep] for row in rows],
        columns=labels,
    ).set_index(labels[0])
    colours = pd.DataFrame(
        [
            [score_css(row[i]) if table.columns[i].kind == "score" else "" for i in keep[1:]]
            for row in rows
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

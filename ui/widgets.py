"""Reusable renderers for typed results (the pages stay thin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from slm_core.data.types import DataReport
from slm_core.escape import md_text
from slm_core.i18n import format_number
from ui.state import dataset_name, lang, t

if TYPE_CHECKING:  # imported where a frame is drawn: Home draws none
    import pandas as pd

# A run's status at a glance, on every board of runs (training jobs, LLM measurements).
STATUS_ICONS = {
    "queued": "⏳",
    "running": "🔄",
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "⏹️",
    "interrupted": "⚠️",
}


def table_height(frame: pd.DataFrame) -> int:
    """Pixel height that shows every row of a table without an inner scroll bar."""
    return 38 + 35 * max(len(frame), 1)


def problem_text(problem) -> str:
    """A validation finding in the interface language (English message as fallback), as
    Markdown: the labels, texts and column names it quotes show as text."""
    key = f"problem.{problem.code}"
    detail = md_text(problem.localized(lang()), one_line=False, exact=False)
    translated = t(key)
    if lang() == "en" or translated == key:
        return detail
    return f"{translated} — {detail}"


def render_report(report: DataReport) -> None:
    """Headline tiles, class balance and every error/warning of a DataReport."""
    cols = st.columns(6)
    cols[0].metric(t("report.rows"), format_number(report.rows, lang()))
    cols[1].metric(t("report.classes"), len(report.classes))
    cols[2].metric(
        t("report.imbalance"), f"{report.imbalance_ratio:.1f}×", help=t("report.imbalance_help")
    )
    cols[3].metric(
        t("report.duplicates"),
        format_number(report.duplicate_rows, lang()),
        help=t("report.duplicates_help"),
    )
    cols[4].metric(
        t("report.conflicts"),
        format_number(report.conflicting_texts, lang()),
        help=t("report.conflicts_help"),
    )
    cols[5].metric(
        t("report.script"),
        t(f"script.{report.script}"),
        help=t(
            "report.script_help",
            share=f"{report.cjk_share:.0%}",
            unit=t(f"unit.{report.token_unit}"),
        ),
    )
    for problem in report.errors:
        st.error(problem_text(problem), icon=":material/block:")
    for problem in report.warnings:
        st.warning(problem_text(problem), icon=":material/warning:")
    if report.trainable and not report.warnings:
        st.success(t("report.all_good"), icon=":material/check_circle:")
    if report.classes:
        import pandas as pd

        counts = pd.DataFrame(
            {
                t("report.class"): list(report.classes),
                t("report.count"): list(report.classes.values()),
            }
        )
        st.bar_chart(
            counts,
            x=t("report.class"),
            y=t("report.count"),
            horizontal=True,
            height=min(60 + 28 * len(counts), 420),
        )


def dataset_summary(dataset) -> None:
    """One line that says which dataset is active and what it holds."""
    report = dataset.report
    classes = report.get("classes", {})
    st.markdown(
        t(
            "home.dataset_line",
            name=md_text(dataset_name(dataset)),
            rows=format_number(dataset.rows, lang()),
            classes=len(classes),
            labels=", ".join(md_text(c) for c in list(classes)[:8]),
            script=t(f"script.{report.get('script', 'latin')}"),
        )
    )


def keep_unseen_widget(key: str) -> None:
    """Keep a widget's value through runs that do not draw it (a closed lazy tab): Streamlit
    forgets the state of a widget left out of a run unless the run sets it."""
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]

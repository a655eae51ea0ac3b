"""The hosted LLM on the Value page: what its column rests on — measured on the user's data or
assumed — and, when assumed, the way to measure it (the sentences live in ``slm_core.value.text``).
"""

from __future__ import annotations

from functools import partial

import streamlit as st
from streamlit.errors import StreamlitAPIException

from slm_core.escape import md_text
from slm_core.value.hosted import REPLACED_FIELDS
from slm_core.value.scorecard import ValueReport
from slm_core.value.text import llm_figures_text, llm_notes_text, note_text, option_label
from ui.navigation import page_link
from ui.state import lang, t


def measured(report: ValueReport) -> bool:
    """Whether the report's LLM figures come from a measurement on this dataset."""
    api = report.api
    return api is not None and api.llm is not None and api.llm.measured


def replaced_fields(report: ValueReport) -> dict[str, str]:
    """Assumptions a measurement replaces, each with the note saying so (empty when assumed)."""
    if not measured(report):
        return {}
    note = t("value.llm.replaced", run=report.api.llm.run_id)
    return dict.fromkeys(REPLACED_FIELDS, note)


def _measure_link() -> None:
    # A router without the LLM page (a trimmed app, a test) has nothing to link to.
    try:
        page_link("llm", label=t("value.llm.measure_link"), icon=":material/speed:")
    except (KeyError, StreamlitAPIException):
        st.caption(t("value.llm.measure_link"))


def assumed_warning(report: ValueReport) -> None:
    """Before any measurement: the LLM's figures are assumptions, and where to measure them."""
    a = report.assumptions
    if measured(report):
        return
    acc = f"{a.llm_accuracy:.0%}"
    if a.is_user_value("llm_accuracy"):
        st.caption(t("value.llm_caption", acc=acc))
    else:
        st.warning(t("value.llm.assumed_warning", acc=acc), icon=":material/help:")
    _measure_link()


def llm_box(report: ValueReport) -> None:
    """Beside the options table: what the LLM column and the cascade rest on."""
    api = report.api
    if api is None:
        return
    # Each piece may quote the LLM's model name (user text): inert Markdown.
    inert = partial(md_text, exact=False)
    lines = [f"**{inert(option_label(api, lang()))}** — {inert(llm_notes_text(api, lang()))}"]
    figures = llm_figures_text(api, report, lang())
    if figures:
        lines.append(inert(figures))
    cascade = next((o for o in report.options if o.kind == "cascade"), None)
    if cascade is not None and measured(report):
        deferred = [n for n in cascade.llm_notes if n.key.startswith("value.llm.deferred")]
        if deferred:
            notes = " ".join(note_text(n, lang()) for n in deferred)
            lines.append(f"**{inert(option_label(cascade, lang()))}** — {inert(notes)}")
    if measured(report):
        st.info("  \n".join(lines), icon=":material/smart_toy:")
        st.caption(t("value.llm.method"))
        if not api.llm.usage_reported:
            st.caption(t("value.llm.usage_estimated"))
        if not api.llm.prices_stated:
            st.caption(t("value.llm.price_unstated"))
    else:
        st.caption("  \n".join(lines))

"""LLM: connect an OpenAI-compatible endpoint, see what a measurement will cost, run it in the
background on a sample of the test split, and read its result."""

from __future__ import annotations

import streamlit as st

from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.i18n import format_number
from slm_core.llm import llm_runs
from slm_core.llm.endpoints import PRESETS_BY_KEY
from slm_core.llm.plan import estimate
from slm_core.llm.prompt import build_messages, render_messages
from ui.access import guard_page
from ui.llm_widgets import (
    NEWEST,
    PICK,
    PRESET,
    cached_measurement,
    connection_form,
    ensure_form_state,
    key_form,
    key_ready,
    measurement_board,
    plan_for,
    prompt_form,
    run_model,
    sample_form,
    show_estimate,
    show_result,
    split_test_size,
    start_measurement,
)
from ui.results_widgets import run_version
from ui.state import dataset_name, error_text, get_store, lang, require_dataset, t
from ui.url_state import keep_choice

guard_page()  # a page Streamlit runs without app.py is gated too

st.title(t("llm_page.title"))
st.caption(t("llm_page.intro"))
dataset = require_dataset()
store = get_store()
# A measuring process that died (app restart, machine sleep) leaves its run 'running'.
store.mark_interrupted()
st.caption(
    t(
        "llm_page.dataset",
        name=md_text(dataset_name(dataset)),
        rows=format_number(dataset.rows, lang()),
    )
)
# ?preset=<key>: a reload keeps the endpoint preset (never the address, the model or the key).
keep_choice("preset", PRESET, list(PRESETS_BY_KEY))
ensure_form_state()  # after the preset: the address and the model follow it

# ------------------------------------------------------------------------------ connect
st.subheader(t("llm_page.connect"))
endpoint = connection_form()
key_form(endpoint)

# ------------------------------------------------------------------------------ prompt
st.subheader(t("llm_page.prompt"))
try:
    spec = prompt_form()
except SlmError as exc:
    spec = None
    st.error(error_text(exc), icon=":material/error:")

# ---------------------------------------------------------------------- sample, estimate
st.subheader(t("llm_page.sample"))
plan, n, budget = None, 0, None
try:
    n, budget = sample_form(split_test_size(dataset.id))
    if spec is not None:
        plan = plan_for(dataset.id, spec, n)
except SlmError as exc:
    st.error(error_text(exc), icon=":material/error:")
if spec is None:
    st.info(t("llm_page.prompt_invalid"))
elif plan is not None:
    show_estimate(estimate(plan, spec, endpoint), endpoint, budget)
    if plan.n:
        with st.expander(t("llm_page.exact_prompt")):
            messages = build_messages(spec, plan.labels, plan.texts[0], plan.examples)
            st.code(render_messages(messages), language=None, wrap_lines=True)

# ------------------------------------------------------------------------------ run
st.subheader(t("llm_page.run"))
ready = key_ready(endpoint.base_url)
if not ready:
    st.caption(t("llm_page.need_key"))
if st.button(
    t("llm_page.start"),
    type="primary",
    icon=":material/play_arrow:",
    disabled=plan is None or not ready,
):
    start_measurement(store, dataset.id, endpoint, spec, n, budget)
measurement_board(dataset.id)

# ------------------------------------------------------------------------------ result
finished = llm_runs(store.list_runs(dataset_id=dataset.id, statuses=("succeeded",)))
if finished:
    st.subheader(t("llm_page.result"))
    by_id = {r.id: r for r in finished}
    newest = finished[0].id  # the store lists newest first
    # A measurement that just finished is shown at once; otherwise the user's pick stays.
    if st.session_state.get(PICK) not in by_id or st.session_state.get(NEWEST) != newest:
        st.session_state[PICK] = newest
    st.session_state[NEWEST] = newest
    run_id = st.selectbox(
        t("llm_page.pick"),
        list(by_id),
        format_func=lambda i: f"#{i} · {run_model(by_id[i])}",
        key=PICK,
    )
    run = by_id[run_id]
    try:
        show_result(cached_measurement(run.id, f"{run_version(run)}:{run.status}"))
    except SlmError as exc:
        st.error(error_text(exc), icon=":material/error:")

"""Playground: every trained model answers the same text side by side, explains itself, and
collects thumbs up/down with corrected labels for the next dataset version."""

from __future__ import annotations

import hashlib

import streamlit as st

from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.explain import Answer, AnsweredText, answer
from slm_core.feedback import (
    CORRECTION_COLUMNS,
    add_corrections_as_version,
    corrections_csv,
    corrections_frame,
)
from ui.access import guard_page
from ui.results_widgets import highlight_html, load_run_model, proba_frame, run_name, run_version
from ui.state import (
    activate_dataset,
    error_text,
    flash,
    get_store,
    require_dataset,
    require_runs,
    show_flash,
    t,
)

guard_page()  # a page Streamlit runs without app.py is gated too

ANSWERS_KEY, SAVED_KEY = "pg_answers", "pg_saved"  # an AnsweredText; {(run, text digest): note}
PER_ROW = 3

st.title(t("playground.title"))
show_flash()
dataset = require_dataset()
store = get_store()
unit = dataset.report.get("token_unit", "word")
unit_name = t("unit." + unit)
st.caption(t("playground.intro", unit=unit_name))
runs = sorted(require_runs(dataset, t("results.no_runs")), key=lambda r: r.id)
by_id = {r.id: r for r in runs}

with st.form("pg_form", border=False):
    text = st.text_area(
        t("playground.text"), key="pg_text", height=130, placeholder=t("playground.placeholder")
    )
    asked = st.form_submit_button(
        t("playground.ask"), type="primary", icon=":material/send:", key="pg_ask"
    )


def answer_all(text: str) -> AnsweredText:
    """Every run's answer: probabilities, measured milliseconds and token attributions."""
    answers = []
    with st.spinner(t("playground.loading")):
        for run in runs:
            try:
                model = load_run_model(run.id, run_version(run))
                answers.append(answer(model, text, unit, run.id))
            except Exception as exc:  # one broken model must not hide the others' answers
                reason = str(exc) if isinstance(exc, SlmError) else f"{type(exc).__name__}: {exc}"
                answers.append(Answer(run.id, error=reason))
    return AnsweredText(text, dataset.id, tuple(answers))


if asked:
    if text.strip():
        st.session_state[ANSWERS_KEY] = answer_all(text)
    else:
        st.session_state.pop(ANSWERS_KEY, None)

state: AnsweredText | None = st.session_state.get(ANSWERS_KEY)
if not state or state.dataset_id != dataset.id:
    st.info(t("playground.empty"))
else:
    asked_text = state.text
    digest = hashlib.sha1(asked_text.encode("utf-8")).hexdigest()[:12]
    saved = st.session_state.setdefault(SAVED_KEY, {})
    answers = [a for a in state.answers if a.run_id in by_id]
    for row_start in range(0, len(answers), PER_ROW):
        cols = st.columns(PER_ROW)
        for col, ans in zip(cols, answers[row_start : row_start + PER_ROW], strict=False):
            run_id = ans.run_id
            name = run_name(by_id[run_id])
            box = col.container(border=True)
            box.markdown(f"**{name}**")
            if ans.error is not None:
                box.error(t("playground.failed", model=name, error=error_text(ans.error)))
                continue
            predicted = ans.predicted
            box.metric(t("playground.answer"), md_text(predicted))  # a label: user text
            box.caption(
                ":material/timer: " + t("playground.time", ms=f"{ans.ms:.1f}"),
                help=t("playground.time_help"),
            )
            box.dataframe(
                proba_frame(ans.classes, ans.proba),
                hide_index=True,
                key=f"pg_proba_{run_id}",
                column_config={
                    t("playground.proba"): st.column_config.ProgressColumn(
                        min_value=0.0, max_value=1.0, format="%.3f"
                    )
                },
            )
            box.markdown(f"**{t('playground.why')}**")
            why = "playground.why_linear" if ans.family == "linear" else "playground.why_neural"
            box.caption(t(why, unit=unit_name))
            if ans.attributions:
                # Every token and gap is html.escape'd inside highlight_html.
                with box:
                    st.html(highlight_html(asked_text, ans.attributions))
            else:
                box.caption(t("playground.no_tokens", unit=unit_name))

            slot = (run_id, digest)
            if slot in saved:
                box.caption(saved[slot])
                continue
            box.caption(t("playground.rate"))
            with box:
                thumbs = st.feedback("thumbs", key=f"pg_thumbs_{run_id}_{digest}")
            if thumbs == 1:
                store.add_feedback(run_id, asked_text, predicted, True)
                saved[slot] = t("playground.saved_up")
                box.caption(saved[slot])
            elif thumbs == 0:
                with box.form(f"pg_fix_{run_id}_{digest}", border=False):
                    options = [""] + [c for c in ans.classes if c != predicted]
                    corrected = st.selectbox(
                        t("playground.correct_label"),
                        options,
                        key=f"pg_label_{run_id}_{digest}",
                        format_func=lambda c: c or t("playground.no_correction"),
                    )
                    if st.form_submit_button(
                        t("playground.save"), key=f"pg_save_{run_id}_{digest}"
                    ):
                        store.add_feedback(run_id, asked_text, predicted, False, corrected or None)
                        saved[slot] = (
                            t("playground.saved_corrected", label=md_text(corrected))
                            if corrected
                            else t("playground.saved_down")
                        )
                        st.caption(saved[slot])

# ---------------------------------------------------------------- feedback round trip
st.divider()
st.subheader(t("playground.feedback_section"))
corrections = corrections_frame(store, dataset.id)
rated = sum(v["rated"] for v in store.feedback_summary(dataset.id).values())
st.caption(t("playground.feedback_counts", rated=rated, corrected=len(corrections)))
if corrections.empty:
    st.info(t("playground.no_corrections"))
else:
    headers = {c: t(f"playground.col.{c}") for c in CORRECTION_COLUMNS}
    st.dataframe(corrections.rename(columns=headers), hide_index=True, key="pg_corrections")
    left, right = st.columns(2)
    left.download_button(
        t("playground.export"),
        corrections_csv(store, dataset.id),
        file_name=f"corrections_{dataset.id}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="pg_export",
    )
    if right.button(
        t("playground.new_version"),
        help=t("playground.new_version_help"),
        icon=":material/library_add:",
        key="pg_new_version",
    ):
        try:
            version = add_corrections_as_version(store, dataset.id)
        except SlmError as exc:
            st.error(error_text(exc), icon=":material/error:")
        else:
            flash(
                t(
                    "playground.new_version_done",
                    id=version.dataset.id,
                    added=version.added,
                    relabelled=version.relabelled,
                )
            )
            activate_dataset(version.dataset.id)
            st.rerun()

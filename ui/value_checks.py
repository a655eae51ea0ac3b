"""The value checks still being measured in the background, as a page shows them.

A page never measures: it renders the value figures from what is stored and, when some run
lacks a check under the scenario's settings, starts the background job
(:mod:`slm_core.value.checks_job`), says which figures are still being measured and refreshes
itself when they land.
"""

from __future__ import annotations

import streamlit as st

from slm_core.i18n import format_number
from slm_core.value import checks_job
from slm_core.value.checks import STAGE_DONE, Measurement, pending_runs
from slm_core.value.inputs import DatasetInputs, run_label
from ui.state import get_store, lang, t

POLL = "2s"

# What a page reads as "not measured yet" (as opposed to "could not be measured").
MISSING_NOTES = ("value.note.robustness_missing", "value.note.explain_missing")


def lacks_checks(inputs: DatasetInputs) -> bool:
    """Whether some run of ``inputs`` has a check not measured yet (read from its notes)."""
    return any(
        r.robustness_note in MISSING_NOTES or r.explain_note in MISSING_NOTES or r.val is None
        for r in inputs.runs
    )


def queue_checks(store, inputs: DatasetInputs) -> bool:
    """Start the background measurement of what ``inputs`` lack (at most one job per dataset,
    whichever page or server asks); True if one was started now."""
    if not lacks_checks(inputs):
        return False
    return checks_job.start(store, inputs.dataset_id, inputs.measurement)


def _checks_text(missing: tuple[str, ...]) -> str:
    return ", ".join(t(f"value_checks.check.{c}") for c in missing)


def _run_line(store, run, missing: tuple[str, ...]) -> str:
    state = t("value_checks.waiting")
    if checks_job.run_measuring(store, run.id):
        live = store.get_run(run.id).live
        if live.message.startswith("value_checks_") and live.message != STAGE_DONE:
            state = t(
                "value_checks.measuring",
                stage=t(f"stage.{live.message}"),
                pct=f"{100 * live.share:.0f}",
            )
        else:
            state = t("value_checks.measuring_run")
    return t(
        "value_checks.run_line",
        model=run_label(run.id, run.model_id),
        checks=_checks_text(missing),
        state=state,
    )


@st.fragment(run_every=POLL)
def _live_box(dataset_id: str, settings_key: str) -> None:
    store = get_store()
    settings = Measurement.from_key(settings_key)
    pending = pending_runs(store, dataset_id, settings)
    if not pending:
        st.rerun()  # everything landed: the whole page again, from the new figures
    busy = any(checks_job.run_measuring(store, run.id) for run, _ in pending)
    if not busy:
        checks_job.start(store, dataset_id, settings)
    state = checks_job.job_state(store, dataset_id, settings)
    lines = "\n".join(f"- {_run_line(store, run, missing)}" for run, missing in pending)
    if state.stalled and not busy:
        st.warning(
            t("value_checks.stalled", log=str(state.log)) + "\n\n" + lines,
            icon=":material/hourglass_disabled:",
        )
        return
    st.info(
        t("value_checks.box", n=format_number(len(pending), lang())) + "\n\n" + lines,
        icon=":material/hourglass_top:",
    )


def failed_checks(inputs: DatasetInputs) -> list[str]:
    """'#3 lstm — robustness: why' for each check that could not be measured."""
    lines = []
    for r in inputs.runs:
        for check, note in (("robustness", r.robustness_note), ("faithfulness", r.explain_note)):
            if note and note not in MISSING_NOTES:
                lines.append(f"{r.label} — {t(f'value_checks.check.{check}')}: {t(note)}")
    return lines


def checks_box(inputs: DatasetInputs) -> None:
    """Say which value figures are still being measured in the background (and start the
    measurement if nothing measures them), and which could not be measured; the page reruns
    when they are all stored. Shows nothing when every check is stored."""
    failed = failed_checks(inputs)
    if failed:
        st.caption(t("value_checks.failed") + " " + "; ".join(failed))
    if not lacks_checks(inputs):
        return
    if not pending_runs(get_store(), inputs.dataset_id, inputs.measurement):
        return  # what is missing could not be measured (said above, or no validation split)
    _live_box(inputs.dataset_id, inputs.measurement.key())

"""Train: choose models and presets, queue background jobs, watch them live, cancel them."""

from __future__ import annotations

import streamlit as st

from slm_core import jobs
from slm_core.dataset import expected_train_rows, usable_rows
from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.executors import setting_text as executor_setting
from slm_core.i18n import format_number
from slm_core.llm import model_runs
from slm_core.models.expectations import shortfalls
from slm_core.models.names import (
    model_description,
    model_name,
    param_help,
    param_label,
    training_mode_text,
)
from slm_core.models.registry import MODEL_IDS, PRESETS, resolve_params
from slm_core.sweeps import (
    DEFAULT_TRIALS,
    MAX_TRIALS,
    MIN_TRIALS,
    SWEEP_KEY,
    search_space,
    stored_sweep,
)
from slm_core.sweeps import summary_text as sweep_summary
from ui.access import guard_page
from ui.charts import history_figure, sweep_figure
from ui.pretrained import (
    FINETUNE,
    finetune_gate,
    finetune_refusal,
    progress_label,
    warn_if_script_unsuited,
)
from ui.run_recovery import requeue_button, watch_workers
from ui.state import dataset_name, error_text, get_store, lang, require_dataset, t
from ui.url_state import keep_choices
from ui.widgets import STATUS_ICONS

guard_page()  # a page Streamlit runs without app.py is gated too

ACTIVE = ("queued", "running")

st.title(t("train.title"))
dataset = require_dataset()
store = get_store()
st.caption(
    t(
        "train.dataset",
        name=md_text(dataset_name(dataset)),
        rows=format_number(dataset.rows, lang()),
        unit=t("unit." + dataset.report.get("token_unit", "word")),
    )
)

# Size-dependent presets key on the training split's size; before splitting it is estimated.
n_train = expected_train_rows(dataset.report, dataset.split_config)
n_usable = usable_rows(dataset.report)
for short in shortfalls(n_usable):
    st.warning(
        t(
            "train.expect_trail_large" if short.large else "train.expect_trail",
            model=model_name(short.model_id, lang()),
            rows=format_number(n_usable, lang()),
            gap=f"{short.median_gap * 100:.1f}",
            missed=short.corpora_missed,
            corpora=short.corpora,
            size="" if short.large else format_number(int(short.size), lang()),
            goal=f"{short.goal * 100:g}",
            train=format_number(short.n_train, lang()),
            seeds=short.seeds,
        ),
        icon=":material/info:",
    )

# One widget per language: a kept key would keep the chips' labels of the language the models
# were picked in. ?models=tfidf_lr,lstm: a reload keeps the picked models.
models_key = f"train_models_{lang()}"
keep_choices("models", models_key, MODEL_IDS, default=["tfidf_lr"])
with st.form("train_form", border=True):
    chosen = st.multiselect(
        t("train.models"),
        MODEL_IDS,
        default=["tfidf_lr"],
        format_func=lambda m: f"{model_name(m, lang())} ({m})",
        help=t("train.models_help"),
        key=models_key,
    )
    warn_if_script_unsuited(dataset.report, chosen)  # English-only encoder on CJK text
    preset = st.segmented_control(
        t("train.preset"),
        PRESETS,
        default="quick",
        format_func=lambda p: t(f"preset.{p}"),
        help=t("train.preset_help"),
    )
    search_col, trials_col = st.columns([3, 1], vertical_alignment="bottom")
    search = search_col.checkbox(t("sweep.toggle"), help=t("sweep.toggle_help"))
    sweep_trials = trials_col.number_input(
        t("sweep.trials"), min_value=MIN_TRIALS, max_value=MAX_TRIALS, value=DEFAULT_TRIALS
    )
    overrides: dict[str, dict] = {}
    with st.expander(t("train.params")):
        st.caption(t("train.params_help"))
        for model_id in chosen:
            params = resolve_params(model_id, preset or "quick", {}, n_train)
            st.markdown(f"**{model_name(model_id, lang())}**")
            cols = st.columns(4)
            edited = {}
            for i, (key, value) in enumerate(params.items()):
                widget_key = f"param_{model_id}_{key}"
                col = cols[i % 4]
                label, helptext = param_label(key, lang()), param_help(key, lang())
                if isinstance(value, bool):
                    edited[key] = col.checkbox(label, value, key=widget_key, help=helptext)
                elif isinstance(value, int):
                    edited[key] = col.number_input(
                        label, value=value, step=1, key=widget_key, help=helptext
                    )
                elif isinstance(value, float):
                    edited[key] = col.number_input(
                        label, value=value, format="%.5g", key=widget_key, help=helptext
                    )
                elif value is None:
                    raw = col.number_input(
                        t("param.auto", label=label), value=0, step=1, key=widget_key, help=helptext
                    )
                    edited[key] = int(raw) or None
                else:
                    edited[key] = col.text_input(label, str(value), key=widget_key, help=helptext)
            overrides[model_id] = {k: v for k, v in edited.items() if v != params.get(k)}
    submitted = st.form_submit_button(
        t("train.start"), type="primary", icon=":material/play_arrow:"
    )

# Fine-tuning runs the whole encoder at every step: on a CPU, only once its time is accepted.
finetune_blocked = None
if FINETUNE in chosen:
    try:
        tune = resolve_params(FINETUNE, preset or "quick", overrides.get(FINETUNE), n_train)
        finetune_blocked = finetune_gate(store, dataset, tune, n_train)
    except SlmError:  # a bad setting: the submit below reports it
        pass

if submitted:
    if not chosen:
        st.error(t("train.pick_one"))
    elif search and preset != "thorough":
        st.error(t("sweep.not_for_preset"))
    else:
        for model_id in chosen:
            if model_id == FINETUNE and finetune_blocked:
                st.error(finetune_refusal(finetune_blocked), icon=":material/timer_off:")
                continue
            try:
                params = resolve_params(
                    model_id, preset or "quick", overrides.get(model_id), n_train
                )
                if search:
                    search_space(model_id)  # TrainError for a model that is not swept
                    params[SWEEP_KEY] = {"trials": int(sweep_trials)}
                run = jobs.submit(store, dataset.id, model_id, preset or "quick", params)
                st.toast(t("train.queued", model=model_id, id=run.id))
            except SlmError as exc:
                st.error(f"{model_id}: {error_text(exc)}", icon=":material/error:")

with st.expander(t("train.cards")):
    for model_id in chosen or MODEL_IDS:
        st.markdown(f"**{model_name(model_id, lang())}** — {model_description(model_id, lang())}")


@st.fragment(run_every="1s")
def job_board() -> None:
    runs = model_runs(store.list_runs(dataset_id=dataset.id))
    if watch_workers(store, runs):  # a worker died while watched: show it interrupted now
        runs = model_runs(store.list_runs(dataset_id=dataset.id))
    active = {r.id for r in runs if r.status in ACTIVE}
    previous = st.session_state.get("_active_runs", set())
    st.session_state["_active_runs"] = active
    if previous - active:  # a job ended: refresh the whole page once
        st.rerun()
    if not runs:
        st.info(t("train.no_runs"))
        return
    st.subheader(t("train.jobs"))
    st.caption(executor_setting(lang()), help=t("executor.help"))
    for run in runs:
        with st.container(border=True):
            head, action = st.columns([5, 1])
            name = model_name(run.model_id, lang())
            head.markdown(
                f"{STATUS_ICONS.get(run.status, '')} **#{run.id} {name}** · "
                f"{t('preset.' + run.preset)} · {t('status.' + run.status)}"
            )
            progress = run.live
            if run.status in ACTIVE:
                if action.button(t("train.cancel"), key=f"cancel_{run.id}", icon=":material/stop:"):
                    jobs.cancel(store, run.id)
                    st.toast(t("train.cancel_requested", id=run.id))
                head.progress(progress.share, text=progress_label(progress))
            elif run.status == "succeeded":
                m = run.measured
                head.caption(
                    t(
                        "train.result",
                        acc=f"{m.accuracy or 0:.3f}",
                        f1=f"{m.macro_f1 or 0:.3f}",
                        secs=f"{run.train_seconds or 0:.1f}",
                        majority=f"{m.majority_rate or 0:.3f}",
                    )
                )
                mode = (run.metrics or {}).get("training_mode")
                if mode:  # how it was trained: in memory, out of core or streamed, and why
                    head.caption(training_mode_text(mode, lang()))
            elif run.error:
                head.error(error_text(run.error))
            requeue_button(store, run, action)  # interrupted, failed or cancelled runs
            sweep = stored_sweep(store, run.id) if run.params.get(SWEEP_KEY) else None
            if sweep:
                st.plotly_chart(sweep_figure(sweep), key=f"sweep_{run.id}")
                st.caption(sweep_summary(sweep, lang()))
            if len(run.history.get("loss") or []) > 1:  # linear models have one point
                st.plotly_chart(
                    history_figure(run.history, t("train.loss"), t("train.accuracy")),
                    key=f"hist_{run.id}_{len(run.history['loss'])}",
                )


job_board()

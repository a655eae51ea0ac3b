"""The LLM page's parts: the connection and prompt form, where the API key comes from, the cached
plan and measurements, the live board of measurements and the result of one.

The API key is looked up when it is needed (typed for this session, Streamlit secrets, or the
environment) and handed to :mod:`slm_core.llm.job` only, which puts it in the measuring
process's environment. It is never stored, written to a file or a log, put in the page's
address, or shown (not even in part).
"""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import streamlit as st

from slm_core import jobs
from slm_core.data.types import Splits
from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.i18n import format_money, format_number, localize_known
from slm_core.llm import llm_runs
from slm_core.llm.client import ERROR, OK, UNPARSEABLE
from slm_core.llm.endpoints import (
    PRESETS,
    PRESETS_BY_KEY,
    Endpoint,
    is_local,
    key_for,
)
from slm_core.llm.job import (
    create_measurement,
    measurable_size,
    plan_from_splits,
    plan_splits,
    resume,
    start,
)
from slm_core.llm.measurement import LLMMeasurement, load_measurement
from slm_core.llm.plan import DEFAULT_SAMPLE, Plan
from slm_core.llm.prompt import DEFAULT_SYSTEM, DEFAULT_USER, FEW_SHOT, ZERO_SHOT, PromptSpec
from ui.navigation import page_link
from ui.state import error_text, get_store, lang, t
from ui.widgets import STATUS_ICONS, table_height

# Widget keys. The form keeps its values across pages (persist_state="session"); the key too,
# in this session's memory only.
PRESET, BASE_URL, MODEL = "llm_preset", "llm_base_url", "llm_model"
IN_PRICE, OUT_PRICE = "llm_in_price", "llm_out_price"
TIMEOUT, CONCURRENCY, RETRIES = "llm_timeout", "llm_concurrency", "llm_retries"
KEY_INPUT = "llm_api_key"
MODE, SHOTS, SYSTEM, USER = "_llm_mode", "llm_k", "llm_system", "llm_user"
SAMPLE, USE_BUDGET, BUDGET = "llm_sample", "llm_use_budget", "llm_budget"
PICK = "llm_pick"
NEWEST = "_llm_newest"  # the newest finished measurement seen, to show a new one at once
KEEP = "session"

MAX_SHOTS = 5
DEFAULT_BUDGET_USD = 1.0
BOARD_SIZE = 6  # stopped measurements listed on the board, newest first


# ---------------------------------------------------------------------------- formatting


# User text (a model name, a URL, a price source) for st.markdown: shown exactly as typed.
plain = md_text


def usd(value: float | None, *, markdown: bool = False, digits: int | None = None) -> str:
    """Dollars with cents, or four decimals below one dollar (a sample costs cents)."""
    if value is None or not math.isfinite(value):
        return "–"
    if digits is None:
        digits = 4 if 0 < abs(value) < 1 else 2
    text = format_money(value, "USD", lang(), digits)
    # Two dollar signs in one markdown line would be read as a formula.
    return text.replace("$", r"\$") if markdown else text


def price_text(price: float) -> str:
    """A list price for markdown: cents when it is whole cents ($0.15), else four ($0.075)."""
    digits = 2 if abs(price * 100 - round(price * 100)) < 1e-9 else 4
    return usd(price, markdown=True, digits=digits)


def percent(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


def percent_range(ci: tuple[float, float]) -> str:
    """'82.2–91.5%' (a Wilson interval as percentages)."""
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"{100 * lo:.1f}–{100 * hi:.1f}%"


def method_text(text: str) -> str:
    """The core's English method sentence, in the interface language where it is catalogued."""
    return localize_known(text, lang(), "llm.method.")


def kind_text(kind: str) -> str:
    return t(f"value.figure_kind.{kind}")


# ---------------------------------------------------------------------------- the form


def _preset_values(key: str) -> dict[str, object]:
    preset = PRESETS_BY_KEY[key]
    return {
        BASE_URL: preset.base_url,
        MODEL: preset.model,
        IN_PRICE: float(preset.input_price_per_m),
        OUT_PRICE: float(preset.output_price_per_m),
    }


def _apply_preset() -> None:
    st.session_state.update(_preset_values(st.session_state[PRESET]))


def mode_key() -> str:
    """The prompt-mode radio's key: one per language, since a radio keeps the *label* it was
    set with and would show nothing picked once the labels change language. The choice itself
    is kept in ``MODE``."""
    return f"llm_mode_{lang()}"


def _mode_changed() -> None:
    st.session_state[MODE] = st.session_state[mode_key()]


def _reset_prompt() -> None:
    spec = PromptSpec.default(lang())
    st.session_state[SYSTEM] = spec.system
    st.session_state[USER] = spec.user


def ensure_form_state() -> None:
    """Give every form widget a value in session state before it is drawn.

    A template still at a language's default follows the interface language; an edited one is
    left alone.
    """
    state = st.session_state
    endpoint = Endpoint(base_url="", model="")
    spec = PromptSpec.default(lang())
    defaults = {
        PRESET: PRESETS[0].key,
        **_preset_values(state.get(PRESET, PRESETS[0].key)),
        TIMEOUT: float(endpoint.timeout_s),
        CONCURRENCY: int(endpoint.concurrency),
        RETRIES: int(endpoint.max_retries),
        MODE: ZERO_SHOT,
        SHOTS: 1,
        SYSTEM: spec.system,
        USER: spec.user,
        USE_BUDGET: True,
        BUDGET: DEFAULT_BUDGET_USD,
    }
    for name, value in defaults.items():
        state.setdefault(name, value)
    for name, texts in ((SYSTEM, DEFAULT_SYSTEM), (USER, DEFAULT_USER)):
        own = texts.get(lang(), texts["en"])
        if state[name] in texts.values() and state[name] != own:
            state[name] = own


def connection_form() -> Endpoint:
    """Preset, address, model, prices and call settings; the endpoint they make."""
    st.selectbox(
        t("llm_page.preset"),
        [p.key for p in PRESETS],
        format_func=lambda k: PRESETS_BY_KEY[k].name,
        key=PRESET,
        on_change=_apply_preset,
        help=t("llm_page.preset_help"),
        persist_state=KEEP,
    )
    preset = PRESETS_BY_KEY[st.session_state[PRESET]]
    if preset.note:
        st.caption(t(preset.note))
    left, right = st.columns(2)
    left.text_input(
        t("llm_page.base_url"), key=BASE_URL, help=t("llm_page.base_url_help"), persist_state=KEEP
    )
    right.text_input(t("llm_page.model"), key=MODEL, persist_state=KEEP)
    cols = st.columns(5)
    for col, key, label in ((cols[0], IN_PRICE, "in_price"), (cols[1], OUT_PRICE, "out_price")):
        col.number_input(
            t(f"llm_page.{label}"),
            min_value=0.0,
            step=0.05,
            format="%.4g",
            key=key,
            help=t("llm_page.price_help"),
            persist_state=KEEP,
        )
    cols[2].number_input(
        t("llm_page.timeout"),
        min_value=1.0,
        max_value=600.0,
        step=5.0,
        format="%.0f",
        key=TIMEOUT,
        persist_state=KEEP,
    )
    cols[3].number_input(
        t("llm_page.concurrency"),
        min_value=1,
        max_value=32,
        step=1,
        key=CONCURRENCY,
        help=t("llm_page.concurrency_help"),
        persist_state=KEEP,
    )
    cols[4].number_input(
        t("llm_page.retries"),
        min_value=0,
        max_value=10,
        step=1,
        key=RETRIES,
        help=t("llm_page.retries_help"),
        persist_state=KEEP,
    )
    state = st.session_state
    in_price, out_price = float(state[IN_PRICE]), float(state[OUT_PRICE])
    # The preset's source and date stay with its prices only while the prices are the preset's.
    listed = (in_price, out_price) == (preset.input_price_per_m, preset.output_price_per_m)
    if listed and preset.price_source:
        st.caption(t("llm_page.price_source", source=preset.price_source, date=preset.price_date))
    return Endpoint(
        base_url=str(state[BASE_URL]).strip(),
        model=str(state[MODEL]).strip(),
        input_price_per_m=in_price,
        output_price_per_m=out_price,
        price_source=preset.price_source if listed else "",
        price_date=preset.price_date if listed else "",
        timeout_s=float(state[TIMEOUT]),
        max_retries=int(state[RETRIES]),
        concurrency=int(state[CONCURRENCY]),
    )


# ---------------------------------------------------------------------------- the API key


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except Exception:  # no secrets file (Streamlit raises then) or one that does not parse
        return None


def api_key(base_url: str) -> tuple[str | None, str | None, str | None]:
    """(key, where it came from: "typed" / "secrets" / "env", the variable's name) or Nones,
    for this endpoint (slm_core.llm.endpoints.key_for decides which key may go where)."""
    typed = str(st.session_state.get(KEY_INPUT) or "")
    return key_for(base_url, typed, (("secrets", _secret), ("env", os.environ.get)))


def key_form(endpoint: Endpoint) -> str | None:
    """The password box and a line saying where the key comes from (never any of the key)."""
    st.text_input(
        t("llm_page.key_typed"),
        type="password",
        key=KEY_INPUT,
        help=t("llm_page.key_typed_help"),
        persist_state=KEEP,
    )
    key, source, name = api_key(endpoint.base_url)
    if source == "typed":
        st.caption(t("llm_page.key_from_typed"))
    elif source in ("secrets", "env"):
        st.caption(t(f"llm_page.key_from_{source}", name=name))
    elif is_local(endpoint.base_url):
        st.caption(t("llm_page.key_not_needed"))
    else:
        st.info(t("llm_page.key_missing"), icon=":material/key:")
    return key


def key_ready(base_url: str) -> bool:
    """Whether a measurement of ``base_url`` can be sent now (a key, or a local server)."""
    return is_local(base_url) or api_key(base_url)[0] is not None


# ---------------------------------------------------------------------------- the prompt


def prompt_form() -> PromptSpec:
    """Zero- or few-shot and the two templates; raises SlmError for an invalid template."""
    left, right = st.columns([3, 2])
    st.session_state[mode_key()] = st.session_state[MODE]
    left.radio(
        t("llm_page.mode"),
        [ZERO_SHOT, FEW_SHOT],
        format_func=lambda m: t(f"llm_page.mode_{m}"),
        horizontal=True,
        key=mode_key(),
        on_change=_mode_changed,
        help=t("llm_page.mode_help"),
    )
    few = st.session_state[MODE] == FEW_SHOT
    right.number_input(
        t("llm_page.k"),
        min_value=1,
        max_value=MAX_SHOTS,
        step=1,
        key=SHOTS,
        disabled=not few,
        persist_state=KEEP,
    )
    st.text_area(
        t("llm_page.system"),
        key=SYSTEM,
        height=110,
        help=t("llm_page.system_help", slot="{labels}"),
        persist_state=KEEP,
    )
    st.text_area(
        t("llm_page.user"),
        key=USER,
        height=80,
        help=t("llm_page.user_help", slot="{text}"),
        persist_state=KEEP,
    )
    st.button(t("llm_page.reset"), on_click=_reset_prompt, icon=":material/restart_alt:")
    state = st.session_state
    return PromptSpec(
        mode=state[MODE],
        k=int(state[SHOTS]) if few else 0,
        system=str(state[SYSTEM]),
        user=str(state[USER]),
    )


# ---------------------------------------------------------------------------- the plan


@st.cache_data(show_spinner=False, max_entries=4)
def cached_splits(dataset_id: str) -> Splits:
    """The dataset's split, made once per dataset: every plan (prompt, sample size) and the
    test split's size come from it (a stored dataset never changes under its id)."""
    return plan_splits(get_store(), dataset_id)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_plan(dataset_id: str, spec_json: str, n: int) -> Plan:
    """The sample and examples a measurement would use, drawn from the cached split."""
    spec = PromptSpec.from_dict(json.loads(spec_json))
    return plan_from_splits(cached_splits(dataset_id), spec, int(n))


def plan_for(dataset_id: str, spec: PromptSpec, n: int) -> Plan:
    return cached_plan(dataset_id, json.dumps(spec.to_dict(), sort_keys=True), int(n))


@st.cache_data(show_spinner=False, max_entries=16)
def split_test_size(dataset_id: str) -> int:
    """Texts in the test split (the most a measurement can sample); raises SlmError when the
    split has none. Cached apart from the split, so a page run reads no frames for it."""
    return measurable_size(cached_splits(dataset_id))


def sample_form(test_size: int) -> tuple[int, float | None]:
    """Sample size (at most the test split) and the budget in USD (None: no limit)."""
    state = st.session_state
    state.setdefault(SAMPLE, min(DEFAULT_SAMPLE, test_size))
    if state[SAMPLE] > test_size:  # another dataset is active now, with a smaller test split
        state[SAMPLE] = test_size
    left, mid, right = st.columns([2, 1, 1.4])
    left.number_input(
        t("llm_page.sample_size"),
        min_value=1,
        max_value=max(1, test_size),
        step=10,
        key=SAMPLE,
        help=t("llm_page.sample_help", test=format_number(test_size, lang())),
        persist_state=KEEP,
    )
    mid.checkbox(t("llm_page.use_budget"), key=USE_BUDGET, persist_state=KEEP)
    right.number_input(
        t("llm_page.budget"),
        min_value=0.01,
        step=0.5,
        format="%.2f",
        key=BUDGET,
        disabled=not state[USE_BUDGET],
        help=t("llm_page.budget_help"),
        persist_state=KEEP,
    )
    budget = float(state[BUDGET]) if state[USE_BUDGET] else None
    return int(state[SAMPLE]), budget


def show_estimate(estimate, endpoint: Endpoint, budget: float | None) -> None:
    """The tokens and money a measurement is expected to use, what kind of figure, and how."""
    st.markdown(f"**{t('llm_page.estimate')}**")
    cols = st.columns(4)
    cols[0].metric(t("llm_page.est_texts"), format_number(estimate.n_texts, lang()))
    cols[1].metric(t("llm_page.est_in"), format_number(estimate.input_tokens, lang()))
    cols[2].metric(t("llm_page.est_out"), format_number(estimate.output_tokens, lang()))
    cols[3].metric(t("llm_page.est_cost"), usd(estimate.cost_usd))
    st.caption(
        t("llm_page.est_kind", kind=kind_text(estimate.kind), method=method_text(estimate.method))
    )
    if budget is not None and estimate.cost_usd > budget and estimate.n_texts:
        per_text = estimate.cost_usd / estimate.n_texts
        st.warning(
            t("llm_page.est_over_budget", n=format_number(int(budget / per_text), lang())),
            icon=":material/savings:",
        )
    if not endpoint.input_price_per_m and not endpoint.output_price_per_m:
        st.caption(t("llm_page.est_free"))


def start_measurement(
    store, dataset_id: str, endpoint: Endpoint, spec: PromptSpec, n: int, budget: float | None
) -> None:
    """Store the measurement and start its process with the key (looked up now, not kept)."""
    key = api_key(endpoint.base_url)[0]
    try:
        run_id = create_measurement(store, dataset_id, endpoint, spec, n, budget)
    except SlmError as exc:
        st.error(error_text(exc), icon=":material/error:")
        return
    try:
        start(store, run_id, key)
    except OSError as exc:
        jobs.cancel(store, run_id)  # so it shows as stopped, ready to be resumed
        st.error(t("llm_page.spawn_failed", reason=type(exc).__name__), icon=":material/error:")
        return
    _watch(dataset_id, run_id)
    st.toast(t("llm_page.started", id=run_id))


# ---------------------------------------------------------------------------- the board


def _active_key(dataset_id: str) -> str:
    return f"_llm_active_{dataset_id}"


def _watch(dataset_id: str, run_id: int) -> None:
    key = _active_key(dataset_id)
    st.session_state[key] = {*st.session_state.get(key, set()), run_id}


def run_model(run) -> str:
    return str((run.params.get("endpoint") or {}).get("model") or "?")


def _partial(store, run_id: int) -> LLMMeasurement | None:
    try:
        return load_measurement(store, run_id)
    except SlmError:  # the plan is written just after the run is created
        return None


def _resume(store, dataset_id: str, run_id: int, budget: float | None = None) -> None:
    try:
        base_url = (store.get_run(run_id).params.get("endpoint") or {}).get("base_url", "")
        resume(store, run_id, api_key(base_url)[0], budget)
    except SlmError as exc:
        st.error(error_text(exc), icon=":material/error:")
        return
    except OSError as exc:
        st.error(t("llm_page.spawn_failed", reason=type(exc).__name__), icon=":material/error:")
        return
    _watch(dataset_id, run_id)
    st.toast(t("llm_page.resumed", id=run_id))
    st.rerun()


def _active_row(store, run, head, action) -> None:
    progress = run.live
    m = _partial(store, run.id)
    planned = progress.batches or (m.n_planned if m else None)
    head.progress(
        progress.share,
        text=t(
            "llm_page.progress",
            done=format_number(progress.batch, lang()),
            n="?" if planned is None else format_number(planned, lang()),
            spent=usd(m.cost_usd if m else 0.0, markdown=True),
            unparseable=format_number(m.unparseable if m else 0, lang()),
        ),
    )
    if action.button(t("llm_page.cancel"), key=f"llm_cancel_{run.id}", icon=":material/stop:"):
        jobs.cancel(store, run.id)
        st.toast(t("llm_page.cancel_requested", id=run.id))


def _stopped_row(store, dataset_id: str, run, head, action) -> None:
    if run.status == "failed":
        head.error(error_text(run.error or ""), icon=":material/error:")
    elif run.error:
        head.warning(error_text(run.error), icon=":material/pause_circle:")
    ready = key_ready((run.params.get("endpoint") or {}).get("base_url", ""))
    if not ready:
        head.caption(t("llm_page.resume_needs_key"))
    if action.button(
        t("llm_page.resume"),
        key=f"llm_resume_{run.id}",
        icon=":material/play_arrow:",
        disabled=not ready,
    ):
        _resume(store, dataset_id, run.id)


def _budget_row(store, dataset_id: str, run, head, action) -> None:
    summary = run.metrics.get("llm") or {}
    head.info(
        t(
            "llm_page.budget_stopped",
            n=format_number(summary.get("n") or 0, lang()),
            planned=format_number(summary.get("n_planned") or 0, lang()),
        ),
        icon=":material/savings:",
    )
    old = float(run.params.get("budget_usd") or DEFAULT_BUDGET_USD)
    budget = head.number_input(
        t("llm_page.new_budget"),
        min_value=round(old + 0.01, 2),
        value=max(round(old + 0.01, 2), round(old * 2, 2)),
        step=0.5,
        format="%.2f",
        key=f"llm_budget_{run.id}",
    )
    ready = key_ready((run.params.get("endpoint") or {}).get("base_url", ""))
    if not ready:
        head.caption(t("llm_page.resume_needs_key"))
    if action.button(
        t("llm_page.continue_budget"),
        key=f"llm_more_{run.id}",
        icon=":material/play_arrow:",
        disabled=not ready,
    ):
        _resume(store, dataset_id, run.id, float(budget))


def _budget_stopped(run) -> bool:
    return run.status == "succeeded" and (run.metrics.get("llm") or {}).get("stopped") == "budget"


POLL_EVERY = "1s"  # how often the board reads the store while a measurement is under way


def measurement_board(dataset_id: str) -> None:
    """Measurements under way (progress, money so far, cancel) and stopped ones (resume).

    While one is under way (or queued) the board reads the store every second; with none it is
    drawn once with the page, so an idle page does not rerun itself. Starting or resuming one
    reruns the page, which starts the polling; its end reruns the page, which stops it.
    """
    runs = llm_runs(get_store().list_runs(dataset_id=dataset_id))
    if any(r.is_active for r in runs):
        _live_board(dataset_id)
    else:
        _draw_board(dataset_id, runs)


@st.fragment(run_every=POLL_EVERY)
def _live_board(dataset_id: str) -> None:
    """The board, redrawn every second (only called while a measurement is under way)."""
    store = get_store()
    runs = llm_runs(store.list_runs(dataset_id=dataset_id))
    if any(r.is_active for r in runs) and store.mark_interrupted():
        # A measuring process died while it was watched: show it as interrupted now.
        runs = llm_runs(store.list_runs(dataset_id=dataset_id))
    active = {r.id for r in runs if r.is_active}
    previous = st.session_state.get(_active_key(dataset_id), set())
    if previous - active:  # a measurement ended: refresh the whole page once (its result)
        st.session_state[_active_key(dataset_id)] = active
        st.rerun()
    _draw_board(dataset_id, runs)


def _draw_board(dataset_id: str, runs) -> None:
    """The board itself, from ``runs`` (the dataset's measurements, newest first)."""
    store = get_store()
    st.session_state[_active_key(dataset_id)] = {r.id for r in runs if r.is_active}
    shown = [r for r in runs if r.is_active]
    shown += [r for r in runs if r.status in ("cancelled", "interrupted", "failed")][:BOARD_SIZE]
    shown += [r for r in runs if _budget_stopped(r)][:BOARD_SIZE]
    if not shown:  # finished measurements are the result section's
        if not runs:
            st.caption(t("llm_page.no_runs"))
        return
    st.subheader(t("llm_page.runs"))
    for run in sorted(shown, key=lambda r: -r.id):
        with st.container(border=True):
            head, action = st.columns([5, 1.4])
            head.markdown(
                f"{STATUS_ICONS.get(run.status, '')} "
                + t(
                    "llm_page.run_line",
                    id=run.id,
                    model=plain(run_model(run)),
                    status=t("status." + run.status),
                )
            )
            if run.is_active:
                _active_row(store, run, head, action)
            elif run.status == "succeeded":
                _budget_row(store, dataset_id, run, head, action)
            else:
                _stopped_row(store, dataset_id, run, head, action)


# ---------------------------------------------------------------------------- the result


@st.cache_data(show_spinner=False, max_entries=16)
def cached_measurement(run_id: int, version: str) -> LLMMeasurement:
    """A finished measurement read back once (``version`` changes when it is resumed)."""
    return load_measurement(get_store(), run_id)


def answers_frame(m: LLMMeasurement) -> pd.DataFrame:
    """One row per answered text: the text, its label, what the LLM said and how it went."""
    names = {
        OK: t("llm_page.status_ok"),
        UNPARSEABLE: t("llm_page.status_unparseable"),
        ERROR: t("llm_page.status_error"),
    }
    answers = [
        pred if status == OK else (content or "")
        for pred, status, content in zip(m.y_pred, m.statuses, m.contents, strict=True)
    ]
    return pd.DataFrame(
        {
            t("llm_page.col_text"): list(m.texts),
            t("llm_page.col_truth"): list(m.y_true),
            t("llm_page.col_answer"): answers,
            t("llm_page.col_status"): [names.get(s, s) for s in m.statuses],
        }
    )


def show_result(m: LLMMeasurement) -> None:
    """Accuracy with its interval, calls, tokens, money and latency, the prompt, the answers."""
    n = format_number(m.n, lang())
    st.markdown(
        t(
            "llm_page.headline",
            model=plain(m.model),
            n=n,
            acc=percent(m.accuracy),
            ci=percent_range(m.accuracy_ci),
        )
    )
    if m.n < m.n_planned:
        st.caption(t("llm_page.of_planned", n=n, planned=format_number(m.n_planned, lang())))
    if m.stopped == "budget":
        st.info(
            t("llm_page.budget_note", budget=usd(m.budget_usd, markdown=True)),
            icon=":material/savings:",
        )
    cols = [*st.columns(3), *st.columns(3)]
    cols[0].metric(
        t("llm_page.unparseable"),
        format_number(m.unparseable, lang()),
        help=t("llm_page.unparseable_help"),
    )
    cols[1].metric(
        t("llm_page.failed"), format_number(m.failed_calls, lang()), help=t("llm_page.failed_help")
    )
    cols[2].metric(
        t("llm_page.tokens"),
        f"{format_number(m.input_tokens, lang())} / {format_number(m.output_tokens, lang())}",
    )
    cols[3].metric(t("llm_page.spent"), usd(m.cost_usd))
    cols[4].metric(t("llm_page.per_million"), usd(m.usd_per_million))
    p50, p95 = m.latency_p50_ms, m.latency_p95_ms
    cols[5].metric(
        t("llm_page.latency"),
        "–" if p50 is None or p95 is None else f"{p50:,.0f} / {p95:,.0f}",
    )
    notes = [t("llm_page.structured" if m.structured else "llm_page.parser_only")]
    if not m.usage_reported:
        notes.append(t("llm_page.tokens_estimated"))
    notes.append(t("llm_page.majority", rate=percent(m.majority_rate)))
    source = m.endpoint.price_source or t("llm_page.prices_unknown")
    notes.append(
        t(
            "llm_page.prices_used",
            input=price_text(m.endpoint.input_price_per_m),
            output=price_text(m.endpoint.output_price_per_m),
            source=plain(source),
        )
    )
    summary = m.summary()
    notes.append(
        t(
            "llm_page.measured_note",
            kind=kind_text(summary["kind"]),
            method=method_text(summary["method"]),
        )
    )
    for note in notes:
        st.caption(note)
    with st.expander(
        t(
            "llm_page.prompt_used",
            mode=t(f"llm_page.mode_{m.prompt.mode}"),
            shots=m.prompt.shots,
        )
    ):
        st.code(m.example_prompt, language=None, wrap_lines=True)
    st.markdown(f"**{t('llm_page.answers')}**")
    frame = answers_frame(m)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=min(table_height(frame), 420),
        column_config={t("llm_page.col_text"): st.column_config.TextColumn(width="large")},
        key=f"llm_answers_{m.run_id}",
    )
    left, right = st.columns(2)
    page_link("results", t("llm_page.to_results"), where=left)
    page_link("value", t("llm_page.to_value"), where=right)

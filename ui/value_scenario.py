"""The scenario being edited on the Value page: its session state and the load/save bar."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.value.assumptions import (
    BUSINESS_DIMENSIONS,
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
from slm_core.value.sources import FIELD_GROUPS
from ui.decision import (
    BASE_KEY,
    CURRENT_KEY,
    DOWNLOAD_JSON_KEY,
    DOWNLOAD_TOML_KEY,
    LOAD_KEY,
    SAVE_KEY,
    SAVE_NAME_KEY,
    SCENARIO_CHOICE_KEY,
    UPLOAD_DIGEST_KEY,
    UPLOAD_KEY,
    VERSION_KEY,
    field_key,
)
from ui.state import error_text, flash, lang, show_flash, t
from ui.widgets import keep_unseen_widget

# Plain session-state entries next to the widgets' (field_key(...)): the payoff matrix as
# {true: {predicted: cost}}, edited through a data editor whose own state is only a delta.
MATRIX_FIELD = "payoff_matrix"
# Every field the editor shows, in tab order (``FIELD_GROUPS`` is the one home of the grouping).
EDITED_FIELDS: tuple[str, ...] = tuple(f for g in FIELD_GROUPS.values() for f in g)


def _widget_values(a: Assumptions) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(a, f) for f in EDITED_FIELDS}
    values[MATRIX_FIELD] = {true: dict(row) for true, row in a.payoff_matrix.items()}
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
        st.session_state[field_key(name)] = value


def base_assumptions() -> Assumptions:
    """The loaded scenario (the first preset until the user loads another)."""
    if BASE_KEY not in st.session_state:
        load_into_state(load_preset(PRESET_IDS[0]))
    return Assumptions.from_dict(st.session_state[BASE_KEY])


def ensure_state(base: Assumptions) -> None:
    """Give every editor widget a value in session state before it is drawn."""
    # Widgets are created from session state only. Streamlit drops the state of widgets that
    # a run did not draw (another page was open), so refill it from the last edited values.
    current = st.session_state.get(CURRENT_KEY)
    source = Assumptions.from_dict(current) if current else base
    for name, value in _widget_values(source).items():
        st.session_state.setdefault(field_key(name), value)


def editor_keys() -> list[str]:
    """The keys of every widget the scenario is read from (``edited_assumptions``)."""
    return [
        *(field_key(f) for f in (*EDITED_FIELDS, MATRIX_FIELD)),
        *(field_key(f"bw.{d}") for d in BUSINESS_DIMENSIONS),
        *(field_key(f"sw.{d}") for d in SOCIAL_DIMENSIONS),
    ]


def keep_closed_editor() -> None:
    """Keep the editor's values through runs that do not draw it (it is drawn only while
    open). Only in such runs: a widget drawn in a run that also set its value warns."""
    for key in editor_keys():
        keep_unseen_widget(key)


def edited_assumptions(base: Assumptions) -> Assumptions:
    """The scenario as the editor's widgets hold it now, stored for the other pages.

    Read from session state before the editor is drawn (widget values are there at the start
    of a run), so the decision at the top of the page already reflects the latest edit.
    """
    ensure_state(base)
    state = st.session_state
    values: dict[str, Any] = {f: state[field_key(f)] for f in EDITED_FIELDS}
    values[MATRIX_FIELD] = state[field_key(MATRIX_FIELD)]
    values["business_weights"] = {
        d: float(state[field_key(f"bw.{d}")]) for d in BUSINESS_DIMENSIONS
    }
    values["social_weights"] = {d: float(state[field_key(f"sw.{d}")]) for d in SOCIAL_DIMENSIONS}
    try:
        a = with_grid_region(base.edit(**values))
    except SlmError as exc:  # the widgets' bounds should make this impossible; say so if not
        st.error(error_text(exc), icon=":material/error:")
        current = state.get(CURRENT_KEY)
        a = Assumptions.from_dict(current) if current else base
    state[CURRENT_KEY] = a.to_dict()
    return a


def source_help(a: Assumptions, field: str) -> str:
    """Tooltip: unit, kind of default, source, date and note of one assumption."""
    src = a.source(field)
    parts = [p for p in (a.unit(field, lang()), t(f"value.kind.{source_kind(src)}")) if p]
    src = localized_source(src, lang())
    # A scenario file can carry any source and note: shown as text in the tooltip.
    origin = md_text(src.source) + (f" ({md_text(src.date)})" if src.date else "")
    text = " · ".join(parts) + f"  \n{origin}"
    return text + (f"  \n{md_text(src.note)}" if src.note else "")


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
        key=SCENARIO_CHOICE_KEY,
    )
    if c2.button(t("value.load_scenario"), icon=":material/download:", key=LOAD_KEY):
        loaded = choices[choice][1]()
        load_into_state(loaded)
        flash(t("value.loaded", name=md_text(scenario_name(loaded.name, lang()))))
        st.rerun()
    show_flash()

    upload = st.file_uploader(
        t("value.upload"), type=["toml", "json"], help=t("value.upload_help"), key=UPLOAD_KEY
    )
    if upload is not None:
        digest = hashlib.sha1(upload.getvalue()).hexdigest()
        if st.session_state.get(UPLOAD_DIGEST_KEY) != digest:
            try:
                loaded = parse_scenario(upload.getvalue(), upload.name)
            except SlmError as exc:
                st.error(error_text(exc), icon=":material/error:")
            else:
                st.session_state[UPLOAD_DIGEST_KEY] = digest
                load_into_state(loaded)
                flash(t("value.loaded", name=md_text(scenario_name(loaded.name, lang()))))
                st.rerun()

    c1, c2, c3, c4 = st.columns([3, 1.2, 1.2, 1.2], vertical_alignment="bottom")
    name = c1.text_input(
        t("value.save_name"), value=scenario_name(current.name, lang()), key=SAVE_NAME_KEY
    )
    if c2.button(t("value.save"), icon=":material/save:", key=SAVE_KEY):
        record = to_store(store, Assumptions.from_dict({"name": name}, current), name, dataset_id)
        st.toast(t("value.saved", name=md_text(record.name), id=record.id))
    stem = "".join(ch if ch.isalnum() else "_" for ch in current.name.lower()).strip("_")
    downloads = (
        (c3, "toml", current.to_toml(), DOWNLOAD_TOML_KEY),
        (c4, "json", current.to_json(), DOWNLOAD_JSON_KEY),
    )
    for column, suffix, text, key in downloads:
        column.download_button(
            t(f"value.download_{suffix}"),
            text,
            f"{stem or 'scenario'}.{suffix}",
            mime=f"application/{suffix}",
            key=key,
        )

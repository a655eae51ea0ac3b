"""Data: upload or pick a dataset, map its columns, read the validation report, save it."""

from __future__ import annotations

import streamlit as st

from slm_core.config import MAX_UPLOAD_MB
from slm_core.data.demo import DEMOS, demo_text, load_demo
from slm_core.data.types import (
    SUPPORTED_EXTENSIONS,
    ColumnMapping,
    ReadOptions,
    ReadResult,
    SplitConfig,
)
from slm_core.errors import SlmError
from slm_core.escape import md_text
from ui import data_stream
from ui.access import guard_page
from ui.navigation import page_link
from ui.state import activate_dataset, error_text, flash, get_store, lang, show_flash, t
from ui.url_state import keep_choice
from ui.widgets import render_report

guard_page()  # a page Streamlit runs without app.py is gated too

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "gb18030", "gbk", "big5", "cp1252", "latin-1"]
DELIMITERS = {",": ",", ";": ";", "\t": "TAB", "|": "|"}


@st.cache_data(show_spinner=False, max_entries=8)
def read_cached(data: bytes, filename: str, options: ReadOptions) -> ReadResult:
    from slm_core.data.io import read_table  # pandas: not needed before a file is read

    return read_table(data, filename, options)


@st.cache_data(show_spinner=False, max_entries=4)
def demo_cached(demo_id: str) -> tuple[ReadResult, ColumnMapping]:
    return load_demo(demo_id)


st.title(t("data.title"))
st.caption(t("data.intro"))

keep_choice("source", "data_source", ["upload", "demo"])  # ?source=demo
source = st.radio(
    t("data.source"),
    ["upload", "demo"],
    horizontal=True,
    format_func=lambda s: t(f"data.source_{s}"),
    key="data_source",
)
read: ReadResult | None = None
default_mapping: ColumnMapping | None = None
name = filename = ""
streamed = False  # a large upload, read in chunks (ui/data_stream.py)
try:
    if source == "upload":
        upload = st.file_uploader(
            t("data.upload", limit=MAX_UPLOAD_MB),
            type=list(SUPPORTED_EXTENSIONS),
            help=t("data.upload_help", limit=MAX_UPLOAD_MB),
            max_upload_size=MAX_UPLOAD_MB,  # the limit the label states, not only the server's
            key="data_upload",  # a key, not the label, names it: a language switch keeps the file
        )
        if upload is None:
            st.info(t("data.upload_hint"))
            st.stop()
        with st.expander(t("data.read_options")):
            c1, c2, c3 = st.columns(3)
            encoding = c1.selectbox(
                t("data.encoding"), [None, *ENCODINGS], format_func=lambda e: e or t("data.auto")
            )
            delimiter = c2.selectbox(
                t("data.delimiter"),
                [None, *DELIMITERS],
                format_func=lambda d: DELIMITERS.get(d, t("data.auto")),
            )
            header = c3.selectbox(
                t("data.header"),
                [None, True, False],
                format_func=lambda h: (
                    t("data.auto") if h is None else t("data.yes") if h else t("data.no")
                ),
            )
        options = ReadOptions(encoding=encoding, delimiter=delimiter, header=header)
        streamed = data_stream.streams(upload)
        if streamed:  # over SLM_STREAM_MB: only its first rows now, the rest when it is stored
            data_stream.stream_notice(upload)
            read = data_stream.read_head(upload, options)
        else:
            read = read_cached(upload.getvalue(), upload.name, options)
        if len(read.detected.sheets) > 1:
            sheet = st.selectbox(
                t("data.sheet"),
                read.detected.sheets,
                index=read.detected.sheets.index(read.detected.sheet),  # the sheet it read
                help=t("data.sheet_help", n=len(read.detected.sheets)),
            )
            options = ReadOptions(
                encoding=encoding, delimiter=delimiter, header=header, sheet=sheet
            )
            read = read_cached(upload.getvalue(), upload.name, options)
        name = filename = upload.name
    else:
        demo_names = {d: demo_text(d, "name", lang()) for d in DEMOS}
        demo_id = st.selectbox(t("data.demo"), list(DEMOS), format_func=demo_names.get)
        spec = DEMOS[demo_id]
        info = {f: demo_text(demo_id, f, lang()) for f in ("description", "task", "licence")}
        st.caption(
            f"{info['description']} {info['task']}. {t('data.licence')}: {info['licence']}. "
            f"{t('data.package')}: `{spec.package}`"
        )
        read, default_mapping = demo_cached(demo_id)
        name, filename = spec.name, demo_id
except SlmError as exc:
    st.error(error_text(exc), icon=":material/error:")
    st.stop()

# A file or a demo was read: only now the data libraries (pandas: ~0.4 s on a cold server), so
# the page's first view, the uploader, opens without them.
from slm_core.data.columns import guess_mapping  # noqa: E402
from slm_core.data.split import make_splits  # noqa: E402
from slm_core.dataset import prepare_dataset, register_dataset  # noqa: E402

detected = read.detected
st.caption(
    t(
        "data.detected",
        format=detected.format,
        encoding=detected.encoding or "-",
        delimiter=DELIMITERS.get(detected.delimiter or "", md_text(detected.delimiter or "-")),
        header=t("data.yes") if detected.header else t("data.no"),
    )
)
for note in detected.notes:
    st.caption(error_text(note))
if streamed:
    data_stream.preview_caption(read)
st.dataframe(read.frame.head(100), hide_index=True, height=240)

st.subheader(t("data.mapping"))
columns = list(read.frame.columns)
try:
    guess = default_mapping or guess_mapping(read.frame)
except SlmError as exc:
    st.error(error_text(exc), icon=":material/error:")
    st.stop()
c1, c2, c3, c4 = st.columns(4)
text_col = c1.selectbox(t("data.text_col"), columns, index=columns.index(guess.text))
label_col = c2.selectbox(t("data.label_col"), columns, index=columns.index(guess.label))
optional = [None, *columns]


def optional_column(where, name: str, guessed: str | None) -> str | None:
    """The column holding the optional ``name`` ('group', 'split'), or None."""
    return where.selectbox(
        t(f"data.{name}_col"),
        optional,
        help=t(f"data.{name}_help"),
        index=optional.index(guessed),
        format_func=lambda c: c or "—",
    )


group_col = optional_column(c3, "group", guess.group)
split_col = optional_column(c4, "split", guess.split)
mapping = ColumnMapping(text=text_col, label=label_col, group=group_col, split=split_col)

with st.expander(t("data.split_settings"), expanded=False):
    c1, c2, c3 = st.columns(3)
    train_pct = c1.slider(t("data.train_pct"), 40, 90, 70, 5)
    val_pct = c2.slider(t("data.val_pct"), 5, 30, 15, 5)
    seed = c3.number_input(t("data.seed"), 0, 2**31 - 1, 42, help=t("data.seed_help"))
    dedupe = st.checkbox(t("data.dedupe"), True, help=t("data.dedupe_help"))
    drop_conflicts = st.checkbox(t("data.drop_conflicts"), True, help=t("data.drop_conflicts_help"))
test_pct = 100 - train_pct - val_pct
if test_pct < 5:
    st.error(t("data.split_too_small"))
    st.stop()
config = SplitConfig(
    train=train_pct / 100,
    val=val_pct / 100,
    test=test_pct / 100,
    seed=int(seed),
    dedupe=dedupe,
    drop_conflicts=drop_conflicts,
)


def saved_link() -> None:
    """The pending 'saved' message, with the way on to training."""
    if show_flash():
        page_link("train", label=t("data.go_train"), icon=":material/arrow_forward:")


if streamed:  # read, checked and stored in one pass, on request
    data_stream.store_section(upload, options, mapping, config, name)
    saved_link()
    st.stop()

try:
    prepared = prepare_dataset(read, mapping, name, filename, config)
except SlmError as exc:
    st.error(error_text(exc), icon=":material/error:")
    st.stop()

st.subheader(t("data.report"))
render_report(prepared.report)

if prepared.report.trainable:
    try:
        splits = make_splits(prepared.frame, config)
        sizes = splits.sizes()
        st.caption(
            t(
                "data.split_sizes",
                seed=config.seed,
                removed_dup=splits.removed_duplicates,
                removed_conf=splits.removed_conflicts,
                **sizes,
            )
        )
    except SlmError as exc:
        st.error(error_text(exc), icon=":material/error:")
        st.stop()
    dataset_name = st.text_input(t("data.name"), value=name)
    if st.button(t("data.use"), type="primary", icon=":material/check:"):
        try:  # e.g. a full or read-only SLM_HOME: one clear message, nothing half-stored
            prepared = prepare_dataset(read, mapping, dataset_name or name, filename, config)
            record = register_dataset(
                get_store(), prepared, source="upload" if source == "upload" else "demo"
            )
        except SlmError as exc:
            st.error(error_text(exc), icon=":material/error:")
            st.stop()
        activate_dataset(record.id)
        flash(t("data.saved", id=record.id))
        st.rerun()
saved_link()

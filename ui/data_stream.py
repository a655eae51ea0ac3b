"""The Data page's path for a large upload: read in chunks, not whole (slm_core.data.upload_stream).

A file over ``SLM_STREAM_MB`` in a format that streams (CSV, TSV, TXT, JSONL) is previewed from
its first rows, and read, checked and stored in one pass when the user asks, with a progress
bar. Its validation report exists only after that pass, so it is shown then (and kept in the
session, so it stays on the page after the rerun that makes the dataset active).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from slm_core.data.types import ColumnMapping, ReadOptions, ReadResult, SplitConfig
from slm_core.errors import SlmError
from slm_core.i18n import format_number
from ui.state import activate_dataset, error_text, flash, get_store, lang, t
from ui.widgets import render_report

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from slm_core.data.stream import StreamedDataset, StreamProgress

_MB = 1024 * 1024
# The last chunked read of this session: (what it read, its StreamedDataset).
RESULT_KEY = "_data_stream_result"


def streams(upload: UploadedFile) -> bool:
    """Whether ``upload`` is large enough, and of a format, to be read in chunks."""
    from slm_core.data.stream import stream_choice

    return stream_choice(upload.name, upload.size)[0]


def stream_notice(upload: UploadedFile) -> None:
    """Say that the file is read in chunks, why, and what that changes on the page."""
    from slm_core.data.stream import CHUNK_ROWS, stream_threshold_mb
    from slm_core.data.stream_sources import HEAD_ROWS

    st.info(
        f"**{t('data.stream.notice_title')}** — "
        + t(
            "data.stream.notice",
            size=_mb(upload.size),
            limit=f"{stream_threshold_mb():g}",
            chunk=format_number(CHUNK_ROWS, lang()),
            head=format_number(HEAD_ROWS, lang()),
        ),
        icon=":material/view_stream:",
    )


@st.cache_data(show_spinner=False, max_entries=4)
def _head_cached(
    file_id: str, filename: str, size: int, options: ReadOptions, _upload: UploadedFile
) -> ReadResult:
    from slm_core.data.upload_stream import read_upload_head, staging_folder

    return read_upload_head(_upload, filename, staging_folder(get_store()), options)


def read_head(upload: UploadedFile, options: ReadOptions) -> ReadResult:
    """The first rows of a large upload (cached per upload and options); SlmError if unreadable."""
    return _head_cached(upload.file_id, upload.name, upload.size, options, upload)


def preview_caption(read: ReadResult) -> None:
    st.caption(t("data.stream.preview", rows=format_number(len(read.frame), lang())))


def store_section(
    upload: UploadedFile,
    options: ReadOptions,
    mapping: ColumnMapping,
    config: SplitConfig,
    name: str,
) -> None:
    """The dataset's name and the button that reads, checks and stores the whole file; then
    its validation report (the one from this session's last read of the same file and choices)."""
    dataset_name = st.text_input(t("data.name"), value=name)
    read_key = (upload.file_id, options, mapping, config)
    if st.button(
        t("data.stream.use"),
        type="primary",
        icon=":material/check:",
        help=t("data.stream.use_help"),
    ):
        _read_and_store(upload, options, mapping, config, dataset_name or name, read_key)
    remembered = st.session_state.get(RESULT_KEY)
    if remembered is not None and remembered[0] == read_key:
        _show_result(remembered[1], config)


def _read_and_store(upload, options, mapping, config, name, read_key) -> None:
    from slm_core.data.upload_stream import store_upload

    st.session_state.pop(RESULT_KEY, None)
    slot = st.empty()
    bar = slot.progress(0.0, text=_progress_text(0, 0, upload.size))

    def on_progress(progress: StreamProgress) -> None:
        text = _progress_text(progress.rows, progress.bytes_read, progress.total_bytes)
        bar.progress(progress.fraction, text=text)

    try:
        stored = store_upload(
            get_store(),
            upload,
            upload.name,
            mapping,
            name=name,
            options=options,
            split_config=config,
            progress=on_progress,
        )
    except SlmError as exc:  # a file that cannot be read, a full disk: one sentence
        slot.empty()
        st.error(error_text(exc), icon=":material/error:")
        st.stop()
    slot.empty()
    st.session_state[RESULT_KEY] = (read_key, stored.streamed)
    if stored.record is not None:
        activate_dataset(stored.record.id)
        flash(t("data.saved", id=stored.record.id))
        st.rerun()


def _progress_text(rows: int, done: int, total: int) -> str:
    return t(
        "data.stream.progress",
        rows=format_number(rows, lang()),
        done=_mb(done),
        total=_mb(total),
    )


def _mb(size: int) -> str:
    """Bytes in MB, with enough digits to tell a small file (under a lowered SLM_STREAM_MB)."""
    mb = size / _MB
    return f"{mb:,.1f}" if mb >= 10 else f"{mb:.3g}"


def _show_result(streamed: StreamedDataset, config: SplitConfig) -> None:
    from slm_core.dataset import usable_rows

    report = streamed.report
    st.caption(
        t(
            "data.stream.done",
            rows=format_number(report.rows, lang()),
            chunks=format_number(streamed.chunks, lang()),
            chunk=format_number(streamed.chunk_rows, lang()),
        )
    )
    st.subheader(t("data.stream.report"))
    render_report(report)
    if report.trainable:
        st.caption(
            t(
                "data.stream.usable",
                usable=format_number(usable_rows(report.to_dict()), lang()),
                train=round(config.train * 100),
                val=round(config.val * 100),
                test=round(config.test * 100),
                seed=config.seed,
            )
        )
    else:
        st.info(t("data.stream.not_stored"), icon=":material/info:")

"""A large upload read in chunks: the Data page's path for files over ``SLM_STREAM_MB``.

An upload arrives as bytes in the server's memory. Reading it whole
(:func:`slm_core.data.io.read_table`) would hold it several times over, so a large one is copied
to a private folder beside the store's datasets (the same file system, so the finished Parquet
frame is moved into place in one rename), a block at a time; its first rows are read for the
preview and the column guess (:func:`read_upload_head`); and on request it is streamed into the
store (:func:`store_upload`) with :func:`slm_core.data.stream.stream_dataset`. The copy is removed
when each of these returns, whether it succeeded or not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from slm_core.data.stream import (
    StreamedDataset,
    StreamProgress,
    read_head,
    register_streamed,
    stream_dataset,
)
from slm_core.data.stream_sources import HEAD_ROWS
from slm_core.data.types import ColumnMapping, ReadOptions, ReadResult, SplitConfig
from slm_core.errors import DataError, SlmError

if TYPE_CHECKING:
    from slm_core.store.records import DatasetRecord

# A private folder per upload being read, named with the reading process's id (a startup of
# the app removes those of processes that are gone: RunStore.sweep_staging).
UPLOAD_PREFIX = ".upload-"
# Bytes of a large upload staged for its preview: HEAD_ROWS rows of most files. A file whose
# first bytes hold fewer whole rows (long texts) is staged whole for it.
HEAD_BYTES = 16 * 1024 * 1024
# Bytes copied at a time from the upload to disk: what the copy adds to the upload in memory.
COPY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class StoredUpload:
    """What :func:`store_upload` did: the streamed file, and the dataset stored (None when the
    report says it cannot be trained; nothing is stored then)."""

    streamed: StreamedDataset
    record: DatasetRecord | None


def staging_folder(store) -> Path:
    """The store's folder for frames being written (created if missing)."""
    return store.staging_path().parent


@contextmanager
def staged_upload(
    fileobj: IO[bytes], filename: str, folder: Path | str, limit: int | None = None
) -> Iterator[Path]:
    """The upload ``fileobj`` copied, a block at a time, to a new private folder in ``folder``
    under its own name ``filename`` (the readers tell its format by its extension, and name it
    in their messages); the copy and its folder are removed when the block ends, however.
    With ``limit``, only its first ``limit`` bytes, cut after their last line break.

    A full disk or an unwritable folder raises the store's sentence for it (an ``SlmError``).
    """
    folder = Path(folder)
    try:
        work = Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-", dir=folder))
    except OSError as exc:
        raise _disk_error(exc, folder) from exc
    try:
        path = work / _plain_name(filename)
        try:
            fileobj.seek(0)
            with path.open("wb") as out:
                if limit is None:
                    shutil.copyfileobj(fileobj, out, COPY_BYTES)
                else:
                    prefix = fileobj.read(limit)
                    out.write(prefix[: prefix.rfind(b"\n") + 1])
        except OSError as exc:
            raise _disk_error(exc, folder) from exc
        finally:
            fileobj.seek(0)
        yield path
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_upload_head(
    fileobj: IO[bytes],
    filename: str,
    folder: Path | str,
    options: ReadOptions = ReadOptions(),  # noqa: B008
) -> ReadResult:
    """The first rows of a large upload (for the preview and the column guess), read with the
    chunked reader's rules: what :func:`slm_core.data.stream.read_head` gives for the file.

    Read from its first ``HEAD_BYTES`` when they hold ``HEAD_ROWS`` whole rows (most files),
    else from the whole upload: a page that previews a 200 MB file, and again for every read
    option tried, then copies a few MB each time instead of all of it.
    """
    if _size(fileobj) > HEAD_BYTES:
        try:
            with staged_upload(fileobj, filename, folder, limit=HEAD_BYTES) as path:
                read = read_head(path, options, HEAD_ROWS)
            if len(read.frame) >= HEAD_ROWS:
                return read
        except DataError:  # e.g. a quoted text cut where the first bytes end: read it whole
            pass
    with staged_upload(fileobj, filename, folder) as path:
        return read_head(path, options, HEAD_ROWS)


def _size(fileobj: IO[bytes]) -> int:
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size


def store_upload(
    store,
    fileobj: IO[bytes],
    filename: str,
    mapping: ColumnMapping,
    *,
    name: str,
    options: ReadOptions = ReadOptions(),  # noqa: B008
    split_config: SplitConfig | None = None,
    progress: Callable[[StreamProgress], None] | None = None,
    source: str = "upload",
) -> StoredUpload:
    """Read a large upload in chunks, validate it and, when it can be trained, store it.

    The rows are stored as they are, as the in-memory path stores them (duplicates are left
    out when a split is made, by ``split_config.dedupe``), so the same file and mapping give the
    same dataset id either way. Raises ``SlmError`` with one sentence for a file that cannot be
    read or a disk that is full; a file that is read but cannot be trained gives its report
    and no record.
    """
    with staged_upload(fileobj, filename, staging_folder(store)) as path:
        out = store.staging_path()
        try:
            streamed = stream_dataset(
                path,
                mapping,
                options=options,
                out=out,
                name=name,
                split_config=split_config,
                dedupe=False,  # as the in-memory path: the split drops duplicates, by its config
                progress=progress,
            )
            if not streamed.report.trainable:
                out.unlink(missing_ok=True)
                return StoredUpload(streamed, None)
            return StoredUpload(streamed, register_streamed(store, streamed, source))
        except OSError as exc:  # pyarrow's and the file system's: a full disk, most likely
            raise _disk_error(exc, out.parent) from exc
        finally:
            out.unlink(missing_ok=True)  # moved into the store, or not to be kept


def _plain_name(filename: str) -> str:
    """``filename`` without any folder part (a browser sends a bare name; a test may not)."""
    name = Path(str(filename).replace("\\", "/")).name
    return name if name not in {"", ".", ".."} else "upload"


def _disk_error(exc: OSError, folder: Path) -> SlmError:
    """The store's sentence for a full or unwritable disk; else one naming the system's reason."""
    from slm_core.store.files import storage_error

    problem = storage_error(exc, folder)
    if problem is not None:
        return problem
    return DataError("errors.data_stream.os_error", reason=exc.strerror or str(exc))

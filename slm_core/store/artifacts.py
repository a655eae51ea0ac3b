"""Runs' artifact folders and datasets' frames shared between machines through ``SLM_ARTIFACTS``.

``SLM_ARTIFACTS`` names a folder or an fsspec URL (``file://``, ``s3://``, ``memory://``, ...)
that every machine of the lab can reach: a worker on another machine uploads what it trained
there and the app reads it from there. Each machine keeps a local copy of a run's folder where
it always was, ``SLM_HOME/runs/<id>/``; that copy is what readers open (models load only from
``SLM_HOME/runs``).

An object store cannot rename a folder in one step, so a run is published in versions::

    <url>/runs/<id>/<version>/...   every file of one version, uploaded first
    <url>/runs/<id>/.complete       the manifest (version, revision, files and sizes), last

A reader trusts only what a valid ``.complete`` lists: a half-uploaded version has no manifest
naming it, and an older version is removed only after the manifest names the new one. A file
added after publishing (:meth:`RemoteArtifacts.push_run` again) goes into the current version
and the manifest gets a new revision; a reader then fetches only the files whose revision
changed. A local copy holds its own ``.complete`` (the manifest it matches, plus the size and
modification time of each local file), so both directions know what changed.

Every failure to reach the store (a bad URL, a missing fsspec backend, no permission, no
network) is an :class:`~slm_core.errors.SlmError` naming the store and the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from slm_core.atomic import write_text_atomic
from slm_core.errors import SlmError, one_line
from slm_core.store.files import storage_problem

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

MARKER = ".complete"
# A store's own error is quoted shorter than a run's: it follows the store's URL in one line.
LINE_LIMIT = 200
FORMAT = 1
# Names that are not artifacts: a file being written through slm_core.atomic.atomic_path, and
# this module's own downloads in progress.
_IN_PROGRESS = re.compile(r"^\..*(\.\d+-\d+\.tmp|\.fetch-[0-9a-f-]+)")
_CREDENTIALS = re.compile(r"(?<=://)[^/@]*@")


@dataclass(frozen=True)
class Manifest:
    """What one published version of a run's folder holds.

    ``files`` maps each file's path inside the folder (POSIX) to its size and the revision that
    last wrote it; ``revision`` changes whenever a file is added or replaced.
    """

    version: str
    revision: str
    files: Mapping[str, tuple[int, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "revision": self.revision,
            "files": {rel: {"size": size, "rev": rev} for rel, (size, rev) in self.files.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a manifest; ValueError unless it is one this module wrote, with safe paths."""
        files = {}
        for rel, entry in dict(data["files"]).items():
            parts = PurePosixPath(rel).parts
            if not parts or rel.startswith("/") or ".." in parts or rel == MARKER:
                raise ValueError(f"unsafe path in manifest: {rel!r}")
            files[str(rel)] = (int(entry["size"]), str(entry["rev"]))
        version = str(data["version"])
        if data.get("format") != FORMAT or not re.fullmatch(r"[0-9A-Za-z-]+", version):
            raise ValueError("not a manifest of this format")
        return cls(version, str(data["revision"]), files)


@dataclass(frozen=True)
class _LocalState:
    """The manifest a local copy matches and each local file's (size, mtime_ns) at that time."""

    manifest: Manifest
    stamps: Mapping[str, tuple[int, int]]


def _token() -> str:
    # Sorts by time, so an operator browsing the bucket sees which version is newest.
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:10]}"


def display_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, for messages and logs."""
    return _CREDENTIALS.sub("", url)


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _local_files(folder: Path) -> dict[str, Path]:
    """The artifact files under ``folder`` by POSIX path (symlinks and work in progress left out:
    nothing outside the folder is uploaded)."""
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file() or _IN_PROGRESS.match(path.name):
            continue
        rel = path.relative_to(folder).as_posix()
        if rel != MARKER:
            found[rel] = path
    return found


def _read_state(folder: Path) -> _LocalState | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        stamps = {rel: (int(s), int(m)) for rel, (s, m) in dict(data["local"]).items()}
        return _LocalState(Manifest.from_dict(data), stamps)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(folder: Path, manifest: Manifest, stamps: Mapping[str, tuple[int, int]]) -> None:
    state = {**manifest.to_dict(), "local": {rel: list(stamp) for rel, stamp in stamps.items()}}
    write_text_atomic(folder / MARKER, json.dumps(state, sort_keys=True))


class _Changed(Exception):
    """The published files changed while they were being fetched: read the manifest again."""


def _open(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec file system and root path of ``url``; SlmError for a URL it cannot use."""
    import fsspec.core
    from fsspec.registry import known_implementations

    shown = display_url(url)
    if "://" not in url and "::" not in url:
        url = str(Path(url).expanduser().resolve())
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        protocol = url.split("::")[-1].split("://")[0]
        known = known_implementations.get(protocol, {})
        package = str(known.get("class", "")).split(".")[0] or protocol
        raise SlmError(
            "errors.artifacts.missing_backend", url=shown, protocol=protocol, package=package
        ) from exc
    except (ValueError, TypeError) as exc:
        raise SlmError(
            "errors.artifacts.bad_url", url=shown, reason=one_line(exc, LINE_LIMIT)
        ) from exc
    except Exception as exc:  # a backend that checks its credentials or endpoint on opening
        raise SlmError(
            "errors.artifacts.unreachable", url=shown, reason=one_line(exc, LINE_LIMIT)
        ) from exc
    return fs, str(root).rstrip("/")  # "" for the root of a file system: paths start "/runs"


class RemoteArtifacts:
    """Run folders and dataset frames at the shared location ``url`` (see the module docstring).

    Parameters
    ----------
    url
        A folder path or an fsspec URL; SlmError if it cannot be used.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = display_url(url)
        self.fs, self.root = _open(url)

    def __repr__(self) -> str:
        return f"RemoteArtifacts({self.shown!r})"

    def local_root(self) -> Path | None:
        """The folder on this machine when the location is a local one, else None."""
        from fsspec.implementations.local import LocalFileSystem

        return Path(self.root) if isinstance(self.fs, LocalFileSystem) else None

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """Turn a failure to reach the store into an SlmError with a one-line reason."""
        try:
            yield
        except SlmError:
            raise
        except OSError as exc:
            if storage_problem(exc) == "full":
                raise  # this machine's disk: the caller says so (slm_core.store.files)
            if isinstance(exc, PermissionError):
                raise SlmError(
                    "errors.artifacts.permission", url=self.shown, reason=one_line(exc, LINE_LIMIT)
                ) from exc
            raise SlmError(
                "errors.artifacts.unreachable", url=self.shown, reason=one_line(exc, LINE_LIMIT)
            ) from exc
        except Exception as exc:  # each backend raises its own types (network, credentials)
            raise SlmError(
                "errors.artifacts.unreachable", url=self.shown, reason=one_line(exc, LINE_LIMIT)
            ) from exc

    def _put(self, local: Path, remote: str, *, replace: bool = False) -> None:
        """Upload one file; ``replace``: through a temporary name, so that a reader of a file
        already published meets the old content or the new one, never half of it."""
        parent = remote.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if not replace:
            self.fs.put_file(str(local), remote)
            return
        tmp = f"{parent}/.{remote.rsplit('/', 1)[1]}.upload-{uuid.uuid4().hex[:10]}"
        self.fs.put_file(str(local), tmp)
        self.fs.mv(tmp, remote)

    def _pipe(self, data: bytes, remote: str) -> None:
        parent = remote.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{remote.rsplit('/', 1)[1]}.upload-{uuid.uuid4().hex[:10]}"
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, remote)

    # ------------------------------------------------------------------------------ runs

    def run_root(self, run_id: int) -> str:
        """Where run ``run_id``'s versions and manifest are kept."""
        return f"{self.root}/runs/{int(run_id)}"

    def _marker(self, run_id: int) -> str:
        return f"{self.run_root(run_id)}/{MARKER}"

    def read_manifest(self, run_id: int) -> Manifest | None:
        """The manifest of run ``run_id``'s published files; None when nothing is published (or
        what is there is not a manifest this module wrote: it is not trusted)."""
        with self._reaching():
            try:
                raw = self.fs.cat_file(self._marker(run_id))
            except FileNotFoundError:
                return None
        try:
            return Manifest.from_dict(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None

    def push_run(self, run_id: int, folder: Path) -> Manifest | None:
        """Publish what changed in the local copy ``folder`` of run ``run_id``.

        A folder that was never published (or whose published version is no longer the current
        one) is uploaded whole as a new version; otherwise only its new or changed files are,
        with a new revision. Returns the manifest now published (None when there is nothing to
        publish).
        """
        with self._reaching():
            files = _local_files(folder)
            stamps = {rel: _stamp(path) for rel, path in files.items()}
            state = _read_state(folder)
            published = self.read_manifest(run_id)
            if state is None or published is None or published.version != state.manifest.version:
                if not files:
                    return published
                return self._push_whole(run_id, folder, files, stamps)
            changed = [rel for rel in files if state.stamps.get(rel) != stamps[rel]]
            removed = [rel for rel in state.manifest.files if rel not in files]
            if not changed and not removed:
                return published
            return self._push_changes(
                run_id, folder, published, state, files, stamps, changed, removed
            )

    def _push_whole(
        self,
        run_id: int,
        folder: Path,
        files: Mapping[str, Path],
        stamps: Mapping[str, tuple[int, int]],
    ) -> Manifest:
        version = _token()
        base = f"{self.run_root(run_id)}/{version}"
        for rel, path in files.items():
            self._put(path, f"{base}/{rel}")
        manifest = Manifest(version, version, {rel: (stamps[rel][0], version) for rel in files})
        self._pipe(json.dumps(manifest.to_dict()).encode(), self._marker(run_id))
        # Only now may older versions go: a reader that read the old manifest a moment ago
        # finds its files gone, reads the manifest again and fetches this version.
        for entry in self.fs.ls(self.run_root(run_id), detail=False):
            name = str(entry).rstrip("/").rsplit("/", 1)[-1]
            if name not in (version, MARKER) and not name.startswith("."):
                self.fs.rm(entry, recursive=True)
        _write_state(folder, manifest, stamps)
        return manifest

    def _push_changes(
        self,
        run_id: int,
        folder: Path,
        published: Manifest,
        state: _LocalState,
        files: Mapping[str, Path],
        stamps: Mapping[str, tuple[int, int]],
        changed: list[str],
        removed: list[str],
    ) -> Manifest:
        revision = _token()
        base = f"{self.run_root(run_id)}/{published.version}"
        # What is published now, and what this copy holds: they differ when another machine
        # pushed meanwhile, and then the next fetch brings what this copy lacks.
        entries, held = dict(published.files), dict(state.manifest.files)
        for rel in changed:
            self._put(files[rel], f"{base}/{rel}", replace=True)
            entries[rel] = held[rel] = (stamps[rel][0], revision)
        for rel in removed:
            entries.pop(rel, None)
            held.pop(rel, None)
        manifest = Manifest(published.version, revision, entries)
        self._pipe(json.dumps(manifest.to_dict()).encode(), self._marker(run_id))
        for rel in removed:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(f"{base}/{rel}")
        _write_state(folder, Manifest(published.version, revision, held), stamps)
        return manifest

    def fetch_run(self, run_id: int, folder: Path) -> bool:
        """Make the local copy ``folder`` match run ``run_id``'s published files, downloading
        what is missing or older; False when nothing is published: ``folder`` is then left
        alone (a run still training, an LLM measurement carried out here), unless it is a copy
        of what was published before (the run was deleted or restarted since), which goes.

        The whole folder is fetched beside ``folder`` and swapped in, or, when only some files
        changed, each is replaced in one rename: a reader never meets half of either.
        """
        with self._reaching():
            for _ in range(3):
                published = self.read_manifest(run_id)
                state = _read_state(folder)
                if published is None:
                    if state is not None:
                        # Fetched or pushed once, gone now: the run was deleted or restarted,
                        # and nothing of an earlier attempt may pass for the next one's.
                        self._drop(folder)
                    return False
                if state is not None and state.manifest == published:
                    return True
                try:
                    if state is not None and state.manifest.version == published.version:
                        self._fetch_changes(run_id, folder, published, state)
                    else:
                        self._fetch_whole(run_id, folder, published)
                    return True
                except _Changed:
                    continue  # a newer version was published meanwhile
        raise SlmError("errors.artifacts.changing", run_id=int(run_id), url=self.shown)

    @staticmethod
    def _drop(folder: Path) -> None:
        aside = folder.with_name(f".{folder.name}.fetch-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        with contextlib.suppress(FileNotFoundError):
            os.replace(folder, aside)
        shutil.rmtree(aside, ignore_errors=True)

    def _download(self, remote: str, local: Path, size: int) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.fs.get_file(remote, str(local))
        except FileNotFoundError as exc:
            raise _Changed() from exc
        if local.stat().st_size != size:
            raise _Changed()

    def _fetch_whole(self, run_id: int, folder: Path, published: Manifest) -> None:
        # Named like a staging folder (.<id>.*): the run store removes it if this process dies.
        tmp = folder.with_name(f".{folder.name}.fetch-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        base = f"{self.run_root(run_id)}/{published.version}"
        try:
            tmp.mkdir(parents=True)
            for rel, (size, _rev) in published.files.items():
                self._download(f"{base}/{rel}", tmp / rel, size)
            stamps = {rel: _stamp(tmp / rel) for rel in published.files}
            _write_state(tmp, published, stamps)
            old = folder.with_name(f".{folder.name}.fetch-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(folder, old)
            # Another process on this machine may have put a copy in place meanwhile: keep it.
            with contextlib.suppress(OSError):
                os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _fetch_changes(
        self, run_id: int, folder: Path, published: Manifest, state: _LocalState
    ) -> None:
        base = f"{self.run_root(run_id)}/{published.version}"
        stamps = dict(state.stamps)
        for rel, (size, rev) in published.files.items():
            path = folder / rel
            had = state.manifest.files.get(rel)
            if had is not None and had[1] == rev and path.is_file():
                continue  # unchanged (a local edit not yet pushed keeps its old stamp)
            tmp = path.with_name(f".{path.name}.fetch-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                self._download(f"{base}/{rel}", tmp, size)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            stamps[rel] = _stamp(path)
        for rel in state.manifest.files.keys() - published.files.keys():
            (folder / rel).unlink(missing_ok=True)
            stamps.pop(rel, None)
        _write_state(folder, published, stamps)

    def delete_run(self, run_id: int) -> None:
        """Remove run ``run_id``'s published files: the manifest first, so that no reader
        trusts what is left while the rest goes."""
        with self._reaching():
            for path, recursive in ((self._marker(run_id), False), (self.run_root(run_id), True)):
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(path, recursive=recursive)

    # ---------------------------------------------------------------------------- frames

    def frame_key(self, dataset_id: str) -> str:
        """Where the frame of ``dataset_id`` is kept (the same name as under ``SLM_HOME``)."""
        return f"{self.root}/datasets/{dataset_id}.parquet"

    def _size(self, remote: str) -> int | None:
        self.fs.invalidate_cache(remote.rsplit("/", 1)[0])
        try:
            return int(self.fs.info(remote)["size"])
        except FileNotFoundError:
            return None

    def push_frame(self, dataset_id: str, path: Path) -> None:
        """Upload the frame file ``path`` unless the same one is there already (a dataset's
        id is its content's hash, so a frame never changes under one name)."""
        with self._reaching():
            if self._size(self.frame_key(dataset_id)) != path.stat().st_size:
                self._put(path, self.frame_key(dataset_id), replace=True)

    def fetch_frame(self, dataset_id: str, path: Path) -> bool:
        """Download the frame of ``dataset_id`` to ``path`` (in one rename); False when it is
        not there either."""
        with self._reaching():
            size = self._size(self.frame_key(dataset_id))
            if size is None:
                return False
            tmp = path.with_name(f".{path.name}.fetch-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                self._download(self.frame_key(dataset_id), tmp, size)
                os.replace(tmp, path)
            except _Changed:
                return False
            finally:
                tmp.unlink(missing_ok=True)
            return True

    def delete_frame(self, dataset_id: str) -> None:
        """Remove the frame of ``dataset_id``."""
        with self._reaching(), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.frame_key(dataset_id))


# ------------------------------------------------------ dataset frames, for the run store


def push_frame(store: Any, dataset_id: str) -> None:
    """Share the stored frame of ``dataset_id`` (call it once the frame file is written);
    nothing without ``SLM_ARTIFACTS``."""
    remote = store.remote_artifacts()
    if remote is not None:
        remote.push_frame(dataset_id, store.frame_path(dataset_id))


def fetch_frame(store: Any, dataset_id: str) -> bool:
    """Make sure the frame of ``dataset_id`` is on this machine, fetching it from
    ``SLM_ARTIFACTS`` when missing; whether it is there now."""
    path = store.frame_path(dataset_id)
    if path.exists():
        return True
    remote = store.remote_artifacts()
    if remote is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    return remote.fetch_frame(dataset_id, path)


def delete_frame(store: Any, dataset_id: str) -> None:
    """Remove the shared frame of ``dataset_id``; nothing without ``SLM_ARTIFACTS``."""
    remote = store.remote_artifacts()
    if remote is not None:
        remote.delete_frame(dataset_id)

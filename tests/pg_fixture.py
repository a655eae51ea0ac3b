"""A throw-away PostgreSQL cluster for the tests that run the store against a real server.

The cluster lives in a temporary directory, listens only on a unix socket there (no TCP port to
collide with anything), runs with fsync off, and is stopped and deleted when the session ends.
Each test gets a fresh database in it, so tests never see each other's rows.

Without server binaries the PostgreSQL tests are skipped, except under ``CI=true`` or
``SLM_REQUIRE_POSTGRES=1`` where that would hide a broken setup, so they fail instead.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from glob import glob
from pathlib import Path

import pytest

# initdb refuses to run as root; as root we run the server as this OS user.
_SERVER_USER = "postgres"


def _required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true") or bool(
        os.environ.get("SLM_REQUIRE_POSTGRES")
    )


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL tests need a local server: {reason} (run `make test` to install one)"
    if _required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: $SLM_TEST_PG_BINDIR, PATH, or Debian's."""
    candidates = []
    if os.environ.get("SLM_TEST_PG_BINDIR"):
        candidates.append(os.environ["SLM_TEST_PG_BINDIR"])
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))

    def major(path: str) -> int:
        found = re.search(r"/postgresql/(\d+)/", path)
        return int(found.group(1)) if found else 0

    # Debian keeps the server binaries off PATH, one directory per major version: newest first.
    candidates += sorted(glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    return None


class PgCluster:
    """One temporary PostgreSQL cluster (start, make databases, stop and delete)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # A short path: a unix socket path must stay under ~107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="slm_pg_", dir="/tmp"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(_SERVER_USER)
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                _unavailable(f"running as root and there is no {_SERVER_USER!r} OS user")
            shutil.chown(self.root, user=_SERVER_USER)
            self.as_user = ["runuser", "-u", _SERVER_USER, "--"]
        self._names = itertools.count(1)

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self.as_user, str(self.bindir / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr}\n{tail}")

    def start(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--no-locale", "--no-sync"),
        )
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.root}'",
            # Durability is pointless for a cluster deleted at the end; speed is not.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Every RunStore has its own pool, and some tests open several stores.
            "max_connections": "300",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run(
            "pg_ctl", *("-D", str(self.data), "-l", str(self.root / "server.log"), "-w"), "start"
        )

    def url(self, database: str = "postgres") -> str:
        """A plain ``postgresql://`` URL (the form the README documents) over the socket."""
        return f"postgresql://postgres@/{database}?host={self.root}"

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        name = f"slm_test_{next(self._names)}"
        with psycopg.connect(host=str(self.root), user="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        # "immediate": nothing in it is worth a clean checkpoint.
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    """A running throw-away PostgreSQL cluster for the whole test session."""
    bindir = find_bindir()
    if bindir is None:
        _unavailable("no initdb/pg_ctl found (Debian package postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg driver is not installed (pip install -r requirements.txt)")
    cluster = PgCluster(bindir)
    try:
        # Binaries that exist but cannot start a server are a broken setup: fail, not skip.
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a fresh, empty PostgreSQL database for one test."""
    return pg_cluster.create_database()

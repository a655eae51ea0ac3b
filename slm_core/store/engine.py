"""The run store's database engine: URL normalisation, per-backend connection settings, and
column types that behave the same on SQLite and PostgreSQL.

SQLite (the default) gets WAL, a busy timeout and foreign keys, so the app, the job runner, its
training children and the CLI can share one file; a full disk or a read-only file raises the
SlmError that names the folder and what to do. PostgreSQL goes through psycopg 3, the driver
pinned in ``requirements.txt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Integer, Text, TypeDecorator, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from slm_core.store.files import storage_error

# SQLAlchemy maps a bare "postgresql://" to psycopg2, which we do not ship; "postgres://" is the
# spelling of Heroku-style DATABASE_URLs, which SQLAlchemy rejects outright.
_PG_BARE_DRIVERS = ("postgresql", "postgres")


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


class RowId(TypeDecorator):
    """An integer row id (SERIAL on PostgreSQL); an id out of its range matches no row.

    A user can type any run id: PostgreSQL raises "integer out of range" for one past 32 bits
    (SQLite overflows past 64) where the honest answer is "no such run". Ids start at 1, so -1
    finds nothing. Our inserts never bind an id, the database assigns it.
    """

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is not None and not _INT32_MIN <= int(value) <= _INT32_MAX:
            return -1
        return value


class SafeText(TypeDecorator):
    """Text without NUL characters: PostgreSQL's text type cannot hold them, SQLite can.

    Dropping them on every backend keeps both alike, so a pasted text or an odd error message
    still saves. (JSON columns need nothing: JSON escapes NUL as \\u0000.)
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return value.replace("\x00", "") if isinstance(value, str) else value


def normalise_url(url: str | URL) -> URL:
    """Parse a store URL; a plain ``postgresql://`` (or ``postgres://``) uses psycopg 3.

    An explicit driver (``postgresql+psycopg2://``, ``sqlite+pysqlite://``) is left as given.
    """
    parsed = make_url(url)
    if parsed.drivername in _PG_BARE_DRIVERS:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL) -> Engine:
    """An engine for the run store at ``url`` (see :func:`normalise_url`)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a pooled connection may have been closed by a server restart or a proxy.
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        # One shared connection, or every checkout would see a fresh empty database.
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        folder = Path(database).expanduser().parent
        folder.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "handle_error")
        def _storage_errors(context: Any) -> None:
            # A full disk or a read-only file: the sentence that says what to do, wherever in
            # the app or a worker the write happened ("database is locked" etc. pass through).
            problem = storage_error(context.original_exception, folder)
            if problem is not None:
                raise problem

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine

"""Connecting to the store: SQLAlchemy engines tuned for SQLite or PostgreSQL, and readable connection errors.

SQLite runs in WAL mode with `synchronous=FULL`: WAL alone already makes every commit atomic, even
when the process is killed; FULL also syncs the log on each commit, so a result reported as saved
survives a power cut or a hard reset too (benchmarks do crash machines). The cost, one fsync per
result, is nothing next to the seconds each result takes to measure.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from deploybench.core.errors import StoreError
from deploybench.store.url import DATABASE_ENV, redact_url

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite connection waits for another writer before giving up, seconds."""

SQLITE_BEGIN_OPTION = "deploybench_sqlite_begin"
"""Execution option naming the SQLite BEGIN mode (`IMMEDIATE` takes the write lock at once)."""

URL_FORMS = "use sqlite:///PATH/results.db or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


def create_store_engine(url: str) -> Engine:
    """An engine for `url`; raises StoreError when the URL is malformed or its driver is missing.

    Creating the engine does not connect yet: `describe_open_error` explains a failed first connection.
    """
    shown = redact_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse the results store URL `{shown}`", hint=URL_FORMS) from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            _tune_sqlite(engine)
            return engine
        return create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise StoreError(f"unknown kind of database in the results store URL `{shown}`", hint=URL_FORMS) from exc
    except ImportError as exc:
        raise StoreError(
            f"the database driver for `{shown}` is not installed ({exc})",
            hint="install it; for PostgreSQL, `pip install 'deploybench[postgresql]'` and a postgresql+psycopg:// URL",
        ) from exc


def describe_open_error(url: str, exc: SQLAlchemyError) -> StoreError:
    """A StoreError naming the store (password hidden), the database's reason and what to do."""
    shown = redact_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        hint = f"check that the file's folder exists and is writable, or choose another store with {DATABASE_ENV}"
    else:
        hint = (
            "check that the server is running and that host, port, user, password and database are right, "
            f"or choose another store with {DATABASE_ENV}"
        )
    return StoreError(f"cannot open the results store `{shown}`: {error_reason(exc)}", hint=hint)


def error_reason(exc: SQLAlchemyError) -> str:
    """The database's own one-line reason for `exc`, without SQLAlchemy's statement and links."""
    reason = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
    return " ".join(line.strip() for line in reason.splitlines() if line.strip())


def _tune_sqlite(engine: Engine) -> None:
    """WAL, synchronous=FULL, and real transactions (DDL included) begun by SQLAlchemy, not by pysqlite."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _switch_to_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode=WAL`, retried while another process holds the lock it needs.

    SQLite answers "database is locked" at once, without its busy handler, when two connections switch
    a new file's journal mode together; the retry bounds that wait by the same busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    pause_s = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause_s > deadline:
                raise
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.2)

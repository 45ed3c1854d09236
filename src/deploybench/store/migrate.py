"""Schema migrations: Alembic, configured in code from the scripts shipped in `migrations/`.

Users need no alembic.ini: opening a store upgrades it to the newest revision, in one transaction
that holds the database's write lock, so two processes opening a new store at once do not race.
Alembic is never asked to configure logging, and its console output goes nowhere.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from deploybench.core.errors import StoreError
from deploybench.store.engine import SQLITE_BEGIN_OPTION
from deploybench.store.schema import VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""Alembic's script directory: env.py and versions/."""

_ALEMBIC_LOCK = threading.Lock()
"""Alembic's `context` is one module-wide proxy, so one thread at a time runs migrations in a process."""

_POSTGRESQL_LOCK_KEY = 0x6465706C6F79_0001
"""Key of the PostgreSQL advisory lock that serializes migrations ("deploy", 1)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config built in code, pointing at the shipped scripts and, when given, a live connection."""
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this deploybench knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no schema migrations found in {MIGRATIONS_DIR}", hint="reinstall deploybench")
    return head


def current_revisions(connection: Connection) -> set[str]:
    """The schema revisions the database is at (empty for a database never migrated)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return set(context.get_current_heads())


def upgrade_to_head(engine: Engine, shown_url: str) -> None:
    """Bring the database's schema to the newest revision, or refuse one migrated by a newer deploybench.

    Runs in one transaction: SQLite begins it IMMEDIATE (write lock held from the start), PostgreSQL
    takes an advisory lock first; either way a concurrent opener waits, then finds the work done.
    """
    with _ALEMBIC_LOCK, engine.connect() as connection:
        connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRESQL_LOCK_KEY})
            config = alembic_config(connection)
            known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
            unknown = current_revisions(connection) - known
            if unknown:
                raise StoreError(
                    f"the results store `{shown_url}` has schema revision {', '.join(sorted(unknown))}, "
                    f"newer than this deploybench knows (up to {head_revision()})",
                    hint="upgrade deploybench, or choose another store",
                )
            command.upgrade(config, "head")

"""A scratch PostgreSQL database for tests that need the real server: created uniquely, dropped afterwards,
skipped (or failed, when DEPLOYBENCH_REQUIRE_POSTGRES is set) when no server answers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get("DEPLOYBENCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
"""A PostgreSQL database the tests may connect to with AUTOCOMMIT to create and drop a scratch database."""


@contextmanager
def scratch_database() -> Iterator[str]:
    """URL of a uniquely named database, dropped when the block ends."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"deploybench_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc.orig}); start one to run these tests"
        if os.environ.get("DEPLOYBENCH_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

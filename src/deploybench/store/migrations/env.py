"""Alembic environment of the results store, run by `deploybench.store.migrate` on a live connection.

It never configures logging and never reads an alembic.ini: the caller passes the connection in
`config.attributes["connection"]` and owns its transaction.
"""

from __future__ import annotations

from alembic import context

from deploybench.store.schema import VERSION_TABLE, Base

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()

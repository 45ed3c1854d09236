"""Create the fits table: what `deploybench predict fit` learned (calibrated predictors, roofline
efficiencies, measured peaks), newest per kind and key.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `fits` and its index on kind and key."""
    op.create_table(
        "fits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deploybench_version", sa.String(64), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_fits_kind_key", "fits", ["kind", "key"])


def downgrade() -> None:
    """Drop `fits` and its index."""
    op.drop_index("ix_fits_kind_key", table_name="fits")
    op.drop_table("fits")

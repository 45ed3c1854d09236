"""Create the results table: one row per result, the record as JSON plus listing columns.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `results` and its indexes on job key and campaign."""
    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_key", sa.String(64), nullable=False),
        sa.Column("campaign", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("framework", sa.String(100), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("median_us", sa.Float(), nullable=True),
        sa.Column("record_json", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_results_job_key", "results", ["job_key"])
    op.create_index("ix_results_campaign", "results", ["campaign"])


def downgrade() -> None:
    """Drop `results` and its indexes."""
    op.drop_index("ix_results_campaign", table_name="results")
    op.drop_index("ix_results_job_key", table_name="results")
    op.drop_table("results")

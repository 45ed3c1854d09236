"""Create the dispatches table (jobs sent to remote targets, their state and result) and the agents table
(the boards' agents, what they run and when they were last heard from).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `dispatches` and `agents`."""
    op.create_table(
        "dispatches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("job_key", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False, index=True),
        sa.Column("campaign", sa.String(200), nullable=True),
        sa.Column("job_json", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "agents",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    """Drop `agents` and `dispatches`."""
    op.drop_table("agents")
    op.drop_table("dispatches")

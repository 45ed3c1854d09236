"""Create the analyses table: model anatomies and layer-compliance reports, found by the model's hash.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `analyses` and its index on the model's hash."""
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("model_path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deploybench_version", sa.String(64), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_analyses_model_sha256", "analyses", ["model_sha256"])


def downgrade() -> None:
    """Drop `analyses` and its index."""
    op.drop_index("ix_analyses_model_sha256", table_name="analyses")
    op.drop_table("analyses")

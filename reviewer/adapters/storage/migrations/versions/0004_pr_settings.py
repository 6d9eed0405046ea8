"""Per-PR settings (paused), per-repository ignored rules/fingerprints, incremental scope.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("reviews", sa.Column("incremental", postgresql.JSONB(), nullable=True))
    op.create_table(
        "pr_settings",
        sa.Column("repo", sa.Text(), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.Column("updated_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("repo", "pr_number", name="pk_pr_settings"),
    )
    op.create_table(
        "ignored_findings",
        sa.Column("repo", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("repo", "value", name="pk_ignored_findings"),
    )


def downgrade() -> None:
    op.drop_table("ignored_findings")
    op.drop_table("pr_settings")
    op.drop_column("reviews", "incremental")

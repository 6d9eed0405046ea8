"""The learning loop: feedback per posted finding (with a code embedding) and people's overrides.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("repo", sa.Text(), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.BigInteger(), nullable=True),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("team", sa.Text(), nullable=True),
        sa.Column("signal", sa.Text(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("embedding", Vector(384), nullable=True),
        sa.Column("occurred_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("retracted_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["review_id"], ["reviews.id"], name="fk_feedback_review_id_reviews", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("source_key", name="uq_feedback_source_key"),
    )
    op.create_index("ix_feedback_repo_rule", "feedback", ["repo", "rule"])
    op.create_index("ix_feedback_fingerprint", "feedback", ["fingerprint"])
    op.create_index("ix_feedback_occurred_at", "feedback", ["occurred_at"])
    op.create_index(
        "ix_feedback_embedding_hnsw", "feedback", ["embedding"],
        postgresql_using="hnsw", postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_table(
        "learning_overrides",
        sa.Column("repo", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("repo", "rule", name="pk_learning_overrides"),
    )


def downgrade() -> None:
    op.drop_table("learning_overrides")
    op.drop_index("ix_feedback_embedding_hnsw", table_name="feedback")
    op.drop_index("ix_feedback_occurred_at", table_name="feedback")
    op.drop_index("ix_feedback_fingerprint", table_name="feedback")
    op.drop_index("ix_feedback_repo_rule", table_name="feedback")
    op.drop_table("feedback")

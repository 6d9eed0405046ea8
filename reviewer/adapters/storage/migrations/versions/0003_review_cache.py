"""Similarity cache: per-unit LLM findings by hash, with a 384-dim embedding under an HNSW index.

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "review_cache",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("language", sa.String(32), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("findings", postgresql.JSONB(), nullable=False),
        sa.Column("embedding", Vector(384), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("last_hit_at", TZ, nullable=True),
        sa.Column("hits", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name="pk_review_cache"),
    )
    op.create_index("ix_review_cache_scope", "review_cache", ["agent", "language", "version"])
    op.create_index(
        "ix_review_cache_embedding_hnsw", "review_cache", ["embedding"],
        postgresql_using="hnsw", postgresql_ops={"embedding": "vector_cosine_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_review_cache_embedding_hnsw", table_name="review_cache")
    op.drop_index("ix_review_cache_scope", table_name="review_cache")
    op.drop_table("review_cache")

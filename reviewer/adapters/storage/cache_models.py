"""The ``review_cache`` table: per-unit LLM findings keyed by hash, with an embedding for near hits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from reviewer.adapters.storage.models import EMBEDDING_DIMENSIONS, Base


class ReviewCacheRow(Base):
    """What the LLM said about one unit of code (``reviewer.llm.cache.CacheEntry``).

    ``key_hash`` covers the normalised code, the agent and the version (prompt, model,
    ruleset), so an exact hit is one index probe; ``embedding`` (nullable: OpenAI may be
    down) serves near hits through the HNSW cosine index, filtered by agent, language and
    version so a hit never crosses a prompt or model change. ``findings`` hold lines relative
    to the unit's first line.
    """

    __tablename__ = "review_cache"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(200))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    embedding: Mapped[Any | None] = mapped_column(Vector(EMBEDDING_DIMENSIONS), nullable=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_hit_at: Mapped[datetime | None] = mapped_column(nullable=True)
    hits: Mapped[int] = mapped_column(server_default="0", default=0)

    __table_args__ = (
        Index("ix_review_cache_scope", "agent", "language", "version"),
        Index(
            "ix_review_cache_embedding_hnsw", "embedding",
            postgresql_using="hnsw", postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

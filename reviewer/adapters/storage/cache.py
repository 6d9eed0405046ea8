"""Queries of the similarity cache: exact lookup by hash, near lookup by cosine, store, prune."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert

from reviewer.adapters.storage.cache_models import ReviewCacheRow
from reviewer.adapters.storage.database import Database
from reviewer.llm.cache import CachedFinding, CacheEntry


class PgReviewCache:
    """``reviewer.llm.cache.CacheStore`` on Postgres + pgvector (HNSW, cosine distance)."""

    def __init__(self, database: Database, *, ef_search: int = 40) -> None:
        self._db = database
        self._ef_search = ef_search

    def exact(self, key_hash: str) -> CacheEntry | None:
        with self._db.session() as session:
            row = session.execute(
                update(ReviewCacheRow)
                .where(ReviewCacheRow.key_hash == key_hash)
                .values(hits=ReviewCacheRow.hits + 1, last_hit_at=datetime.now(UTC))
                .returning(ReviewCacheRow)
            ).scalar_one_or_none()
            return _entry(row) if row is not None else None

    def near(
        self, *, agent: str, language: str, version: str, embedding: Sequence[float], threshold: float
    ) -> CacheEntry | None:
        """The closest entry of the same agent, language and version if cosine ≥ ``threshold``."""
        distance = ReviewCacheRow.embedding.cosine_distance(list(embedding))
        with self._db.session() as session:
            # HNSW returns approximate neighbours; ef_search trades recall for speed.
            session.execute(text(f"SET LOCAL hnsw.ef_search = {int(self._ef_search)}"))
            row = session.execute(
                select(ReviewCacheRow, distance.label("distance"))
                .where(
                    ReviewCacheRow.agent == agent,
                    ReviewCacheRow.language == language,
                    ReviewCacheRow.version == version,
                    ReviewCacheRow.embedding.is_not(None),
                )
                .order_by(distance)
                .limit(1)
            ).first()
            if row is None or 1.0 - float(row.distance) < threshold:
                return None
            cached = row[0]
            cached.hits += 1
            cached.last_hit_at = datetime.now(UTC)
            return _entry(cached)

    def put(self, entry: CacheEntry) -> None:
        values = {
            "key_hash": entry.key_hash,
            "agent": entry.agent,
            "language": entry.language,
            "version": entry.version,
            "findings": [f.to_json() for f in entry.findings],
            "embedding": list(entry.embedding) if entry.embedding is not None else None,
        }
        statement = insert(ReviewCacheRow).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[ReviewCacheRow.key_hash],
            set_={"findings": statement.excluded.findings, "embedding": statement.excluded.embedding,
                  "created_at": datetime.now(UTC)},
        )
        with self._db.session() as session:
            session.execute(statement)

    def prune(self, *, older_than_days: int, keep_versions: Sequence[str] | None = None) -> int:
        """Delete entries created more than N days ago, and (if given) of any other version."""
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        condition = ReviewCacheRow.created_at < cutoff
        if keep_versions is not None:
            condition = condition | ReviewCacheRow.version.not_in(list(keep_versions))
        with self._db.session() as session:
            return session.execute(delete(ReviewCacheRow).where(condition)).rowcount or 0

    def count(self) -> int:
        with self._db.session() as session:
            return len(session.execute(select(ReviewCacheRow.key_hash)).all())


def _entry(row: ReviewCacheRow) -> CacheEntry:
    return CacheEntry(
        key_hash=row.key_hash, agent=row.agent, language=row.language, version=row.version,
        findings=tuple(CachedFinding.from_json(f) for f in row.findings),
        embedding=None,
    )

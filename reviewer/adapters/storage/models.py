"""The review service's tables as typed SQLAlchemy 2 models (the schema Alembic migrates to).

Statuses are Python ``StrEnum`` values stored as plain ``text``: adding a status is a code
change, not a schema migration. Domain payloads (snapshots, agent results, summaries) are
stored as JSONB dumps of their pydantic models, so the pydantic model stays the contract.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from reviewer.feedback import Signal, Verdict
from reviewer.findings import Category, Severity

#: The size of the local embedding model's vectors (all-MiniLM-L6-v2); also the similarity cache's.
EMBEDDING_DIMENSIONS = 384


class ReviewSource(StrEnum):
    GITHUB = "github"
    LOCAL = "local"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    # Behind the PR's running review (one running, one waiting; docs/architecture.md).
    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    POSTING = "posting"
    POSTED = "posted"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Reviews in these states may still do work; a closed PR cancels them.
OPEN_REVIEW_STATUSES: tuple[ReviewStatus, ...] = (
    ReviewStatus.PENDING,
    ReviewStatus.WAITING,
    ReviewStatus.QUEUED,
    ReviewStatus.RUNNING,
    ReviewStatus.POSTING,
)

# Reviews in these states are owned by the canvas; the sweeper re-dispatches them when stuck.
IN_FLIGHT_REVIEW_STATUSES: tuple[ReviewStatus, ...] = (
    ReviewStatus.QUEUED,
    ReviewStatus.RUNNING,
    ReviewStatus.POSTING,
)


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    ENQUEUED = "enqueued"
    IGNORED = "ignored"
    FAILED = "failed"


class PostedKind(StrEnum):
    REVIEW = "review"
    INLINE = "inline"
    BODY = "body"  # a finding listed in a review's body (over the inline cap), not inline
    SUMMARY = "summary"
    CHECK_RUN = "check_run"


class TextEnum[E: StrEnum](TypeDecorator[E]):
    """A ``StrEnum`` stored as its value in a ``text`` column (no native enum, no CHECK)."""

    impl = Text
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        # Validates plain strings too, so a typo fails here rather than in a later read.
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base: one metadata with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        str: Text,
    }


def _now() -> Any:
    return mapped_column(server_default=func.now())


class Review(Base):
    """One review run: of a PR at one head SHA (source github) or of a local diff."""

    __tablename__ = "reviews"
    __table_args__ = (
        # One review per head SHA: redeliveries and racing webhooks converge on one row.
        Index(
            "uq_reviews_github_head",
            "repo",
            "pr_number",
            "head_sha",
            unique=True,
            postgresql_where=text("source = 'github'"),
        ),
        Index("ix_reviews_status_updated_at", "status", "updated_at"),
        Index("ix_reviews_repo_pr_number", "repo", "pr_number"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[ReviewSource] = mapped_column(TextEnum(ReviewSource))
    repo: Mapped[str]
    pr_number: Mapped[int | None]
    head_sha: Mapped[str | None]
    base_sha: Mapped[str | None]
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    trigger: Mapped[str]
    status: Mapped[ReviewStatus] = mapped_column(
        TextEnum(ReviewStatus), server_default=ReviewStatus.PENDING.value
    )
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]
    dispatch_attempts: Mapped[int] = mapped_column(server_default=text("0"))
    error: Mapped[str | None]
    github_review_id: Mapped[int | None] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any] | None]
    # An incremental run's scope (``reviewer.incremental.IncrementalScope``); None = full.
    incremental: Mapped[dict[str, Any] | None]


class Delivery(Base):
    """One webhook delivery, keyed by ``X-GitHub-Delivery`` so redeliveries are recognised."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_received_at", "status", "received_at"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    event: Mapped[str]
    action: Mapped[str | None]
    repo: Mapped[str | None]
    pr_number: Mapped[int | None]
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[DeliveryStatus] = mapped_column(
        TextEnum(DeliveryStatus), server_default=DeliveryStatus.RECEIVED.value
    )
    reason: Mapped[str | None]
    review_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("reviews.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime] = _now()
    enqueued_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    # A command delivery's ``reviewer.commands.CommandRequest`` (JSON), kept so that the
    # sweeper can send it again after the broker refused it; None for other deliveries.
    command: Mapped[dict[str, Any] | None]


class Snapshot(Base):
    """The pull request content a review looked at, stored once and read by review id."""

    __tablename__ = "snapshots"

    review_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = _now()


class AgentRun(Base):
    """One agent's result for one review; a redelivered agent task overwrites its own row."""

    __tablename__ = "agent_runs"
    __table_args__ = (UniqueConstraint("review_id", "agent"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    review_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("reviews.id", ondelete="CASCADE"))
    agent: Mapped[str]
    status: Mapped[str]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float] = mapped_column(Float, server_default=text("0"))
    error: Mapped[str | None]
    tokens: Mapped[int] = mapped_column(server_default=text("0"))
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), server_default=text("0"))
    cache_hits: Mapped[int] = mapped_column(server_default=text("0"))
    mode: Mapped[str | None]
    result: Mapped[dict[str, Any] | None]


class FindingRow(Base):
    """One finding of one review (the ``Finding`` contract, flattened for queries)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("review_id", "fingerprint"),
        Index("ix_findings_fingerprint", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    review_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("reviews.id", ondelete="CASCADE"))
    agent: Mapped[str]
    path: Mapped[str]
    line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[Category] = mapped_column(TextEnum(Category))
    severity: Mapped[Severity] = mapped_column(TextEnum(Severity))
    rule: Mapped[str]
    cwe: Mapped[str | None]
    message: Mapped[str]
    confidence: Mapped[float] = mapped_column(Float)
    suggestion: Mapped[str | None]
    source: Mapped[str]
    fingerprint: Mapped[str]


class PostedComment(Base):
    """Something the bot posted on a PR, so a retried post never posts it twice."""

    __tablename__ = "posted_comments"
    __table_args__ = (UniqueConstraint("repo", "pr_number", "kind", "fingerprint"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No cascade: this row records what exists on GitHub, whatever happens to the review.
    review_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("reviews.id"))
    repo: Mapped[str]
    pr_number: Mapped[int]
    fingerprint: Mapped[str]
    kind: Mapped[PostedKind] = mapped_column(TextEnum(PostedKind))
    github_id: Mapped[int | None] = mapped_column(BigInteger)
    path: Mapped[str | None]
    line: Mapped[int | None]
    posted_at: Mapped[datetime] = _now()


class PullRequestSettings(Base):
    """Per-PR switches set by commands in PR comments (``/reviewer pause``)."""

    __tablename__ = "pr_settings"

    repo: Mapped[str] = mapped_column(primary_key=True)
    pr_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_by: Mapped[str | None]
    updated_at: Mapped[datetime] = _now()


class IgnoredFinding(Base):
    """A rule name or finding fingerprint a repository asked never to be reported again."""

    __tablename__ = "ignored_findings"

    repo: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(primary_key=True)
    created_by: Mapped[str | None]
    created_at: Mapped[datetime] = _now()


class FeedbackRow(Base):
    """One verdict on one posted finding (``reviewer.feedback.FeedbackItem``), with the code it
    was about and that code's embedding, so similar code can find it again.

    ``source_key`` names the GitHub object the signal came from: a redelivered webhook or a
    re-polled reaction lands on the same row. A retracted signal (reaction removed, thread
    unresolved) keeps its row with ``retracted_at`` set, so the history stays inspectable.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("source_key"),
        Index("ix_feedback_repo_rule", "repo", "rule"),
        Index("ix_feedback_fingerprint", "fingerprint"),
        Index("ix_feedback_occurred_at", "occurred_at"),
        Index(
            "ix_feedback_embedding_hnsw", "embedding",
            postgresql_using="hnsw", postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    repo: Mapped[str]
    pr_number: Mapped[int] = mapped_column(Integer)
    # The review that posted the finding (kept when that review row is deleted).
    review_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("reviews.id", ondelete="SET NULL")
    )
    fingerprint: Mapped[str]
    rule: Mapped[str]
    agent: Mapped[str]
    category: Mapped[Category] = mapped_column(TextEnum(Category))
    severity: Mapped[Severity] = mapped_column(TextEnum(Severity))
    path: Mapped[str]
    team: Mapped[str | None]
    signal: Mapped[Signal] = mapped_column(TextEnum(Signal))
    verdict: Mapped[Verdict] = mapped_column(TextEnum(Verdict))
    source_key: Mapped[str]
    actor: Mapped[str | None]
    reason: Mapped[str | None]
    # The finding's lines with a little context, and their embedding (None when no model ran).
    code: Mapped[str | None]
    embedding: Mapped[Any | None] = mapped_column(Vector(EMBEDDING_DIMENSIONS), nullable=True)
    occurred_at: Mapped[datetime] = _now()
    created_at: Mapped[datetime] = _now()
    retracted_at: Mapped[datetime | None]


class LearningOverrideAction(StrEnum):
    KEEP = "keep"  # never suppress this rule here, whatever the feedback says (an undo)
    SUPPRESS = "suppress"  # suppressed by a person, not by the feedback counts


class LearningOverride(Base):
    """A person's decision about what the learning loop does with one rule in one repository."""

    __tablename__ = "learning_overrides"

    repo: Mapped[str] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(primary_key=True)
    action: Mapped[LearningOverrideAction] = mapped_column(TextEnum(LearningOverrideAction))
    reason: Mapped[str | None]
    created_by: Mapped[str | None]
    created_at: Mapped[datetime] = _now()

"""Queries of the learning loop's use: nearest past feedback, votes for the rates, the run record.

Beside ``feedback`` (which records signals), these read them back for ``reviewer.learning``.
Each takes the caller's Session and never commits.

Similarity here is exact, not approximate: candidates are narrowed by the btree index to one
repository and rule (or agent) first, in a MATERIALIZED CTE, and only those are ranked by
cosine distance. The HNSW index would rank the whole table and filter afterwards, which can
return nothing when the repository's rows are not among the first ``ef_search`` neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB, distinct_on
from sqlalchemy.orm import Session

from reviewer.adapters.storage.models import FeedbackRow, FindingRow, Review
from reviewer.feedback import Verdict
from reviewer.learning import PastFeedback

NEGATIVE = (Verdict.REJECTED, Verdict.DISMISSED)


def rules_with_rejections(s: Session, repo: str) -> set[str]:
    """Rules of ``repo`` with a rejected or dismissed finding whose code has an embedding:
    only findings of these rules need embedding at all."""
    return set(
        s.scalars(
            select(FeedbackRow.rule)
            .distinct()
            .where(
                FeedbackRow.repo == repo,
                FeedbackRow.verdict.in_(NEGATIVE),
                FeedbackRow.retracted_at.is_(None),
                FeedbackRow.embedding.is_not(None),
            )
        )
    )


def has_feedback(s: Session, repo: str, agent: str) -> bool:
    """Whether ``agent``'s findings in ``repo`` ever got a verdict with an embedding (a cheap
    check before embedding a whole pull request for few-shot examples)."""
    return s.scalar(
        select(FeedbackRow.id)
        .where(
            FeedbackRow.repo == repo, FeedbackRow.agent == agent,
            FeedbackRow.retracted_at.is_(None), FeedbackRow.embedding.is_not(None),
        )
        .limit(1)
    ) is not None


def _ranked(s: Session, where: Sequence[Any], embedding: Sequence[float], limit: int):
    candidates = (
        select(FeedbackRow)
        .where(FeedbackRow.retracted_at.is_(None), FeedbackRow.embedding.is_not(None), *where)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    distance = candidates.c.embedding.cosine_distance(list(embedding))
    return s.execute(
        select(candidates, (1 - distance).label("similarity")).order_by(distance).limit(limit)
    ).mappings()


def similar_feedback(
    s: Session, *, repo: str, rule: str, embedding: Sequence[float], limit: int = 5
) -> list[PastFeedback]:
    """The ``limit`` past verdicts in ``repo`` on ``rule`` whose code is nearest to ``embedding``."""
    rows = _ranked(s, [FeedbackRow.repo == repo, FeedbackRow.rule == rule], embedding, limit)
    return [_past(row) for row in rows]


def nearest_examples(
    s: Session, *, repo: str, agent: str, embedding: Sequence[float], limit: int = 4
) -> list[tuple[PastFeedback, str]]:
    """Few-shot material: the nearest past verdicts of ``agent`` in ``repo`` (one per finding),
    each with the finding's message."""
    rows = list(
        _ranked(s, [FeedbackRow.repo == repo, FeedbackRow.agent == agent], embedding, limit * 3)
    )
    seen: set[str] = set()
    picked = []
    for row in rows:
        if row["fingerprint"] in seen:
            continue
        seen.add(row["fingerprint"])
        picked.append(row)
        if len(picked) == limit:
            break
    messages = _messages(s, [(row["review_id"], row["fingerprint"]) for row in picked])
    return [(_past(row), messages.get((row["review_id"], row["fingerprint"]), "")) for row in picked]


def _messages(s: Session, keys: Iterable[tuple[int | None, str]]) -> dict[tuple[int, str], str]:
    wanted = [(r, f) for r, f in keys if r is not None]
    if not wanted:
        return {}
    rows = s.execute(
        select(FindingRow.review_id, FindingRow.fingerprint, FindingRow.message).where(
            tuple_(FindingRow.review_id, FindingRow.fingerprint).in_(wanted)
        )
    )
    return {(r, f): m for r, f, m in rows}


def _past(row) -> PastFeedback:
    return PastFeedback(
        id=row["id"],
        rule=row["rule"],
        verdict=Verdict(row["verdict"]),
        similarity=float(row["similarity"]),
        pr_number=row["pr_number"],
        path=row["path"],
        actor=row["actor"],
        reason=row["reason"],
        occurred_at=row["occurred_at"],
        code=row["code"],
    )


# --- votes, for the acceptance and false-positive rates -------------------------------------


@dataclass(frozen=True)
class Vote:
    """One person's verdict on one finding (several signals of the same verdict count once)."""

    repo: str
    rule: str
    agent: str
    team: str | None
    verdict: Verdict
    occurred_at: datetime


def votes(
    s: Session, start: datetime, end: datetime, repos: Sequence[str] | None = None
) -> list[Vote]:
    """Verdicts given in ``[start, end)``, retracted ones excluded, one per person, finding and
    verdict (as ``feedback.rule_verdicts`` counts them)."""
    statement = (
        select(
            FeedbackRow.repo, FeedbackRow.rule, FeedbackRow.agent, FeedbackRow.team,
            FeedbackRow.verdict, FeedbackRow.occurred_at,
        )
        .where(
            FeedbackRow.retracted_at.is_(None),
            FeedbackRow.occurred_at >= start,
            FeedbackRow.occurred_at < end,
        )
        .ext(distinct_on(FeedbackRow.repo, FeedbackRow.fingerprint, FeedbackRow.actor, FeedbackRow.verdict))
        .order_by(
            FeedbackRow.repo, FeedbackRow.fingerprint, FeedbackRow.actor, FeedbackRow.verdict,
            FeedbackRow.occurred_at,
        )
    )
    if repos is not None:
        statement = statement.where(FeedbackRow.repo.in_(list(repos)))
    return [Vote(*row) for row in s.execute(statement)]


@dataclass(frozen=True)
class FeedbackListing:
    """One recent feedback item, for the dashboard's learning page."""

    id: int
    repo: str
    pr_number: int
    rule: str
    agent: str
    path: str
    signal: str
    verdict: str
    actor: str | None
    reason: str | None
    occurred_at: datetime
    retracted: bool


def recent_feedback(s: Session, *, repo: str | None = None, limit: int = 30) -> list[FeedbackListing]:
    statement = select(FeedbackRow).order_by(FeedbackRow.occurred_at.desc(), FeedbackRow.id.desc()).limit(limit)
    if repo is not None:
        statement = statement.where(FeedbackRow.repo == repo)
    return [
        FeedbackListing(
            r.id, r.repo, r.pr_number, r.rule, r.agent, r.path, str(r.signal), str(r.verdict),
            r.actor, r.reason, r.occurred_at, r.retracted_at is not None,
        )
        for r in s.scalars(statement)
    ]


def feedback_repos(s: Session) -> list[str]:
    """Every repository with feedback or an override."""
    from reviewer.adapters.storage.models import LearningOverride

    names = set(s.scalars(select(FeedbackRow.repo).distinct()))
    names |= set(s.scalars(select(LearningOverride.repo).distinct()))
    return sorted(names)


# --- the review's run record ----------------------------------------------------------------

RECORD_KEY = "learning"


def save_learning_record(s: Session, review_id: int, record: dict[str, Any]) -> None:
    """Store what learning held back or lowered in the review's run record (``summary``),
    beside whatever else the summary holds."""
    entry = literal({RECORD_KEY: record}, JSONB)
    s.execute(
        update(Review)
        .where(Review.id == review_id)
        .values(summary=func.coalesce(Review.summary, literal({}, JSONB)).op("||")(entry))
        .execution_options(synchronize_session=False)
    )


def learning_record(review: Review | None) -> dict[str, Any]:
    """The stored learning record of a review ({} when there is none)."""
    if review is None or not isinstance(review.summary, dict):
        return {}
    record = review.summary.get(RECORD_KEY)
    return record if isinstance(record, dict) else {}


@dataclass(frozen=True)
class HeldBackListing:
    review_id: int
    pr_number: int | None
    created_at: datetime
    item: dict[str, Any]


def recent_held_back(s: Session, repo: str, *, reviews: int = 30) -> list[HeldBackListing]:
    """What learning held back in the repository's latest reviews, newest first."""
    record = Review.summary[RECORD_KEY]
    rows = s.execute(
        select(Review.id, Review.pr_number, Review.created_at, record["held_back"])
        .where(Review.repo == repo, Review.summary.has_key(RECORD_KEY))
        .order_by(Review.id.desc())
        .limit(reviews)
    )
    return [
        HeldBackListing(review_id, number, created, item)
        for review_id, number, created, items in rows
        for item in (items or [])
        if isinstance(item, dict)
    ]


def latest_config_files(s: Session, repo: str) -> dict[str, str]:
    """The configuration files of the repository's latest stored snapshot (its base branch's
    ``.reviewer.toml`` among them), for pages that show the learning settings in effect."""
    from reviewer.adapters.storage.models import Snapshot

    files = s.scalar(
        select(Snapshot.data["config_files"])
        .join(Review, Review.id == Snapshot.review_id)
        .where(Review.repo == repo)
        .order_by(Review.id.desc())
        .limit(1)
    )
    return {k: v for k, v in files.items() if isinstance(v, str)} if isinstance(files, dict) else {}

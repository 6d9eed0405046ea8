"""Queries of the learning loop: feedback items, the counts that drive suppression, overrides.

Like ``repositories``: each function takes the caller's Session and never commits, and every
write is idempotent on a natural key (a feedback item's ``source_key``; (repo, rule) for an
override), because webhooks and polls deliver the same signal more than once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from reviewer.adapters.storage.models import (
    FeedbackRow,
    FindingRow,
    LearningOverride,
    LearningOverrideAction,
    PostedComment,
    PostedKind,
    Review,
)
from reviewer.feedback import FeedbackItem, Verdict


def posted_finding(s: Session, repo: str, pr_number: int, fingerprint: str) -> FindingRow | None:
    """The finding the bot posted inline on the PR under ``fingerprint`` (the latest such row),
    or None when the bot never posted it there (then a signal about it is not ours to count)."""
    return s.scalars(
        select(FindingRow)
        .join(PostedComment, PostedComment.review_id == FindingRow.review_id)
        .where(
            PostedComment.repo == repo,
            PostedComment.pr_number == pr_number,
            PostedComment.kind == PostedKind.INLINE,
            PostedComment.fingerprint == fingerprint,
            FindingRow.fingerprint == fingerprint,
        )
        .order_by(FindingRow.id.desc())
        .limit(1)
    ).first()


def record_feedback(
    s: Session,
    item: FeedbackItem,
    finding: FindingRow,
    *,
    team: str | None = None,
    code: str | None = None,
    embedding: Sequence[float] | None = None,
    reinstate: bool = False,
) -> bool:
    """Store one verdict about ``finding``; False when its ``source_key`` was already stored.

    With ``reinstate``, a stored but retracted signal of that key (a thread resolved again
    after being unresolved) comes back with this item's verdict; a live one is left alone.
    """
    values = {
        "repo": item.repo,
        "pr_number": item.pr_number,
        "review_id": finding.review_id,
        "fingerprint": item.fingerprint,
        "rule": finding.rule,
        "agent": finding.agent,
        "category": finding.category,
        "severity": finding.severity,
        "path": finding.path,
        "team": team,
        "signal": item.signal,
        "verdict": item.verdict,
        "source_key": item.source_key,
        "actor": item.actor,
        "reason": item.reason,
        "code": code,
        "embedding": list(embedding) if embedding is not None else None,
    }
    if item.occurred_at is not None:
        values["occurred_at"] = item.occurred_at
    statement = pg_insert(FeedbackRow).values(**values)
    if reinstate:
        statement = statement.on_conflict_do_update(
            index_elements=[FeedbackRow.source_key],
            set_={
                **{k: statement.excluded[k] for k in ("signal", "verdict", "actor", "reason")},
                "occurred_at": values.get("occurred_at", func.now()),
                "retracted_at": None,
            },
            where=FeedbackRow.retracted_at.is_not(None),
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[FeedbackRow.source_key])
    inserted = s.scalars(statement.returning(FeedbackRow.id)).first()
    return inserted is not None


@dataclass(frozen=True)
class PostedSuggestion:
    """A finding the bot posted inline with a suggestion, and the head it was reviewed at."""

    review_id: int
    head_sha: str
    fingerprint: str
    path: str
    line: int
    end_line: int | None
    suggestion: str


def posted_suggestions(s: Session, repo: str, pr_number: int, *, limit: int = 200) -> list[PostedSuggestion]:
    """The PR's posted inline findings with a suggestion whose application is not yet recorded."""
    already = select(FeedbackRow.id).where(
        FeedbackRow.source_key == func.concat("applied:", FindingRow.review_id, ":", FindingRow.fingerprint)
    )
    rows = s.execute(
        select(FindingRow, Review.head_sha)
        .join(PostedComment, PostedComment.review_id == FindingRow.review_id)
        .join(Review, Review.id == FindingRow.review_id)
        .where(
            PostedComment.repo == repo,
            PostedComment.pr_number == pr_number,
            PostedComment.kind == PostedKind.INLINE,
            PostedComment.fingerprint == FindingRow.fingerprint,
            FindingRow.suggestion.is_not(None),
            Review.head_sha.is_not(None),
            ~already.exists(),
        )
        .order_by(FindingRow.id)
        .limit(limit)
    )
    return [
        PostedSuggestion(f.review_id, head, f.fingerprint, f.path, f.line, f.end_line, f.suggestion)
        for f, head in rows
    ]


@dataclass(frozen=True)
class CommentedPull:
    repo: str
    pr_number: int
    installation_id: int | None


def recently_commented_pulls(s: Session, *, since: datetime, limit: int = 500) -> list[CommentedPull]:
    """Pull requests on which the bot posted inline comments since ``since``, newest first:
    the ones whose comments may be collecting reactions."""
    rows = s.execute(
        select(PostedComment.repo, PostedComment.pr_number, func.max(Review.installation_id))
        .join(Review, Review.id == PostedComment.review_id)
        .where(PostedComment.kind == PostedKind.INLINE, PostedComment.posted_at >= since)
        .group_by(PostedComment.repo, PostedComment.pr_number)
        .order_by(func.max(PostedComment.posted_at).desc())
        .limit(limit)
    )
    return [CommentedPull(repo, number, installation) for repo, number, installation in rows]


def retract_feedback(s: Session, source_key: str) -> bool:
    """Mark a signal withdrawn (a reaction removed, a thread unresolved); whether one was."""
    result = s.execute(
        update(FeedbackRow)
        .where(FeedbackRow.source_key == source_key, FeedbackRow.retracted_at.is_(None))
        .values(retracted_at=func.now())
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class RuleVerdicts:
    """How often one rule was accepted, rejected and dismissed in one repository."""

    repo: str
    rule: str
    accepted: int = 0
    rejected: int = 0
    dismissed: int = 0
    last_at: datetime | None = None
    first_at: datetime | None = None


def rule_verdicts(
    s: Session, *, repo: str | None = None, since: datetime | None = None
) -> list[RuleVerdicts]:
    """Per (repository, rule): counts of each verdict over signals not retracted.

    One person's several signals on one finding count once per verdict (a 👎 and a
    ``/reviewer reject`` by the same developer are one rejection, not two).
    """
    distinct = (
        select(FeedbackRow.repo, FeedbackRow.rule, FeedbackRow.verdict, FeedbackRow.occurred_at)
        .where(FeedbackRow.retracted_at.is_(None))
        .ext(distinct_on(FeedbackRow.repo, FeedbackRow.fingerprint, FeedbackRow.actor, FeedbackRow.verdict))
        .order_by(FeedbackRow.repo, FeedbackRow.fingerprint, FeedbackRow.actor, FeedbackRow.verdict)
    )
    if repo is not None:
        distinct = distinct.where(FeedbackRow.repo == repo)
    if since is not None:
        distinct = distinct.where(FeedbackRow.occurred_at >= since)
    sub = distinct.subquery()
    rows = s.execute(
        select(
            sub.c.repo, sub.c.rule, sub.c.verdict, func.count(), func.max(sub.c.occurred_at),
            func.min(sub.c.occurred_at),
        )
        .group_by(sub.c.repo, sub.c.rule, sub.c.verdict)
        .order_by(sub.c.repo, sub.c.rule)
    )
    merged: dict[tuple[str, str], RuleVerdicts] = {}
    for repo_name, rule, verdict, count, last_at, first_at in rows:
        key = (repo_name, rule)
        current = merged.get(key, RuleVerdicts(repo_name, rule))
        field = Verdict(verdict).value
        latest = max(filter(None, (current.last_at, last_at)), default=None)
        earliest = min(filter(None, (current.first_at, first_at)), default=None)
        merged[key] = RuleVerdicts(
            **{
                **current.__dict__, field: getattr(current, field) + count,
                "last_at": latest, "first_at": earliest,
            }
        )
    return list(merged.values())


# --- overrides ----------------------------------------------------------------------------


def overrides(s: Session, repo: str) -> dict[str, LearningOverride]:
    """The repository's overrides by rule."""
    rows = s.scalars(select(LearningOverride).where(LearningOverride.repo == repo))
    return {row.rule: row for row in rows}


def set_override(
    s: Session,
    repo: str,
    rule: str,
    action: LearningOverrideAction,
    *,
    by: str | None = None,
    reason: str | None = None,
) -> None:
    """Set (or replace) what a person decided for ``rule`` in ``repo``."""
    statement = pg_insert(LearningOverride).values(
        repo=repo, rule=rule, action=action, created_by=by, reason=reason
    )
    s.execute(
        statement.on_conflict_do_update(
            index_elements=[LearningOverride.repo, LearningOverride.rule],
            set_={
                "action": statement.excluded.action,
                "created_by": statement.excluded.created_by,
                "reason": statement.excluded.reason,
                "created_at": func.now(),
            },
        )
    )


def clear_override(s: Session, repo: str, rule: str) -> bool:
    """Remove a person's decision, handing the rule back to the feedback counts."""
    result = s.execute(
        delete(LearningOverride).where(LearningOverride.repo == repo, LearningOverride.rule == rule)
    )
    return bool(result.rowcount)

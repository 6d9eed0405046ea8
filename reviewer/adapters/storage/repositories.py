"""Queries on review state. Each takes the caller's Session and never commits.

Delivery is at least once, so every write here is idempotent: inserts use
``ON CONFLICT`` on the natural key (delivery id, head SHA, (review, agent), fingerprint)
instead of read-then-write, which stays correct when duplicates race in parallel.
Timestamps come from the database clock (``now()``), one clock for every web and worker host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal, null, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from reviewer.adapters.storage.models import (
    IN_FLIGHT_REVIEW_STATUSES,
    OPEN_REVIEW_STATUSES,
    AgentRun,
    Delivery,
    DeliveryStatus,
    FindingRow,
    Review,
    ReviewSource,
    ReviewStatus,
    Snapshot,
)

# What the bot posted and the per-PR switches live in ``pull_requests``; re-exported here so
# callers keep one ``repositories`` namespace for review state.
from reviewer.adapters.storage.pull_requests import (  # noqa: F401 - re-exported
    add_ignored,
    ignored_values,
    is_paused,
    lock_pull_request,
    posted_fingerprints,
    posted_github_id,
    record_posted,
    remember_posted_id,
    reported_fingerprints,
    set_paused,
)
from reviewer.findings import Finding
from reviewer.payloads import AgentResult, AgentStatus
from reviewer.snapshot import PullRequestSnapshot

# The timestamp a status change stamps (besides updated_at).
_STATUS_TIMESTAMP: dict[ReviewStatus, str] = {
    ReviewStatus.QUEUED: "queued_at",
    ReviewStatus.RUNNING: "started_at",
    ReviewStatus.POSTED: "posted_at",
    ReviewStatus.COMPLETED: "finished_at",
    ReviewStatus.FAILED: "finished_at",
    ReviewStatus.CANCELLED: "finished_at",
}

# A review in one of these states does no more work.
_FINISHED_STATUSES = (
    ReviewStatus.POSTED, ReviewStatus.COMPLETED, ReviewStatus.FAILED, ReviewStatus.CANCELLED,
)

# Must match the predicate of the partial index uq_reviews_github_head, literally.
_GITHUB_ONLY = text("source = 'github'")


# --- deliveries ---------------------------------------------------------------------------


def record_delivery(
    s: Session,
    *,
    delivery_id: str,
    event: str,
    action: str | None,
    repo: str | None,
    pr_number: int | None,
    installation_id: int | None,
    command: dict[str, Any] | None = None,
) -> tuple[Delivery, bool]:
    """The delivery row for ``delivery_id`` and whether this call created it (``command``:
    a command delivery's request, kept for the sweeper)."""
    inserted = s.execute(
        pg_insert(Delivery)
        .values(
            id=delivery_id,
            event=event,
            action=action,
            repo=repo,
            pr_number=pr_number,
            installation_id=installation_id,
            status=DeliveryStatus.RECEIVED,
            # SQL NULL, not JSON null, when there is no command (the sweeper tests IS NOT NULL)
            command=command if command is not None else null(),
        )
        .on_conflict_do_nothing(index_elements=[Delivery.id])
        .returning(Delivery.id)
    ).scalar_one_or_none()
    delivery = s.execute(
        select(Delivery).where(Delivery.id == delivery_id).execution_options(populate_existing=True)
    ).scalar_one()
    return delivery, inserted is not None


def mark_delivery(
    s: Session,
    delivery_id: str,
    status: DeliveryStatus,
    *,
    review_id: int | None = None,
    reason: str | None = None,
) -> None:
    """Move a delivery to ``status``; ``enqueued`` stamps enqueued_at and counts an attempt."""
    status = DeliveryStatus(status)
    values: dict[str, Any] = {"status": status}
    if review_id is not None:
        values["review_id"] = review_id
    if reason is not None:
        values["reason"] = reason
    if status is DeliveryStatus.ENQUEUED:
        values["enqueued_at"] = func.now()
        values["attempts"] = Delivery.attempts + 1
    _update(s, Delivery, Delivery.id == delivery_id, values)


def note_delivery_attempt(s: Session, delivery_id: str, *, reason: str | None = None) -> None:
    """Count a failed attempt to enqueue (status stays ``received``, so it is resent later)."""
    values: dict[str, Any] = {"attempts": Delivery.attempts + 1}
    if reason is not None:
        values["reason"] = reason
    _update(s, Delivery, Delivery.id == delivery_id, values)


def deliveries_to_resend(
    s: Session, *, older_than: datetime, max_attempts: int, limit: int = 100
) -> list[Delivery]:
    """Deliveries that got a review (or carry a command) but never reached the broker, oldest first."""
    return list(
        s.scalars(
            select(Delivery)
            .where(
                Delivery.status == DeliveryStatus.RECEIVED,
                or_(Delivery.review_id.is_not(None), Delivery.command.is_not(None)),
                Delivery.received_at < older_than,
                Delivery.attempts < max_attempts,
            )
            .order_by(Delivery.received_at, Delivery.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    )


# --- reviews ------------------------------------------------------------------------------


def get_or_create_review(
    s: Session,
    *,
    source: ReviewSource | str,
    repo: str,
    pr_number: int | None,
    head_sha: str | None,
    base_sha: str | None,
    installation_id: int | None,
    trigger: str,
) -> tuple[Review, bool]:
    """The review for this head SHA (github) or a new one (local), and whether it was created.

    A GitHub review needs ``pr_number`` and ``head_sha``: they are its identity.
    """
    source = ReviewSource(source)
    statement = pg_insert(Review).values(
        source=source,
        repo=repo,
        pr_number=pr_number,
        head_sha=head_sha,
        base_sha=base_sha,
        installation_id=installation_id,
        trigger=trigger,
        status=ReviewStatus.PENDING,
    )
    if source is ReviewSource.LOCAL:
        return s.scalars(statement.returning(Review)).one(), True
    if pr_number is None or not head_sha:
        raise ValueError("a github review needs pr_number and head_sha")
    created = s.scalars(
        statement.on_conflict_do_nothing(
            index_elements=[Review.repo, Review.pr_number, Review.head_sha],
            index_where=_GITHUB_ONLY,
        ).returning(Review)
    ).one_or_none()
    if created is not None:
        return created, True
    existing = s.execute(
        select(Review)
        .where(
            Review.source == ReviewSource.GITHUB,
            Review.repo == repo,
            Review.pr_number == pr_number,
            Review.head_sha == head_sha,
        )
        .execution_options(populate_existing=True)
    ).scalar_one()
    return existing, False


def get_review(s: Session, review_id: int) -> Review | None:
    return s.get(Review, review_id, populate_existing=True)


def lock_review(s: Session, review_id: int) -> Review | None:
    """The review, row-locked until the caller's transaction ends (SELECT ... FOR UPDATE)."""
    return s.get(Review, review_id, with_for_update=True, populate_existing=True)


def set_review_status(
    s: Session, review_id: int, status: ReviewStatus, *, error: str | None = None
) -> None:
    """Set the status, stamping updated_at and the status's own timestamp; keep any old error."""
    status = ReviewStatus(status)
    values: dict[str, Any] = {"status": status, "updated_at": func.now()}
    stamp = _STATUS_TIMESTAMP.get(status)
    if stamp is not None:
        values[stamp] = func.now()
    if error is not None:
        values["error"] = error
    _update(s, Review, Review.id == review_id, values)


def note_dispatch(s: Session, review_id: int) -> None:
    """Record one more dispatch of the canvas for this review (the sweeper's budget).

    A review that finished meanwhile (e.g. replaced by a newer push) stays finished.
    """
    _update(
        s,
        Review,
        (Review.id == review_id) & Review.status.not_in(_FINISHED_STATUSES),
        {
            "status": ReviewStatus.QUEUED,
            "dispatch_attempts": Review.dispatch_attempts + 1,
            "queued_at": func.now(),
            "updated_at": func.now(),
        },
    )


def stuck_reviews(
    s: Session, *, older_than: datetime, max_attempts: int, limit: int = 100
) -> list[Review]:
    """GitHub reviews in flight with no progress since ``older_than``, oldest first."""
    return list(
        s.scalars(
            select(Review)
            .where(
                Review.source == ReviewSource.GITHUB,
                Review.status.in_(IN_FLIGHT_REVIEW_STATUSES),
                Review.updated_at < older_than,
                Review.dispatch_attempts < max_attempts,
            )
            .order_by(Review.updated_at, Review.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    )


def cancel_open_reviews(
    s: Session, repo: str, pr_number: int, *, except_review: int | None = None, reason: str | None = None
) -> int:
    """Cancel the PR's reviews that may still do work (all but ``except_review``, the run that
    supersedes them); how many were cancelled."""
    where = (
        (Review.repo == repo)
        & (Review.pr_number == pr_number)
        & Review.status.in_(OPEN_REVIEW_STATUSES)
    )
    if except_review is not None:
        where = where & (Review.id != except_review)
    values: dict[str, Any] = {
        "status": ReviewStatus.CANCELLED, "finished_at": func.now(), "updated_at": func.now()
    }
    if reason is not None:
        values["error"] = reason
    return _update(s, Review, where, values)


def latest_review(
    s: Session,
    repo: str,
    pr_number: int,
    *,
    statuses: Iterable[ReviewStatus] = (ReviewStatus.POSTED, ReviewStatus.COMPLETED),
) -> Review | None:
    """The PR's newest GitHub review in one of ``statuses`` (the base for incremental runs)."""
    return s.scalars(
        select(Review)
        .where(
            Review.source == ReviewSource.GITHUB,
            Review.repo == repo,
            Review.pr_number == pr_number,
            Review.status.in_(list(statuses)),
        )
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(1)
    ).one_or_none()


def record_github_review(s: Session, review_id: int, github_review_id: int) -> None:
    """Remember the id GitHub gave the posted review."""
    _update(
        s,
        Review,
        Review.id == review_id,
        {"github_review_id": github_review_id, "updated_at": func.now()},
    )


def save_summary(s: Session, review_id: int, summary: dict[str, Any]) -> None:
    """Set the summary's keys; keys stored earlier by other steps (``learning``) stay."""
    merged = func.coalesce(Review.summary, literal({}, JSONB)).op("||")(literal(summary, JSONB))
    _update(s, Review, Review.id == review_id, {"summary": merged, "updated_at": func.now()})


# --- snapshots and agent results ----------------------------------------------------------


def save_snapshot(s: Session, review_id: int, snapshot: PullRequestSnapshot) -> None:
    """Store (or replace) what the review looks at."""
    statement = pg_insert(Snapshot).values(
        review_id=review_id, data=snapshot.model_dump(mode="json")
    )
    s.execute(
        statement.on_conflict_do_update(
            index_elements=[Snapshot.review_id],
            set_={"data": statement.excluded.data, "created_at": func.now()},
        )
    )


def load_snapshot(s: Session, review_id: int) -> PullRequestSnapshot | None:
    data = s.scalar(select(Snapshot.data).where(Snapshot.review_id == review_id))
    return None if data is None else PullRequestSnapshot.model_validate(data)


def save_agent_result(
    s: Session, review_id: int, result: AgentResult, *, started_at: datetime | None = None
) -> None:
    """Store one agent's result; a redelivered task's failure never replaces a success."""
    values: dict[str, Any] = {
        "status": AgentStatus(result.status).value,
        "finished_at": func.now(),
        "duration_s": result.duration_s,
        "error": result.error,
        "tokens": result.tokens,
        "cost_usd": Decimal(str(result.cost_usd)),
        "cache_hits": result.cache_hits,
        "mode": result.mode,
        "result": result.model_dump(mode="json"),
    }
    statement = pg_insert(AgentRun).values(
        review_id=review_id, agent=result.agent, started_at=started_at, **values
    )
    updates: dict[str, Any] = {name: statement.excluded[name] for name in values}
    updates["started_at"] = func.coalesce(statement.excluded.started_at, AgentRun.started_at)
    s.execute(
        statement.on_conflict_do_update(
            index_elements=[AgentRun.review_id, AgentRun.agent],
            set_=updates,
            where=or_(
                AgentRun.status != AgentStatus.OK.value,
                statement.excluded.status == AgentStatus.OK.value,
            ),
        )
    )


def load_agent_results(s: Session, review_id: int) -> dict[str, AgentResult]:
    rows = s.execute(
        select(AgentRun.agent, AgentRun.result)
        .where(AgentRun.review_id == review_id, AgentRun.result.is_not(None))
        .order_by(AgentRun.agent)
    )
    return {agent: AgentResult.model_validate(data) for agent, data in rows}


def agent_statuses(s: Session, review_id: int) -> dict[str, str]:
    rows = s.execute(
        select(AgentRun.agent, AgentRun.status)
        .where(AgentRun.review_id == review_id)
        .order_by(AgentRun.agent)
    )
    return {agent: status for agent, status in rows}


# --- findings -----------------------------------------------------------------------------


def stored_fingerprint(finding: Finding) -> str:
    """The finding's fingerprint, or one derived from where and what it is when it has none.

    Every stored finding needs one: it is the key that makes saving idempotent.
    """
    if finding.fingerprint:
        return finding.fingerprint
    material = "\x1f".join(
        [finding.path, str(finding.line), finding.category.value, finding.rule, finding.message]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def save_findings(
    s: Session,
    review_id: int,
    findings: list[Finding],
    *,
    agent_of: dict[str, str] | None = None,
) -> int:
    """Store findings once per fingerprint; how many were new.

    ``agent_of`` maps a fingerprint to the agent that reported it; by default the agent is
    the finding's category (the four agents are named after the four categories).
    """
    if not findings:
        return 0
    agent_of = agent_of or {}
    rows = []
    for finding in findings:
        fingerprint = stored_fingerprint(finding)
        data = finding.model_dump(mode="json")
        data["fingerprint"] = fingerprint
        data["agent"] = agent_of.get(fingerprint, finding.category.value)
        rows.append({"review_id": review_id, **data})
    inserted = s.scalars(
        pg_insert(FindingRow)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[FindingRow.review_id, FindingRow.fingerprint])
        .returning(FindingRow.id)
    ).all()
    return len(inserted)


_FINDING_FIELDS = tuple(Finding.model_fields)


def load_findings(s: Session, review_id: int) -> list[Finding]:
    """The review's findings in the order they were saved."""
    columns = [getattr(FindingRow, name) for name in _FINDING_FIELDS]
    rows = s.execute(
        select(*columns).where(FindingRow.review_id == review_id).order_by(FindingRow.id)
    )
    return [Finding.model_validate(dict(zip(_FINDING_FIELDS, row, strict=True))) for row in rows]


# --- incremental runs ------------------------------------------------------------------


def reset_review(s: Session, review_id: int, *, trigger: str) -> None:
    """Make a failed or cancelled review new again (``/reviewer review``): its snapshot,
    agent results and findings are deleted, so the canvas redoes everything."""
    for model in (Snapshot, AgentRun, FindingRow):
        s.execute(delete(model).where(model.review_id == review_id))
    _update(
        s, Review, Review.id == review_id,
        {
            "status": ReviewStatus.PENDING, "trigger": trigger, "incremental": None, "error": None,
            "dispatch_attempts": 0, "finished_at": None, "updated_at": func.now(),
        },
    )


def save_incremental(s: Session, review_id: int, scope: dict[str, Any] | None) -> None:
    """Store (or clear) the incremental scope ``prepare`` chose for a review."""
    _update(s, Review, Review.id == review_id, {"incremental": scope})


# --- helpers ------------------------------------------------------------------------------


def _update(
    s: Session, model: type[Review | Delivery], where: ColumnElement[bool], values: dict
) -> int:
    """UPDATE matching rows; refresh any of them already loaded in the session; the count.

    Values are often SQL expressions (``now()``, ``attempts + 1``) that Python cannot
    evaluate, so loaded objects are refreshed from the database instead of left expired:
    callers read them after their session has closed.
    """
    ids = s.scalars(
        update(model)
        .where(where)
        .values(values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    ).all()
    for row_id in ids:
        loaded = s.identity_map.get(s.identity_key(model, row_id))  # type: ignore[arg-type]
        if loaded is not None:
            s.refresh(loaded)
    return len(ids)

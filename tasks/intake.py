"""Accepting a webhook delivery: record it and its review in one transaction, then enqueue.

Called by the web view (which stays thin) and by the sweeper for deliveries the broker
refused. Nothing is lost: a delivery is stored before anything is sent, and one the broker
did not take stays ``received`` until the sweeper sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import structlog
from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from reviewer.adapters.storage import DeliveryStatus, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.commands import CommandRequest
from reviewer.webhooks import Decision, DecisionKind
from tasks.canvas import dispatch_review
from tasks.services import Services

log = structlog.get_logger("reviewer.intake")

ACTIVE = {ReviewStatus.QUEUED, ReviewStatus.RUNNING, ReviewStatus.POSTING, ReviewStatus.POSTED}


class Outcome(StrEnum):
    ENQUEUED = "enqueued"
    DUPLICATE = "duplicate"
    ALREADY_REVIEWED = "already_reviewed"
    IGNORED = "ignored"
    CANCELLED = "cancelled"
    BROKER_DOWN = "broker_unavailable"


@dataclass(frozen=True)
class IntakeResult:
    outcome: Outcome
    review_id: int | None = None
    reason: str | None = None


class BrokerUnavailable(Exception):
    """The broker did not take the canvas; the delivery is kept for the sweeper."""


def accept_delivery(
    services: Services, app: Celery, *, delivery_id: str, event: str, decision: Decision
) -> IntakeResult:
    """Record, deduplicate and enqueue one delivery. Raises nothing but BrokerUnavailable."""
    bound = log.bind(delivery_id=delivery_id, event=event, decision=str(decision.kind))
    with services.db.session() as s:
        delivery, created = repo.record_delivery(
            s,
            delivery_id=delivery_id,
            event=event,
            action=decision.action,
            repo=decision.repo,
            pr_number=decision.number,
            installation_id=decision.installation_id,
        )
        if not created and delivery.status != DeliveryStatus.RECEIVED:
            bound.info("delivery.duplicate")
            return IntakeResult(Outcome.DUPLICATE, delivery.review_id, "delivery already handled")

        if decision.kind == DecisionKind.CANCEL:
            cancelled = repo.cancel_open_reviews(s, decision.repo, decision.number)
            repo.mark_delivery(s, delivery_id, DeliveryStatus.IGNORED, reason=decision.reason)
            bound.info("review.cancelled", reviews=cancelled)
            return IntakeResult(Outcome.CANCELLED, None, decision.reason)
        if decision.kind == DecisionKind.IGNORE and decision.event == "issue_comment":
            bound.info("comment.ignored", reason=decision.reason, author=decision.author)
        command = command_request(decision, delivery_id) if decision.kind == DecisionKind.COMMAND else None
        if command is None and decision.kind != DecisionKind.REVIEW:
            repo.mark_delivery(s, delivery_id, DeliveryStatus.IGNORED, reason=decision.reason)
            return IntakeResult(Outcome.IGNORED, None, decision.reason)
        if decision.action == "synchronize" and repo.is_paused(s, decision.repo, decision.number):
            reason = "reviews of this pull request are paused (/reviewer pause)"
            repo.mark_delivery(s, delivery_id, DeliveryStatus.IGNORED, reason=reason)
            bound.info("review.paused")
            return IntakeResult(Outcome.IGNORED, None, reason)
        if command is None:
            review_id, new_work = _record_review(s, event, decision, delivery_id, bound)
            if not new_work:
                return IntakeResult(Outcome.ALREADY_REVIEWED, review_id, "head commit already reviewed")
    if command is not None:
        return send_command(services, app, delivery_id=delivery_id, command=command, log=bound)
    bound = bound.bind(review_id=review_id)
    return send(services, app, delivery_id=delivery_id, review_id=review_id, log=bound)


def _record_review(s, event: str, decision: Decision, delivery_id: str, bound) -> tuple[int, bool]:
    """The review for the decision's head (superseding the PR's older runs), and whether it
    needs sending: not when that head is already being reviewed (the delivery is then ignored)."""
    review, new_review = repo.get_or_create_review(
        s,
        source="github",
        repo=decision.repo,
        pr_number=decision.number,
        head_sha=decision.head_sha,
        base_sha=decision.base_sha,
        installation_id=decision.installation_id,
        trigger=f"{event}.{decision.action}",
    )
    review_id = review.id
    if new_review:  # a new head supersedes the PR's older runs: only the newest posts
        superseded = repo.cancel_open_reviews(
            s, decision.repo, decision.number, except_review=review_id,
            reason=f"superseded by the review of {decision.head_sha[:12]}",
        )
        if superseded:
            bound.info("review.superseded", reviews=superseded)
    if not new_review and review.status in ACTIVE:
        repo.mark_delivery(
            s, delivery_id, DeliveryStatus.IGNORED, review_id=review_id,
            reason="this head commit is already being reviewed",
        )
        return review_id, False
    repo.mark_delivery(s, delivery_id, DeliveryStatus.RECEIVED, review_id=review_id)
    return review_id, True


def command_request(decision: Decision, delivery_id: str | None) -> CommandRequest:
    """The command task's message for a COMMAND decision."""
    return CommandRequest(
        repo=decision.repo, number=decision.number, comment_id=decision.comment_id,
        author=decision.author or "", kind=decision.command, argument=decision.argument,
        installation_id=decision.installation_id, delivery_id=delivery_id,
    )


def send_command(
    services: Services, app: Celery, *, delivery_id: str, command: CommandRequest, log=log
) -> IntakeResult:
    """Enqueue a command; BrokerUnavailable if refused (GitHub redelivers on our 503)."""
    try:
        app.signature("reviewer.handle_command", args=(command.model_dump(mode="json"),)).apply_async(
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
        )
    except (OperationalError, RedisError, ConnectionError, OSError) as exc:
        log.error("broker.unavailable", error=type(exc).__name__)
        with services.db.session() as s:
            repo.note_delivery_attempt(s, delivery_id, reason=f"broker unavailable: {type(exc).__name__}")
        raise BrokerUnavailable(str(exc)) from exc
    with services.db.session() as s:
        repo.mark_delivery(s, delivery_id, DeliveryStatus.ENQUEUED, reason=f"command {command.kind}")
    log.info("command.enqueued", command=str(command.kind))
    return IntakeResult(Outcome.ENQUEUED, None, f"command {command.kind}")


def send(services: Services, app: Celery, *, delivery_id: str | None, review_id: int, log=log) -> IntakeResult:
    """Enqueue the canvas for a stored review and note it; BrokerUnavailable if refused."""
    try:
        dispatch_review(app, review_id)
    except (OperationalError, RedisError, ConnectionError, OSError) as exc:
        log.error("broker.unavailable", error=type(exc).__name__)
        if delivery_id is not None:
            with services.db.session() as s:
                repo.note_delivery_attempt(s, delivery_id, reason=f"broker unavailable: {type(exc).__name__}")
        raise BrokerUnavailable(str(exc)) from exc
    with services.db.session() as s:
        repo.note_dispatch(s, review_id)
        if delivery_id is not None:
            repo.mark_delivery(s, delivery_id, DeliveryStatus.ENQUEUED, review_id=review_id)
    log.info("review.enqueued")
    return IntakeResult(Outcome.ENQUEUED, review_id)

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
        if decision.kind != DecisionKind.REVIEW:
            repo.mark_delivery(s, delivery_id, DeliveryStatus.IGNORED, reason=decision.reason)
            return IntakeResult(Outcome.IGNORED, None, decision.reason)

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
        if not new_review and review.status in ACTIVE:
            repo.mark_delivery(
                s, delivery_id, DeliveryStatus.IGNORED, review_id=review_id,
                reason="this head commit is already being reviewed",
            )
            return IntakeResult(Outcome.ALREADY_REVIEWED, review_id, "head commit already reviewed")
        repo.mark_delivery(s, delivery_id, DeliveryStatus.RECEIVED, review_id=review_id)
    bound = bound.bind(review_id=review_id)
    return send(services, app, delivery_id=delivery_id, review_id=review_id, log=bound)


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

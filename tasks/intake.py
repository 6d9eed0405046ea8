"""Accepting a webhook delivery: record it and its review in one transaction, then enqueue.

Called by the web view (which stays thin) and by the sweeper for deliveries the broker
refused. Nothing is lost: a delivery is stored before anything is sent (a command delivery
with its command), and one the broker did not take stays ``received`` until the sweeper
sends it. A review for a new head is admitted to its PR's queue (``tasks.queueing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import structlog
from celery import Celery

from reviewer.adapters.storage import DeliveryStatus, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.commands import CommandRequest
from reviewer.signals import PushSignal
from reviewer.webhooks import Decision, DecisionKind
from tasks.canvas import BROKER_ERRORS, dispatch_review
from tasks.queueing import admit
from tasks.services import Services

log = structlog.get_logger("reviewer.intake")

ACTIVE = {
    ReviewStatus.WAITING, ReviewStatus.QUEUED, ReviewStatus.RUNNING, ReviewStatus.POSTING, ReviewStatus.POSTED,
}


class Outcome(StrEnum):
    ENQUEUED = "enqueued"
    WAITING = "waiting"  # behind the PR's running review; dispatched when it finishes
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
    if decision.event == "pull_request" and decision.action == "synchronize":
        send_applied_check(app, decision, delivery_id, bound)
    if decision.kind == DecisionKind.FEEDBACK:
        return accept_feedback(services, app, delivery_id=delivery_id, event=event, decision=decision, log=bound)
    command = command_request(decision, delivery_id) if decision.kind == DecisionKind.COMMAND else None
    with services.db.session() as s:
        delivery, created = repo.record_delivery(
            s,
            delivery_id=delivery_id,
            event=event,
            action=decision.action,
            repo=decision.repo,
            pr_number=decision.number,
            installation_id=decision.installation_id,
            command=command.model_dump(mode="json") if command is not None else None,
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
        if command is None and decision.kind != DecisionKind.REVIEW:
            repo.mark_delivery(s, delivery_id, DeliveryStatus.IGNORED, reason=decision.reason)
            return IntakeResult(Outcome.IGNORED, None, decision.reason)
        if decision.action == "synchronize" and repo.is_paused(s, decision.repo, decision.number):
            reason = "reviews of this pull request are paused (/reviewer pause)"
            repo.mark_delivery(s, delivery_id, DeliveryStatus.IGNORED, reason=reason)
            bound.info("review.paused")
            return IntakeResult(Outcome.IGNORED, None, reason)
        if command is None:
            review_id, action = _record_review(s, event, decision, delivery_id, bound)
            if action is not Outcome.ENQUEUED:
                reason = "head commit already reviewed" if action is Outcome.ALREADY_REVIEWED else (
                    "waiting for the review of an earlier push to finish"
                )
                return IntakeResult(action, review_id, reason)
    if command is not None:
        return send_command(services, app, delivery_id=delivery_id, command=command, log=bound)
    bound = bound.bind(review_id=review_id)
    return send(services, app, delivery_id=delivery_id, review_id=review_id, log=bound)


def _record_review(s, event: str, decision: Decision, delivery_id: str, bound) -> tuple[int, Outcome]:
    """The review for the decision's head and what to do with it: send it now (ENQUEUED), let
    it wait behind the PR's running review (WAITING), or nothing when that head is already
    being reviewed (ALREADY_REVIEWED; the delivery is then ignored)."""
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
        return review_id, Outcome.ALREADY_REVIEWED
    if new_review and not admit(s, review, bound):
        # Handled: the review is stored and waits; its dispatch is the running one's hand-over.
        repo.mark_delivery(
            s, delivery_id, DeliveryStatus.ENQUEUED, review_id=review_id,
            reason="waiting for the review of an earlier push",
        )
        return review_id, Outcome.WAITING
    repo.mark_delivery(s, delivery_id, DeliveryStatus.RECEIVED, review_id=review_id)
    return review_id, Outcome.ENQUEUED


#: Key of a feedback delivery's message in the delivery's stored ``command`` (for the sweeper).
FEEDBACK_KEY = "feedback"


def accept_feedback(
    services: Services, app: Celery, *, delivery_id: str, event: str, decision: Decision, log=log
) -> IntakeResult:
    """Record a FEEDBACK delivery once, with its message (so the sweeper can re-send it), and
    enqueue ``reviewer.record_feedback``, whose verdict is idempotent on the GitHub object it
    names; BrokerUnavailable if the broker refuses it."""
    message = decision.feedback.model_copy(update={"delivery_id": delivery_id}).model_dump(mode="json")
    with services.db.session() as s:
        delivery, created = repo.record_delivery(
            s, delivery_id=delivery_id, event=event, action=decision.action, repo=decision.repo,
            pr_number=decision.number, installation_id=decision.installation_id,
            command={FEEDBACK_KEY: message},
        )
        if not created and delivery.status != DeliveryStatus.RECEIVED:
            log.info("delivery.duplicate")
            return IntakeResult(Outcome.DUPLICATE, None, "delivery already handled")
    return send_feedback(services, app, delivery_id=delivery_id, message=message, log=log)


def send_feedback(services: Services, app: Celery, *, delivery_id: str, message: dict, log=log) -> IntakeResult:
    """Enqueue a stored feedback message; BrokerUnavailable if refused (the sweeper re-sends)."""
    result = _enqueue(services, app, "reviewer.record_feedback", message, delivery_id=delivery_id,
                      what=f"feedback {message.get('source')}", log=log)
    log.info("feedback.enqueued", source=message.get("source"))
    return result


def _enqueue(services: Services, app: Celery, task: str, message: dict, *, delivery_id: str, what: str,
             log) -> IntakeResult:
    """Send one message a delivery keeps (a command, a feedback signal) and mark the delivery
    enqueued; BrokerUnavailable if refused: the delivery stays ``received`` with its message,
    and the sweeper sends it later."""
    try:
        # Nobody waits on its result: not storing it keeps the result backend out of the send.
        app.signature(task, args=(message,)).apply_async(
            ignore_result=True,
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
        )
    except BROKER_ERRORS as exc:
        log.error("broker.unavailable", error=type(exc).__name__)
        with services.db.session() as s:
            repo.note_delivery_attempt(s, delivery_id, reason=f"broker unavailable: {type(exc).__name__}")
        raise BrokerUnavailable(str(exc)) from exc
    with services.db.session() as s:
        repo.mark_delivery(s, delivery_id, DeliveryStatus.ENQUEUED, reason=what)
    return IntakeResult(Outcome.ENQUEUED, None, what)


def send_applied_check(app: Celery, decision: Decision, delivery_id: str, log=log) -> None:
    """After a push, look for the bot's suggestions applied in it (``reviewer.check_applied``).

    Independent of the review and best effort: a refused message is only logged, because the
    check covers every suggestion not yet found applied, so the next push catches up.
    """
    push = PushSignal(
        repo=decision.repo, number=decision.number, installation_id=decision.installation_id,
        delivery_id=delivery_id, actor=decision.author, head_sha=decision.head_sha,
    )
    try:
        app.signature("reviewer.check_applied", args=(push.model_dump(mode="json"),)).apply_async(
            ignore_result=True, retry=False
        )
    except BROKER_ERRORS as exc:
        log.warning("applied.not_enqueued", error=type(exc).__name__)


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
    """Enqueue a command; BrokerUnavailable if refused (the delivery keeps the command and
    stays ``received``: the sweeper sends it later)."""
    result = _enqueue(services, app, "reviewer.handle_command", command.model_dump(mode="json"),
                      delivery_id=delivery_id, what=f"command {command.kind}", log=log)
    log.info("command.enqueued", command=str(command.kind))
    return result


def send(services: Services, app: Celery, *, delivery_id: str | None, review_id: int, log=log) -> IntakeResult:
    """Enqueue the canvas for a stored review and note it; BrokerUnavailable if refused."""
    try:
        dispatch_review(app, review_id)
    except BROKER_ERRORS as exc:
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

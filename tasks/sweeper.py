"""The beat-driven sweeper: re-sends deliveries the broker refused, re-dispatches reviews stuck
too long, and hands waiting reviews over when the review before them finished without doing so
(its worker died between the two)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from celery import shared_task
from pydantic import ValidationError

from reviewer.adapters.storage import DeliveryStatus, ReviewStatus, review_queue
from reviewer.adapters.storage import repositories as repo
from reviewer.commands import CommandRequest
from tasks.base import ReviewerTask
from tasks.intake import FEEDBACK_KEY, BrokerUnavailable, send, send_command, send_feedback
from tasks.queueing import dispatch_waiting, hand_over


@shared_task(bind=True, base=ReviewerTask, name="reviewer.sweep", acks_late=False)
def sweep(self: ReviewerTask) -> dict:
    """One pass; idempotent (posting checks its marker), so overlapping passes are harmless."""
    services = self.services
    settings = services.settings
    log = self.log()
    now = datetime.now(UTC)
    resent = redispatched = gave_up = handed_over = 0
    failed_reviews: list[int] = []
    with services.db.session() as s:
        pending = repo.deliveries_to_resend(
            s,
            older_than=now - timedelta(seconds=settings.delivery_retry_after_s),
            max_attempts=settings.max_dispatch_attempts + 1,
        )
        deliveries = [
            (d.id, d.review_id, d.command) for d in pending if d.attempts < settings.max_dispatch_attempts
        ]
        for d in pending:
            if d.attempts >= settings.max_dispatch_attempts:
                # The broker refused it every time: say so on the delivery and its review.
                repo.mark_delivery(s, d.id, DeliveryStatus.FAILED, reason="broker refused every attempt")
                gave_up += 1
                if d.review_id is None:  # a command: its delivery row says it was not carried out
                    continue
                repo.set_review_status(
                    s, d.review_id, ReviewStatus.FAILED,
                    error=f"never enqueued: the broker refused {d.attempts} attempts",
                )
                failed_reviews.append(d.review_id)
        stuck = [
            (r.id, r.dispatch_attempts)
            for r in repo.stuck_reviews(
                s,
                older_than=now - timedelta(seconds=settings.review_deadline_s),
                max_attempts=settings.max_dispatch_attempts + 1,
            )
        ]
    try:
        for delivery_id, review_id, command in deliveries:
            if review_id is not None:
                send(services, self.app, delivery_id=delivery_id, review_id=review_id, log=log)
            else:
                resend_command(services, self.app, delivery_id, command, log)
            resent += 1
        for review_id, attempts in stuck:
            if attempts >= settings.max_dispatch_attempts:
                with services.db.session() as s:
                    repo.set_review_status(
                        s, review_id, ReviewStatus.FAILED,
                        error=f"stuck after {attempts} dispatches; gave up",
                    )
                failed_reviews.append(review_id)
                gave_up += 1
                continue
            send(services, self.app, delivery_id=None, review_id=review_id, log=log)
            redispatched += 1
    except BrokerUnavailable:
        log.warning("sweep.broker_unavailable")
    for review_id in failed_reviews:
        hand_over(services, self.app, review_id, log)
    with services.db.session() as s:
        waiting = review_queue.pull_requests_with_waiting(s)
    for repo_name, number in waiting:
        handed_over += dispatch_waiting(services, self.app, repo_name, number, log) is not None
    log.info(
        "sweep.done", resent=resent, redispatched=redispatched, gave_up=gave_up, handed_over=handed_over
    )
    return {"resent": resent, "redispatched": redispatched, "gave_up": gave_up}


def resend_command(services, app, delivery_id: str, command: dict, log) -> None:
    """Send a stored command again; one that no longer validates is marked failed, not retried."""
    if FEEDBACK_KEY in command:  # a feedback delivery keeps its message the same way
        send_feedback(services, app, delivery_id=delivery_id, message=command[FEEDBACK_KEY],
                      log=log.bind(delivery_id=delivery_id))
        return
    try:
        request = CommandRequest.model_validate(command)
    except ValidationError as exc:
        with services.db.session() as s:
            reason = f"stored command invalid: {exc}"[:500]
            repo.mark_delivery(s, delivery_id, DeliveryStatus.FAILED, reason=reason)
        return
    send_command(services, app, delivery_id=delivery_id, command=request, log=log.bind(delivery_id=delivery_id))

"""The beat-driven sweeper: re-sends deliveries the broker refused and reviews stuck too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from celery import shared_task

from reviewer.adapters.storage import DeliveryStatus, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from tasks.base import ReviewerTask
from tasks.intake import BrokerUnavailable, send


@shared_task(bind=True, base=ReviewerTask, name="reviewer.sweep", acks_late=False)
def sweep(self: ReviewerTask) -> dict:
    """One pass; idempotent (posting checks its marker), so overlapping passes are harmless."""
    services = self.services
    settings = services.settings
    log = self.log()
    now = datetime.now(UTC)
    resent = redispatched = gave_up = 0
    with services.db.session() as s:
        pending = repo.deliveries_to_resend(
            s,
            older_than=now - timedelta(seconds=settings.delivery_retry_after_s),
            max_attempts=settings.max_dispatch_attempts + 1,
        )
        deliveries = [(d.id, d.review_id) for d in pending if d.attempts < settings.max_dispatch_attempts]
        for d in pending:
            if d.attempts >= settings.max_dispatch_attempts:
                # The broker refused it every time: say so on the delivery and its review.
                repo.mark_delivery(s, d.id, DeliveryStatus.FAILED, reason="broker refused every attempt")
                repo.set_review_status(
                    s, d.review_id, ReviewStatus.FAILED,
                    error=f"never enqueued: the broker refused {d.attempts} attempts",
                )
                gave_up += 1
        stuck = [
            (r.id, r.dispatch_attempts)
            for r in repo.stuck_reviews(
                s,
                older_than=now - timedelta(seconds=settings.review_deadline_s),
                max_attempts=settings.max_dispatch_attempts + 1,
            )
        ]
    try:
        for delivery_id, review_id in deliveries:
            send(services, self.app, delivery_id=delivery_id, review_id=review_id, log=log)
            resent += 1
        for review_id, attempts in stuck:
            if attempts >= settings.max_dispatch_attempts:
                with services.db.session() as s:
                    repo.set_review_status(
                        s, review_id, ReviewStatus.FAILED,
                        error=f"stuck after {attempts} dispatches; gave up",
                    )
                gave_up += 1
                continue
            send(services, self.app, delivery_id=None, review_id=review_id, log=log)
            redispatched += 1
    except BrokerUnavailable:
        log.warning("sweep.broker_unavailable")
    log.info("sweep.done", resent=resent, redispatched=redispatched, gave_up=gave_up)
    return {"resent": resent, "redispatched": redispatched, "gave_up": gave_up}

"""Builds and sends the review canvas: prepare → chord(agents, generate_fixes) → post_review.

The sender (the web process, the sweeper, the CLI) sends only ``prepare``; ``prepare`` sends
the rest from inside the worker once the snapshot is stored. Building the whole chain in the
sender would make it subscribe to every agent's result on the Redis result backend (Celery
freezes the group's results there) — a subscription per review that a long-running web
process never reads, and a second dependency on Redis being up when answering a webhook.
"""

from __future__ import annotations

from celery import Celery, chord, group
from celery.canvas import Signature
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from reviewer.payloads import AGENT_NAMES, ReviewRef

#: What a refused publish raises (broker down or unreachable).
BROKER_ERRORS = (OperationalError, RedisError, ConnectionError, OSError)


def _on_error(app: Celery, review_id: int) -> Signature:
    return app.signature("reviewer.mark_review_failed", kwargs={"review_id": review_id})


def prepare_signature(app: Celery, review_id: int) -> Signature:
    # Nobody waits on prepare's result, so it is not stored.
    return app.signature(
        "reviewer.prepare", args=(review_id,), immutable=True, options={"ignore_result": True}
    ).on_error(_on_error(app, review_id))


def review_tail(app: Celery, ref: ReviewRef) -> Signature:
    """chord(group(4 agents), generate_fixes) | post_review — flat, one chord.

    The errback sits on the chord callback and post (not on the agents, which never raise):
    either failing for good leaves a failed review, never a silent one.
    """
    review_id = ref.review_id
    agents = group(
        app.signature(
            "reviewer.run_agent", args=(ref.model_dump(),), kwargs={"agent": name, "review_id": review_id},
            immutable=True,
        )
        for name in AGENT_NAMES
    )
    fixes = app.signature("reviewer.generate_fixes", kwargs={"review_id": review_id})
    post = app.signature("reviewer.post_review", kwargs={"review_id": review_id})
    return chord(agents, fixes.on_error(_on_error(app, review_id))) | post.on_error(
        _on_error(app, review_id)
    )


def dispatch_review(app: Celery, review_id: int) -> str:
    """Send the review's first task; raises the broker's error quickly when it is down (the
    caller keeps the delivery for the sweeper): one retry, and the connection timeouts of the
    app's broker settings. Returns the task id."""
    result = prepare_signature(app, review_id).apply_async(
        retry=True,
        retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
    )
    return result.id

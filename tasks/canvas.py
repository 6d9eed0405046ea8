"""Builds and sends the review canvas: prepare → chord(agents, generate_fixes) → post_review."""

from __future__ import annotations

from celery import Celery, chain, chord, group
from celery.canvas import Signature

from reviewer.payloads import AGENT_NAMES


def review_canvas(app: Celery, review_id: int) -> Signature:
    """The flat canvas of DESIGN §2, with an errback that marks the review failed.

    The errback sits on prepare, the chord callback and post (not on the agents, which never
    raise): any of those failing for good leaves a failed review, never a silent one.
    """
    on_error = app.signature("reviewer.mark_review_failed", kwargs={"review_id": review_id})
    prepare = app.signature("reviewer.prepare", args=(review_id,), immutable=True)
    agents = group(
        app.signature("reviewer.run_agent", kwargs={"agent": name, "review_id": review_id})
        for name in AGENT_NAMES
    )
    fixes = app.signature("reviewer.generate_fixes", kwargs={"review_id": review_id})
    post = app.signature("reviewer.post_review", kwargs={"review_id": review_id})
    return chain(
        prepare.on_error(on_error),
        chord(agents, fixes.on_error(on_error.clone())),
        post.on_error(on_error.clone()),
    )


def dispatch_review(app: Celery, review_id: int) -> str:
    """Send the canvas; raises the broker's error quickly when it is down (the caller keeps
    the delivery for the sweeper): one retry, and the connection timeouts of the app's
    broker settings. Returns the canvas' id."""
    result = review_canvas(app, review_id).apply_async(
        retry=True,
        retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
    )
    return result.id

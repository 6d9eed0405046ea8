"""One running, one waiting review per pull request (docs/architecture.md, "Rapid pushes").

A review for a new head is *admitted*: sent at once when nothing of its PR is running, else
it *waits*; a later push replaces the waiting review (cancelled, never sent). The running
review stops at its next *checkpoint* (prepare, the chord callback, post) once a newer one
waits: posting on an outdated head would be stale, and the newer run, incremental from the
last posted review, covers what it would have said. When a review finishes for any reason,
it *hands over*: the waiting review is dispatched. The sweeper repeats the hand-over for
PRs whose finishing worker died before doing it. Every decision is taken under a per-PR
advisory lock, so intake, finishing reviews and the sweeper never start two at once.
"""

from __future__ import annotations

from reviewer import checks
from reviewer.adapters.storage import ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.adapters.storage import review_queue as queue
from tasks.canvas import BROKER_ERRORS, dispatch_review
from tasks.publishing import FINISHED, check_run


def admit(s, review, log) -> bool:
    """In the transaction that created (or reset) ``review``: True when it may be sent now,
    False when it waits behind its PR's running review. Older reviews of the PR that never
    started are replaced by it."""
    queue.lock_queue(s, review.repo, review.pr_number)
    replaced = queue.replace_unstarted(
        s, review.repo, review.pr_number, newest=review.id,
        reason=f"replaced by the review of {review.head_sha[:12]}",
    )
    if replaced:
        log.info("review.replaced", reviews=replaced)
    running = queue.running_review(s, review.repo, review.pr_number, except_review=review.id)
    if running is None:
        return True
    queue.set_waiting(s, review.id)
    log.info("review.waiting", behind=running.id)
    return False


def superseded(services, review_id: int, log) -> bool:
    """The checkpoint: True, with the review cancelled, when a later push's review waits."""
    with services.db.session() as s:
        review = repo.lock_review(s, review_id)
        if review is None or review.status in FINISHED or review.status == ReviewStatus.FAILED:
            return False
        newer = queue.newer_waiting(s, review)
        if newer is None:
            return False
        reason = f"superseded by the review of {newer.head_sha[:12]}"
        repo.set_review_status(s, review_id, ReviewStatus.CANCELLED, error=reason)
        newer_id = newer.id
    check_run(services, review_id, log, [checks.cancelled(reason)])
    log.info("review.superseded", by_review=newer_id)
    return True


def hand_over(services, app, review_id: int, log) -> int | None:
    """After ``review_id`` finished: dispatch its PR's waiting review (if the slot is free)."""
    with services.db.session() as s:
        review = repo.get_review(s, review_id)
        if review is None or review.source != "github" or review.pr_number is None:
            return None
        repo_name, number = review.repo, review.pr_number
    return dispatch_waiting(services, app, repo_name, number, log)


def dispatch_waiting(services, app, repo_name: str, number: int, log) -> int | None:
    """Send the PR's newest waiting review when nothing of the PR is running; its id, or None.

    The slot is claimed (status queued) before the message is sent; if the broker refuses,
    the review goes back to waiting for the sweeper's next pass.
    """
    with services.db.session() as s:
        queue.lock_queue(s, repo_name, number)
        if queue.running_review(s, repo_name, number) is not None:
            return None
        waiting = queue.newest_waiting(s, repo_name, number)
        if waiting is None:
            return None
        review_id = waiting.id
        repo.note_dispatch(s, review_id)
    try:
        dispatch_review(app, review_id)
    except BROKER_ERRORS as exc:
        with services.db.session() as s:
            queue.unclaim(s, review_id)
        log.warning("review.hand_over_refused", review_id=review_id, error=type(exc).__name__)
        return None
    log.info("review.handed_over", review_id=review_id)
    return review_id


def stop_if_superseded(services, app, review_id: int, log) -> bool:
    """A checkpoint of the running review: stopped and handed over when a newer one waits."""
    if not superseded(services, review_id, log):
        return False
    hand_over(services, app, review_id, log)
    return True

"""Queries behind "one running, one waiting" per pull request. The caller commits.

Every decision about a PR's queue (admit a new review, dispatch the waiting one) is taken
under :func:`lock_queue`, a transaction-scoped advisory lock per PR, so intake, finishing
reviews and the sweeper never both start a review of the same PR.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reviewer.adapters.storage.models import (
    IN_FLIGHT_REVIEW_STATUSES,
    Review,
    ReviewSource,
    ReviewStatus,
)
from reviewer.adapters.storage.repositories import _update


def lock_queue(s: Session, repo: str, pr_number: int) -> None:
    """Serialise queue decisions for one PR until the transaction ends (not the posting
    lock: intake must not wait behind a review being posted)."""
    key = f"{repo}#{pr_number}:queue"
    s.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def _of_pr(repo: str, pr_number: int):
    return (Review.source == ReviewSource.GITHUB) & (Review.repo == repo) & (Review.pr_number == pr_number)


def running_review(s: Session, repo: str, pr_number: int, *, except_review: int | None = None) -> Review | None:
    """The PR's review that holds the running slot (queued, running or posting), if any."""
    where = _of_pr(repo, pr_number) & Review.status.in_(IN_FLIGHT_REVIEW_STATUSES)
    if except_review is not None:
        where = where & (Review.id != except_review)
    return s.scalars(select(Review).where(where).order_by(Review.id).limit(1)).one_or_none()


def newest_waiting(s: Session, repo: str, pr_number: int) -> Review | None:
    return s.scalars(
        select(Review)
        .where(_of_pr(repo, pr_number), Review.status == ReviewStatus.WAITING)
        .order_by(Review.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).one_or_none()


def newer_waiting(s: Session, review: Review) -> Review | None:
    """A review of a later push waiting behind ``review``: then ``review`` is superseded."""
    if review.pr_number is None:
        return None
    found = newest_waiting(s, review.repo, review.pr_number)
    return found if found is not None and found.id > review.id else None


def replace_unstarted(s: Session, repo: str, pr_number: int, *, newest: int, reason: str) -> int:
    """Cancel the PR's reviews older than ``newest`` that never started (waiting, or created
    and not yet sent); how many were cancelled."""
    values: dict[str, Any] = {
        "status": ReviewStatus.CANCELLED, "finished_at": func.now(), "updated_at": func.now(), "error": reason,
    }
    where = (
        _of_pr(repo, pr_number)
        & Review.status.in_((ReviewStatus.WAITING, ReviewStatus.PENDING))
        & (Review.id < newest)
    )
    return _update(s, Review, where, values)


def set_waiting(s: Session, review_id: int) -> None:
    _update(s, Review, Review.id == review_id, {"status": ReviewStatus.WAITING, "updated_at": func.now()})


def unclaim(s: Session, review_id: int) -> None:
    """Back to waiting after the broker refused its dispatch (the sweeper tries again)."""
    _update(
        s, Review, (Review.id == review_id) & (Review.status == ReviewStatus.QUEUED),
        {"status": ReviewStatus.WAITING, "updated_at": func.now()},
    )


def pull_requests_with_waiting(s: Session, *, limit: int = 100) -> list[tuple[str, int]]:
    """PRs with a waiting review and nothing holding the running slot (a lost hand-over)."""
    waiting = s.execute(
        select(Review.repo, Review.pr_number)
        .where(Review.source == ReviewSource.GITHUB, Review.status == ReviewStatus.WAITING)
        .group_by(Review.repo, Review.pr_number)
        .limit(limit)
    ).all()
    return [
        (repo, number)
        for repo, number in waiting
        if number is not None and running_review(s, repo, number) is None
    ]

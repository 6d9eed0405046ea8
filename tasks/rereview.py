"""prepare's part of an incremental re-review: which earlier review a run builds on, and the
scope of what changed since (``reviewer.incremental`` does the pure work)."""

from __future__ import annotations

from reviewer import incremental
from reviewer.adapters.github import PermanentGitHubError
from reviewer.adapters.storage import ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.incremental import IncrementalScope
from tasks.commands import FULL_REVIEW_TRIGGER

#: GitHub's compare lists at most 300 files; beyond that, review everything.
COMPARE_FILE_LIMIT = 300


def previous_review(s, review):
    """(id, head SHA, open findings) of the PR's last posted review, if an incremental run
    may build on it."""
    if review.trigger == FULL_REVIEW_TRIGGER or review.pr_number is None:
        return None
    last = repo.latest_review(s, review.repo, review.pr_number, statuses=(ReviewStatus.POSTED,))
    if last is None or last.id == review.id or not last.head_sha or last.head_sha == review.head_sha:
        return None
    scope = IncrementalScope.model_validate(last.incremental) if last.incremental else None
    return last.id, last.head_sha, incremental.still_open(scope, repo.load_findings(s, last.id))


def plan_incremental(host, info, previous, log) -> IncrementalScope | None:
    """The scope of an incremental run, or None for a full review (no earlier review, or
    the compare failed, e.g. after a force push GitHub no longer knows the old head)."""
    if previous is None:
        return None
    since_id, since_sha, earlier_open = previous
    try:
        compared = host.compare(info.repo, since_sha, info.head_sha)
    except PermanentGitHubError as exc:
        log.info("review.full_compare_failed", since=since_sha[:12], status=exc.status)
        return None
    if len(compared) >= COMPARE_FILE_LIMIT:
        return None
    return incremental.plan_scope(
        since_sha=since_sha, since_review_id=since_id, compared=compared, earlier_open=earlier_open
    )

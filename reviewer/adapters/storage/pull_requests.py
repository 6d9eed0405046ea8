"""Queries about one pull request's conversation with the bot: what it posted there (so a
retried post never posts twice), its per-PR switches (``/reviewer pause``) and the findings a
repository asked to ignore. Each takes the caller's Session and never commits."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from reviewer.adapters.storage.models import (
    IgnoredFinding,
    PostedComment,
    PostedKind,
    PullRequestSettings,
)


def posted_fingerprints(
    s: Session,
    repo: str,
    pr_number: int,
    kind: PostedKind | str = PostedKind.INLINE,
    *,
    excluding_review: int | None = None,
) -> set[str]:
    """Fingerprints posted on the PR; ``excluding_review`` leaves out one review's own posts
    (so a review re-rendering itself still sees the comments it posted as its own)."""
    statement = select(PostedComment.fingerprint).where(
        PostedComment.repo == repo,
        PostedComment.pr_number == pr_number,
        PostedComment.kind == PostedKind(kind),
    )
    if excluding_review is not None:
        statement = statement.where(PostedComment.review_id != excluding_review)
    return set(s.scalars(statement))


def reported_fingerprints(s: Session, repo: str, pr_number: int, *, excluding_review: int | None = None) -> set[str]:
    """Findings earlier reviews of the PR reported, inline or in a review's body: a later
    review does not report them again (and does not pay the LLM for a fix of them again)."""
    return (posted_fingerprints(s, repo, pr_number, PostedKind.INLINE, excluding_review=excluding_review)
            | posted_fingerprints(s, repo, pr_number, PostedKind.BODY, excluding_review=excluding_review))


def lock_pull_request(s: Session, repo: str, pr_number: int) -> None:
    """Serialise posting per PR until the caller's transaction ends (an advisory lock), so two
    runs of one PR never post the same finding at the same time."""
    s.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"{repo}#{pr_number}", 0)))
    )


# --- per-PR switches and ignored findings ---------------------------------------------------


def is_paused(s: Session, repo: str, pr_number: int) -> bool:
    return bool(
        s.scalar(
            select(PullRequestSettings.paused).where(
                PullRequestSettings.repo == repo, PullRequestSettings.pr_number == pr_number
            )
        )
    )


def set_paused(s: Session, repo: str, pr_number: int, paused: bool, *, by: str | None = None) -> None:
    statement = pg_insert(PullRequestSettings).values(
        repo=repo, pr_number=pr_number, paused=paused, updated_by=by
    )
    s.execute(
        statement.on_conflict_do_update(
            index_elements=[PullRequestSettings.repo, PullRequestSettings.pr_number],
            set_={"paused": paused, "updated_by": by, "updated_at": func.now()},
        )
    )


def add_ignored(s: Session, repo: str, value: str, *, by: str | None = None) -> bool:
    """Ignore a rule name or fingerprint in ``repo`` from now on; whether it is new."""
    inserted = s.scalar(
        pg_insert(IgnoredFinding)
        .values(repo=repo, value=value, created_by=by)
        .on_conflict_do_nothing(index_elements=[IgnoredFinding.repo, IgnoredFinding.value])
        .returning(IgnoredFinding.value)
    )
    return inserted is not None


def ignored_values(s: Session, repo: str) -> set[str]:
    return set(s.scalars(select(IgnoredFinding.value).where(IgnoredFinding.repo == repo)))


def posted_github_id(
    s: Session, repo: str, pr_number: int, kind: PostedKind | str, fingerprint: str
) -> int | None:
    """GitHub's id for something the bot posted (the summary comment, a check run), if known."""
    return s.scalar(
        select(PostedComment.github_id).where(
            PostedComment.repo == repo,
            PostedComment.pr_number == pr_number,
            PostedComment.kind == PostedKind(kind),
            PostedComment.fingerprint == fingerprint,
        )
    )


# What identifies a posted thing: at most one record per PR, kind and fingerprint.
_POSTED_KEY = [PostedComment.repo, PostedComment.pr_number, PostedComment.kind, PostedComment.fingerprint]


def remember_posted_id(
    s: Session,
    *,
    review_id: int,
    repo: str,
    pr_number: int,
    kind: PostedKind | str,
    fingerprint: str,
    github_id: int,
) -> None:
    """Record something the bot posted, or point the record at its new id (a summary comment
    someone deleted and the bot posted again)."""
    statement = pg_insert(PostedComment).values(
        review_id=review_id,
        repo=repo,
        pr_number=pr_number,
        kind=PostedKind(kind),
        fingerprint=fingerprint,
        github_id=github_id,
    )
    s.execute(
        statement.on_conflict_do_update(
            index_elements=_POSTED_KEY,
            set_={"github_id": statement.excluded.github_id, "review_id": statement.excluded.review_id},
        )
    )


def record_posted(
    s: Session,
    *,
    review_id: int,
    repo: str,
    pr_number: int,
    kind: PostedKind | str,
    fingerprint: str,
    github_id: int | None = None,
    path: str | None = None,
    line: int | None = None,
) -> None:
    """Remember something the bot posted; recording it twice is a no-op."""
    s.execute(
        pg_insert(PostedComment)
        .values(
            review_id=review_id,
            repo=repo,
            pr_number=pr_number,
            kind=PostedKind(kind),
            fingerprint=fingerprint,
            github_id=github_id,
            path=path,
            line=line,
        )
        .on_conflict_do_nothing(index_elements=_POSTED_KEY)
    )

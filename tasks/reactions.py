"""The beat job that finds 👍 / 👎 on the bot's inline comments: GitHub sends no webhook for them.

Each pass walks the pull requests the bot commented on recently, least recently polled first,
and lists their review comments with ``If-None-Match``: a 304 (nothing changed on that page)
costs no rate limit and is not a change. Only a comment whose reaction counts moved gets its
reactions listed (conditionally too); new votes are stored as verdicts (``reaction:<id>``,
by the reacting user) and votes that disappeared are retracted. A pass stops at its request
budget, and for an installation whose shared rate limit is down to the reserve.

ETags and what was last seen live in Redis under ``reviewer:reactions:``; losing them only
costs a few unconditional requests (the stored verdicts are idempotent on their keys).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from celery import shared_task

from reviewer.adapters.github import GitHubError, TransientGitHubError
from reviewer.adapters.storage import feedback as store
from reviewer.feedback import FeedbackItem, Signal
from reviewer.ports import ReviewComment
from reviewer.render import parse_finding_marker
from reviewer.signals import reaction_changes, reaction_key, votes
from reviewer.webhooks import Account, is_own_event
from tasks.base import ReviewerTask
from tasks.feedback import find_target, may_reject, reviewed_text, store_verdict
from tasks.publishing import connection

PREFIX = "reviewer:reactions:"


class ReactionState:
    """ETags, reaction counts and reaction ids last seen, per pull request and comment."""

    def __init__(self, redis_client, ttl_s: int) -> None:
        self._redis = redis_client
        self._ttl = ttl_s

    def _get(self, key: str) -> dict:
        raw = self._redis.get(PREFIX + key)
        return json.loads(raw) if raw else {}

    def _set(self, key: str, value: dict) -> None:
        self._redis.set(PREFIX + key, json.dumps(value), ex=self._ttl)

    def pull(self, repo: str, number: int) -> dict:
        """``{"etags": {page: etag}, "pages": n}`` of the PR's comment listing."""
        return self._get(f"pull:{repo}#{number}")

    def set_pull(self, repo: str, number: int, value: dict) -> None:
        self._set(f"pull:{repo}#{number}", value)
        self._redis.zadd(PREFIX + "polled", {f"{repo}#{number}": time.time()})

    def last_polled(self, repo: str, number: int) -> float:
        return self._redis.zscore(PREFIX + "polled", f"{repo}#{number}") or 0.0

    def comment(self, comment_id: int) -> dict:
        """``{"counts": [+1, -1], "etag": ..., "seen": [reaction ids]}`` of one comment."""
        return self._get(f"comment:{comment_id}")

    def set_comment(self, comment_id: int, value: dict) -> None:
        self._set(f"comment:{comment_id}", value)


class BudgetSpent(Exception):
    """The pass used its requests, or the installation's rate limit is down to the reserve."""


@dataclass
class Pass:
    """One polling pass: its budget and what it saw."""

    budget: int
    reserve: int
    requests: int = 0
    not_modified: int = 0
    changed_comments: int = 0
    recorded: int = 0
    untrusted: int = 0  # negative votes from people without write access: not counted
    retracted: int = 0
    pulls: int = 0
    errors: list[str] = field(default_factory=list)

    def spend(self, host) -> None:
        """Called before each request: stop at the budget or the rate-limit reserve."""
        if self.requests >= self.budget:
            raise BudgetSpent("request budget of the pass spent")
        remaining = host.rate_remaining()
        if remaining is not None and remaining <= self.reserve:
            raise BudgetSpent(f"rate limit down to {remaining}, reserve {self.reserve}")
        self.requests += 1

    def summary(self) -> dict:
        return {
            "pulls": self.pulls, "requests": self.requests, "not_modified": self.not_modified,
            "changed_comments": self.changed_comments, "recorded": self.recorded, "untrusted": self.untrusted,
            "retracted": self.retracted, "errors": self.errors[:5],
        }


@shared_task(bind=True, base=ReviewerTask, name="reviewer.poll_reactions", acks_late=False)
def poll_reactions(self: ReviewerTask) -> dict:
    """One pass; overlapping passes are harmless (verdicts are idempotent on their keys)."""
    services = self.services
    settings = services.settings
    window = timedelta(days=settings.feedback_reactions_window_days)
    state = ReactionState(services.redis, int(window.total_seconds()))
    with services.db.session() as s:
        pulls = store.recently_commented_pulls(s, since=datetime.now(UTC) - window)
    pulls.sort(key=lambda p: state.last_polled(p.repo, p.pr_number))
    run = Pass(settings.feedback_reactions_request_budget, settings.feedback_reactions_rate_reserve)
    spent_installations: set[int | None] = set()
    for pull in pulls:
        if run.requests >= run.budget:
            break
        if pull.installation_id in spent_installations:
            continue
        host = services.code_host(pull.installation_id)
        try:
            with connection(host):
                _poll_pull(services, host, state, run, pull.repo, pull.pr_number)
            run.pulls += 1
        except BudgetSpent as exc:
            spent_installations.add(pull.installation_id)
            self.log().info("reactions.budget", reason=str(exc), installation=pull.installation_id)
        except TransientGitHubError as exc:
            spent_installations.add(pull.installation_id)
            run.errors.append(str(exc)[:200])
        except GitHubError as exc:
            run.errors.append(str(exc)[:200])
    self.log().info("reactions.polled", **run.summary())
    return run.summary()


def _poll_pull(services, host, state: ReactionState, run: Pass, repo: str, number: int) -> None:
    """Every page of the PR's comments, conditionally; comments whose counts moved are read."""
    known = state.pull(repo, number)
    etags: dict[str, str] = dict(known.get("etags") or {})
    pages = int(known.get("pages") or 1)
    page = 1
    try:
        while True:
            run.spend(host)
            listing = host.list_review_comments(repo, number, page=page, etag=etags.get(str(page)))
            if not listing.modified:
                run.not_modified += 1
                if page >= pages:
                    break
            else:
                for comment in listing.items:
                    _check_comment(services, host, state, run, repo, number, comment)
                if listing.etag:
                    etags[str(page)] = listing.etag
                if not listing.has_next:
                    pages = page
                    break
            page += 1
    finally:
        state.set_pull(repo, number, {"etags": etags, "pages": max(pages, page)})


def _is_bot(login: str, kind: str, bot_login: str | None) -> bool:
    return is_own_event(Account(login=login, type=kind), bot_login) if bot_login else kind.lower() == "bot"


def _check_comment(services, host, state, run: Pass, repo: str, number: int, comment: ReviewComment) -> None:
    bot = services.settings.github_bot_login
    fingerprint = parse_finding_marker(comment.body)
    if fingerprint is None or (bot and not _is_bot(comment.author, comment.author_type, bot)):
        return
    counts = [comment.reactions.plus_one, comment.reactions.minus_one]
    seen = state.comment(comment.id)
    if seen.get("counts", [0, 0]) == counts:
        return  # no vote came or went (the listing's rollup says so)
    run.spend(host)
    listing = host.list_review_comment_reactions(repo, comment.id, etag=seen.get("etag"))
    if not listing.modified:
        run.not_modified += 1
        state.set_comment(comment.id, {**seen, "counts": counts})
        return
    run.changed_comments += 1
    current = votes(
        [r.model_dump() for r in listing.items],
        is_bot=lambda login, kind: _is_bot(login, kind, bot),
    )
    changes = reaction_changes(seen.get("seen", []), current)
    target = find_target(services, repo, number, fingerprint) if changes.added else None
    text = reviewed_text(services, host, target) if target is not None else None
    for vote in changes.added:
        if target is None:
            break
        item = FeedbackItem(
            repo=repo, pr_number=number, fingerprint=fingerprint, signal=Signal.REACTION,
            verdict=vote.verdict, source_key=reaction_key(vote.reaction_id), actor=vote.user,
            occurred_at=vote.created_at,
        )
        if not may_reject(services, host, item, spend=lambda: run.spend(host)):
            run.untrusted += 1
            continue
        run.recorded += int(store_verdict(services, item, target, text))
    if changes.removed:
        with services.db.session() as s:
            for reaction_id in changes.removed:
                run.retracted += int(store.retract_feedback(s, reaction_key(reaction_id)))
    state.set_comment(
        comment.id,
        {"counts": counts, "etag": listing.etag, "seen": sorted(v.reaction_id for v in current)},
    )

"""The learning loop's signals, stored: resolved threads, replies, applied suggestions.

Intake sends one message per signal (``reviewer.record_feedback``) and one per push
(``reviewer.check_applied``); each task finds the finding the bot posted, looks at the code
where the verdict depends on it, and stores one verdict keyed by the GitHub object it came
from, so a redelivered message stores nothing new. Every verdict keeps the code it was about
(the finding's lines with a little context, at the reviewed head), that code's embedding and
the repository's team. Reactions are polled by ``tasks.reactions`` and stored the same way.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

import structlog
from celery import shared_task
from pydantic import ValidationError
from redis.exceptions import RedisError

from reviewer.adapters.github import GitHubError, TransientGitHubError
from reviewer.adapters.storage import feedback as store
from reviewer.adapters.storage import repositories as repo
from reviewer.applied import lines_changed, snippet, suggestion_applied
from reviewer.feedback import FeedbackItem, Signal, Verdict
from reviewer.learning import flagged_code
from reviewer.llm.calls import LLMUnavailable
from reviewer.llm.prompts import BoundaryCollision
from reviewer.llm.schema import MalformedAnswer, parse_answer, schema_prompt_tokens
from reviewer.llm.tokens import count_messages
from reviewer.render import parse_finding_marker
from reviewer.reply_classifier import (
    Classification,
    classification_from_answer,
    classification_messages,
)
from reviewer.reports import UNASSIGNED_TEAM
from reviewer.signals import (
    FEEDBACK_SIGNAL,
    PushSignal,
    ReplySignal,
    ThreadSignal,
    applied_key,
)
from reviewer.webhooks import Account, is_own_event
from tasks.base import ReviewerTask
from tasks.learning import embedder
from tasks.publishing import backoff, connection
from tasks.reports import load_team_map

log = structlog.get_logger("reviewer.feedback")


@dataclass(frozen=True)
class Target:
    """The posted finding a signal is about, as plain values (no session needed)."""

    repo: str
    number: int
    review_id: int
    head_sha: str | None
    fingerprint: str
    path: str
    line: int
    end_line: int | None
    rule: str
    message: str


def find_target(services, repo_name: str, number: int, fingerprint: str) -> Target | None:
    """The finding the bot posted inline on the PR under ``fingerprint``, or None."""
    with services.db.session() as s:
        finding = store.posted_finding(s, repo_name, number, fingerprint)
        if finding is None:
            return None
        review = repo.get_review(s, finding.review_id)
        return Target(
            repo_name, number, finding.review_id, review.head_sha if review else None, fingerprint,
            finding.path, finding.line, finding.end_line, finding.rule, finding.message,
        )


def reviewed_text(services, host, target: Target) -> str | None:
    """The finding's file as the bot reviewed it: from the stored snapshot, else from GitHub."""
    with services.db.session() as s:
        snapshot = repo.load_snapshot(s, target.review_id)
    if snapshot is not None:
        for f in snapshot.files:
            if f.path == target.path and f.head_content is not None:
                return f.head_content
    if not target.head_sha:
        return None
    return _text(host.get_file_content(target.repo, target.path, target.head_sha))


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def embed_code(services, code: str | None) -> list[float] | None:
    """The code's embedding with the similarity cache's model; None when there is none."""
    if not code:
        return None
    embed, why = embedder(services)
    if embed is None:
        log.info("feedback.no_embedding", reason=why)
        return None
    try:
        return list(embed([code])[0])
    except Exception as exc:  # noqa: BLE001 - a verdict without an embedding is still a verdict
        log.warning("feedback.embedding_failed", error=type(exc).__name__)
        return None


def team_of(services, repo_name: str) -> str | None:
    """The repository's team from the reports' team map, or None (no map, or not mapped)."""
    path = services.settings.team_map_file
    if path is None:
        return None
    try:
        team = load_team_map(path).team_of(repo_name)
    except (OSError, ValueError, TypeError) as exc:
        log.warning("feedback.team_map_unreadable", error=str(exc)[:200])
        return None
    return None if team == UNASSIGNED_TEAM else team


#: How long a "may this person reject findings here" answer is kept (Redis).
WRITE_ACCESS_TTL_S = 3600


def may_reject(services, host, item: FeedbackItem, spend: Callable[[], None] | None = None) -> bool:
    """Whether ``item`` may count: a rejection or dismissal suppresses findings for the whole
    repository, so it needs someone with write access there (a contributor resolving threads
    on their own PR, or any passer-by's 👎 on a public repository, must not switch security
    findings off). Acceptances count from anyone: they only ever keep findings.

    The answer is cached in Redis for an hour; ``spend`` is called before a GitHub request
    (the reaction poller's budget).
    """
    if item.verdict == Verdict.ACCEPTED or not item.actor:
        return True
    key = f"reviewer:can-write:{item.repo}:{item.actor.lower()}"
    try:
        cached = services.redis.get(key)
    except RedisError:
        cached = None
    if cached is not None:
        return cached in (b"1", "1")
    if spend is not None:
        spend()
    allowed = host.can_write(item.repo, item.actor)
    try:
        services.redis.set(key, "1" if allowed else "0", ex=WRITE_ACCESS_TTL_S)
    except RedisError:
        pass  # only a cache
    return allowed


def untrusted(item: FeedbackItem) -> str:
    return f"ignored: {item.actor} has no write access, needed to {item.verdict.value.removesuffix('ed')}"


def store_verdict(
    services, item: FeedbackItem, target: Target, text: str | None, *, reinstate: bool = False
) -> bool:
    """Store ``item`` with its code, embedding and team; False when it was already stored."""
    # Stored for people to read: the lines with context. Embedded: the flagged lines alone,
    # exactly as the review side embeds new findings, so the two compare like with like.
    code = snippet(text, target.line, target.end_line) if text is not None else None
    embedding = embed_code(services, flagged_code(text, target.line, target.end_line))
    team = team_of(services, item.repo)
    with services.db.session() as s:
        finding = store.posted_finding(s, item.repo, item.pr_number, item.fingerprint)
        if finding is None:
            return False
        return store.record_feedback(
            s, item, finding, team=team, code=code, embedding=embedding, reinstate=reinstate
        )


def classify_reply(services, text: str, target: Target) -> Classification | None:
    """What a plain-text reply says about the finding, read by the LLM; None without one,
    when the model is unavailable or unsure, or when its answer is malformed."""
    llm = services.llm
    if llm is None or not text.strip():
        return None
    for _ in range(3):
        try:
            messages = classification_messages(
                text, path=target.path, line=target.line, rule=target.rule, message=target.message,
                nonce=secrets.token_hex(8),
            )
            break
        except BoundaryCollision:
            continue
    else:
        return None
    try:
        completion = llm.complete(
            model=services.settings.llm_model_feedback, messages=messages, max_tokens=200,
            estimated_tokens=count_messages(messages, llm.count) + schema_prompt_tokens(llm.count) + 200,
        )
        answer = parse_answer(completion.text)
    except (LLMUnavailable, MalformedAnswer) as exc:
        log.warning("feedback.classifier_failed", error=str(exc)[:200])
        return None
    log.info("feedback.classified", model=completion.model, prompt_tokens=completion.prompt_tokens,
             completion_tokens=completion.completion_tokens)
    return classification_from_answer(answer.findings)


# -- tasks --------------------------------------------------------------------------------------


@shared_task(bind=True, base=ReviewerTask, name="reviewer.record_feedback", max_retries=5)
def record_feedback(self: ReviewerTask, request: dict) -> dict:
    """Store the verdict of one resolved thread or one reply (idempotent on its source key)."""
    try:
        signal = FEEDBACK_SIGNAL.validate_python(request)
    except ValidationError as exc:
        self.log().warning("feedback.invalid", error=str(exc)[:500])
        return {"status": "invalid"}
    bound = self.log(repo=signal.repo, number=signal.number, source=str(signal.source),
                     delivery_id=signal.delivery_id)
    host = self.services.code_host(signal.installation_id)
    try:
        with connection(host):
            if isinstance(signal, ThreadSignal):
                outcome = _thread(self.services, host, signal)
            else:
                outcome = _reply(self.services, host, signal)
    except TransientGitHubError as exc:
        raise self.retry(exc=exc, countdown=exc.retry_after or backoff(self.request.retries))
    except GitHubError as exc:
        bound.warning("feedback.github_error", error=str(exc)[:500])
        return {"status": "failed", "error": str(exc)[:500]}
    bound.info("feedback.done", outcome=outcome, actor=signal.actor)
    return {"status": outcome}


def _thread(services, host, signal: ThreadSignal) -> str:
    """Resolved after the code changed at the finding → accepted; without a change →
    dismissed; unresolved → the resolution is retracted."""
    if not signal.resolved:
        with services.db.session() as s:
            return "retracted" if store.retract_feedback(s, signal.source_key) else "nothing to retract"
    target = find_target(services, signal.repo, signal.number, signal.fingerprint)
    if target is None:
        return "ignored: not a finding the bot posted on this pull request"
    text = reviewed_text(services, host, target)
    if signal.outdated:
        changed = True  # GitHub itself says the commented lines changed
    elif target.head_sha == signal.head_sha or text is None:
        changed = False
    else:
        after = _text(host.get_file_content(signal.repo, target.path, signal.head_sha))
        changed = lines_changed(text, after, target.line, target.end_line)
    item = FeedbackItem(
        repo=signal.repo, pr_number=signal.number, fingerprint=signal.fingerprint,
        signal=Signal.THREAD_RESOLVED_CHANGED if changed else Signal.THREAD_RESOLVED_UNCHANGED,
        verdict=Verdict.ACCEPTED if changed else Verdict.DISMISSED,
        source_key=signal.source_key, actor=signal.actor, occurred_at=signal.occurred_at,
    )
    if not may_reject(services, host, item):
        return untrusted(item)
    stored = store_verdict(services, item, target, text, reinstate=True)
    return f"{item.verdict.value}" if stored else "duplicate"


def _reply(services, host, signal: ReplySignal) -> str:
    """A reply to the bot's comment: its command, or its text as the classifier reads it."""
    parent = host.get_review_comment(signal.repo, signal.parent_id)
    if parent is None:
        return "ignored: the comment replied to no longer exists"
    fingerprint = parse_finding_marker(parent.body)
    bot = services.settings.github_bot_login
    if fingerprint is None or (
        bot and not is_own_event(Account(login=parent.author, type=parent.author_type), bot)
    ):
        return "ignored: a reply to someone else's comment"
    target = find_target(services, signal.repo, signal.number, fingerprint)
    if target is None:
        return "ignored: not a finding the bot posted on this pull request"
    kind, verdict, reason = Signal.REPLY_COMMAND, signal.verdict, signal.reason
    if verdict is None:
        classified = classify_reply(services, signal.text or "", target)
        if classified is None:
            return "ignored: the reply says nothing about the finding"
        kind, verdict, reason = Signal.REPLY_TEXT, classified.verdict, classified.reason
    item = FeedbackItem(
        repo=signal.repo, pr_number=signal.number, fingerprint=fingerprint, signal=kind,
        verdict=verdict, source_key=signal.source_key, actor=signal.actor, reason=reason,
        occurred_at=signal.occurred_at,
    )
    if not may_reject(services, host, item):
        return untrusted(item)
    stored = store_verdict(services, item, target, reviewed_text(services, host, target))
    return item.verdict.value if stored else "duplicate"


@shared_task(bind=True, base=ReviewerTask, name="reviewer.check_applied", max_retries=5)
def check_applied(self: ReviewerTask, request: dict) -> dict:
    """After a push: each posted suggestion whose lines now read as suggested is accepted."""
    try:
        push = PushSignal.model_validate(request)
    except ValidationError as exc:
        self.log().warning("applied.invalid", error=str(exc)[:500])
        return {"status": "invalid"}
    bound = self.log(repo=push.repo, number=push.number, head_sha=push.head_sha)
    services = self.services
    with services.db.session() as s:
        pending = [
            p for p in store.posted_suggestions(s, push.repo, push.number) if p.head_sha != push.head_sha
        ]
    if not pending:
        return {"status": "done", "checked": 0, "applied": 0}
    host = services.code_host(push.installation_id)
    applied = 0
    try:
        with connection(host):
            pending.sort(key=lambda p: (p.path, p.review_id))
            for path, group in groupby(pending, key=lambda p: p.path):
                after = _text(host.get_file_content(push.repo, path, push.head_sha))
                for suggestion in group:
                    applied += _record_if_applied(services, host, push, suggestion, after)
    except TransientGitHubError as exc:
        raise self.retry(exc=exc, countdown=exc.retry_after or backoff(self.request.retries))
    except GitHubError as exc:
        bound.warning("applied.github_error", error=str(exc)[:500])
        return {"status": "failed", "error": str(exc)[:500]}
    bound.info("applied.checked", checked=len(pending), applied=applied, actor=push.actor)
    return {"status": "done", "checked": len(pending), "applied": applied}


def _record_if_applied(services, host, push: PushSignal, suggestion, after: str | None) -> int:
    target = find_target(services, push.repo, push.number, suggestion.fingerprint)
    if target is None:
        return 0
    before = reviewed_text(services, host, target)
    if before is None or not suggestion_applied(
        before, after, suggestion.line, suggestion.end_line, suggestion.suggestion
    ):
        return 0
    item = FeedbackItem(
        repo=push.repo, pr_number=push.number, fingerprint=suggestion.fingerprint,
        signal=Signal.SUGGESTION_APPLIED, verdict=Verdict.ACCEPTED,
        source_key=applied_key(suggestion.review_id, suggestion.fingerprint),
        actor=push.actor, occurred_at=push.occurred_at,
    )
    return int(store_verdict(services, item, target, before))

"""What a GitHub webhook delivery means for us: signature check and the review/cancel/ignore decision.

Pure on purpose (no I/O): the web layer verifies, calls :func:`decide`, records and enqueues,
so GitHub gets its answer in milliseconds. Feedback on the bot's inline comments (a resolved
review thread, a reply) becomes a FEEDBACK decision carrying the feedback task's message.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from reviewer.commands import CommandKind, is_collaborator, parse_command
from reviewer.render import parse_finding_marker
from reviewer.signals import (
    TEXT_LIMIT,
    ReplySignal,
    ThreadSignal,
    is_reviewer_command,
    parse_reply_command,
)

SIGNATURE_PREFIX = "sha256="

#: Actions that start (or re-start) a review of the PR's current head.
REVIEW_ACTIONS = frozenset({"opened", "reopened", "ready_for_review", "synchronize"})
#: Actions after which a running review is no longer wanted.
CANCEL_ACTIONS = frozenset({"closed", "converted_to_draft"})


class PayloadError(ValueError):
    """The delivery claims to be an event we handle but its body does not match that event."""


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send for ``body`` (for tests and fakes)."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the HMAC-SHA256 of the raw ``body`` under ``secret``.

    Compared in constant time. A missing, malformed or non-``sha256=`` header is simply
    invalid: the caller answers 401 either way and must not say which.
    """
    if not secret or not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    if len(given) != 64 or any(c not in "0123456789abcdef" for c in given):
        return False
    return hmac.compare_digest(sign(secret, body), SIGNATURE_PREFIX + given)


# -- the parts of the payloads we use ---------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(_Model):
    login: str
    type: str = "User"


class GitRef(_Model):
    sha: str
    ref: str


class PullRequestData(_Model):
    number: int
    state: str
    draft: bool = False
    head: GitRef
    base: GitRef
    user: Account
    title: str = ""


class Repository(_Model):
    full_name: str


class Installation(_Model):
    id: int


class PullRequestEvent(_Model):
    """The ``pull_request`` webhook event, reduced to what a review needs."""

    action: str
    number: int
    pull_request: PullRequestData
    repository: Repository
    sender: Account
    installation: Installation | None = None
    # only on "synchronize": the head before and after the push
    before: str | None = None
    after: str | None = None


class IssueData(_Model):
    number: int
    state: str = "open"
    # present only when the issue is a pull request
    pull_request: dict[str, Any] | None = None


class CommentData(_Model):
    id: int
    body: str | None = None
    user: Account
    author_association: str = "NONE"


class IssueCommentEvent(_Model):
    """The ``issue_comment`` event, reduced to what a command needs."""

    action: str
    issue: IssueData
    comment: CommentData
    repository: Repository
    sender: Account
    installation: Installation | None = None


class ReviewCommentData(_Model):
    """A pull request review comment (inline), as webhooks carry it."""

    id: int
    body: str | None = None
    user: Account
    author_association: str = "NONE"
    in_reply_to_id: int | None = None
    path: str | None = None
    line: int | None = None
    original_line: int | None = None
    created_at: datetime | None = None


class PullRequestRef(_Model):
    number: int
    head: GitRef
    user: Account


class ReviewThread(_Model):
    node_id: str
    comments: list[ReviewCommentData] = []


class ReviewThreadEvent(_Model):
    """The ``pull_request_review_thread`` event (resolved / unresolved)."""

    action: str
    thread: ReviewThread
    pull_request: PullRequestRef
    repository: Repository
    sender: Account
    installation: Installation | None = None


class ReviewCommentEvent(_Model):
    """The ``pull_request_review_comment`` event (created / edited / deleted)."""

    action: str
    comment: ReviewCommentData
    pull_request: PullRequestRef
    repository: Repository
    sender: Account
    installation: Installation | None = None


class DecisionKind(StrEnum):
    REVIEW = "review"
    CANCEL = "cancel"
    IGNORE = "ignore"
    PONG = "pong"
    COMMAND = "command"
    FEEDBACK = "feedback"


class Decision(_Model):
    """What to do with one delivery; the fields describe the PR when the event names one."""

    kind: DecisionKind
    reason: str = ""
    event: str = ""
    action: str | None = None
    repo: str | None = None
    number: int | None = None
    head_sha: str | None = None
    base_sha: str | None = None
    installation_id: int | None = None
    draft: bool = False
    before_sha: str | None = None
    # only for COMMAND: the comment, its author and the command it holds
    # (``author`` is also the sender of a pull_request event and of a feedback event)
    comment_id: int | None = None
    author: str | None = None
    command: CommandKind | None = None
    argument: str | None = None
    # only for FEEDBACK: the feedback task's message
    feedback: ThreadSignal | ReplySignal | None = None


def is_own_event(sender: Account, bot_login: str | None) -> bool:
    """Whether ``sender`` is the bot itself.

    An App acts as ``<slug>[bot]`` (type ``Bot``); settings may name it with or without the
    suffix. A human login can never contain ``[bot]``, so the lenient match is only applied to
    senders of type Bot.
    """
    if not bot_login:
        return False
    login, wanted = sender.login.lower(), bot_login.lower()
    if login == wanted:
        return True
    if sender.type.lower() == "bot":
        return login.removesuffix("[bot]") == wanted.removesuffix("[bot]")
    return False


def _parse[M: _Model](model: type[M], event: str, payload: Any) -> M:
    """The typed event, or :class:`PayloadError` saying what is missing."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{event} payload must be a JSON object, got {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise PayloadError(f"malformed {event} payload: {problems}") from exc


def parse_pull_request_event(payload: Any) -> PullRequestEvent:
    """The typed ``pull_request`` event, or :class:`PayloadError` saying what is missing."""
    return _parse(PullRequestEvent, "pull_request", payload)


def decide(
    event: str, payload: Any, *, bot_login: str | None, classify_replies: bool = False
) -> Decision:
    """The rules of DESIGN §4 for one delivery.

    Review on opened (not drafts), reopened, ready_for_review and synchronize; cancel on
    closed and converted_to_draft; ignore the bot's own events and everything else. Pushes to
    (or reopening of) a draft are ignored too: drafts are not reviewed until they are ready,
    otherwise ``converted_to_draft`` would cancel a review the next push restarts.
    """
    if event == "ping":
        return Decision(kind=DecisionKind.PONG, event=event, reason="ping")
    if event == "issue_comment":
        return decide_comment(payload, bot_login=bot_login)
    if event == "pull_request_review_thread":
        return decide_review_thread(payload, bot_login=bot_login)
    if event == "pull_request_review_comment":
        return decide_review_reply(payload, bot_login=bot_login, classify=classify_replies)
    if event != "pull_request":
        return Decision(
            kind=DecisionKind.IGNORE, event=event, reason=f"unsupported event {event!r}"
        )

    pr_event = parse_pull_request_event(payload)
    pr = pr_event.pull_request
    common: dict[str, Any] = {
        "event": event,
        "action": pr_event.action,
        "repo": pr_event.repository.full_name,
        "number": pr_event.number,
        "head_sha": pr.head.sha,
        "base_sha": pr.base.sha,
        "installation_id": pr_event.installation.id if pr_event.installation else None,
        "draft": pr.draft,
        "author": pr_event.sender.login,
    }
    action = pr_event.action

    if is_own_event(pr_event.sender, bot_login):
        return Decision(kind=DecisionKind.IGNORE, reason="event sent by the bot itself", **common)
    if action in CANCEL_ACTIONS:
        return Decision(kind=DecisionKind.CANCEL, reason=f"pull request {action}", **common)
    if action in REVIEW_ACTIONS:
        if pr.draft:
            return Decision(
                kind=DecisionKind.IGNORE, reason=f"draft pull request ({action})", **common
            )
        if pr.state != "open":
            return Decision(
                kind=DecisionKind.IGNORE, reason=f"pull request is {pr.state} ({action})", **common
            )
        before = pr_event.before if action == "synchronize" else None
        return Decision(kind=DecisionKind.REVIEW, reason=action, before_sha=before, **common)
    return Decision(kind=DecisionKind.IGNORE, reason=f"action {action!r} needs no review", **common)


def decide_comment(payload: Any, *, bot_login: str | None) -> Decision:
    """A new comment on a pull request holding a ``/reviewer`` command from a collaborator is a
    COMMAND; everything else (issues, edits, other people, plain comments) is ignored."""
    comment_event = _parse(IssueCommentEvent, "issue_comment", payload)
    comment = comment_event.comment
    common: dict[str, Any] = {
        "event": "issue_comment",
        "action": comment_event.action,
        "repo": comment_event.repository.full_name,
        "number": comment_event.issue.number,
        "installation_id": comment_event.installation.id if comment_event.installation else None,
        "comment_id": comment.id,
        "author": comment.user.login,
    }

    def ignore(reason: str) -> Decision:
        return Decision(kind=DecisionKind.IGNORE, reason=reason, **common)

    if comment_event.action != "created":
        return ignore(f"comment {comment_event.action}")
    if comment_event.issue.pull_request is None:
        return ignore("comment on an issue, not a pull request")
    if is_own_event(comment_event.sender, bot_login) or is_own_event(comment.user, bot_login):
        return ignore("comment by the bot itself")
    command = parse_command(comment.body)
    if command is None:
        return ignore("not a reviewer command")
    if not is_collaborator(comment.author_association):
        return ignore(
            f"command from {comment.user.login} ({comment.author_association}), not a collaborator"
        )
    return Decision(
        kind=DecisionKind.COMMAND, reason=f"command {command.kind.value}",
        command=command.kind, argument=command.argument, **common,
    )


# -- feedback on the bot's inline comments ----------------------------------------------------


def _thread_root(thread: ReviewThread) -> ReviewCommentData | None:
    """The comment that started the thread (the one that answers no other)."""
    return next((c for c in thread.comments if c.in_reply_to_id is None), None) or (
        thread.comments[0] if thread.comments else None
    )


def decide_review_thread(payload: Any, *, bot_login: str | None) -> Decision:
    """A thread the bot started, resolved or unresolved by a person, is FEEDBACK; the task
    decides between accepted (the code changed there) and dismissed (it did not)."""
    thread_event = _parse(ReviewThreadEvent, "pull_request_review_thread", payload)
    pr = thread_event.pull_request
    common: dict[str, Any] = {
        "event": "pull_request_review_thread",
        "action": thread_event.action,
        "repo": thread_event.repository.full_name,
        "number": pr.number,
        "head_sha": pr.head.sha,
        "installation_id": thread_event.installation.id if thread_event.installation else None,
        "author": thread_event.sender.login,
    }

    def ignore(reason: str) -> Decision:
        return Decision(kind=DecisionKind.IGNORE, reason=reason, **common)

    if thread_event.action not in ("resolved", "unresolved"):
        return ignore(f"thread {thread_event.action}")
    if is_own_event(thread_event.sender, bot_login):
        return ignore("thread changed by the bot itself")
    root = _thread_root(thread_event.thread)
    fingerprint = parse_finding_marker(root.body or "") if root is not None else None
    if root is None or fingerprint is None or (bot_login and not is_own_event(root.user, bot_login)):
        return ignore("thread not started by the bot")
    signal = ThreadSignal(
        repo=common["repo"], number=pr.number, installation_id=common["installation_id"],
        actor=thread_event.sender.login, thread_id=thread_event.thread.node_id,
        resolved=thread_event.action == "resolved", fingerprint=fingerprint, head_sha=pr.head.sha,
        outdated=root.line is None and root.original_line is not None,
    )
    return Decision(
        kind=DecisionKind.FEEDBACK, reason=f"thread {thread_event.action}", feedback=signal, **common
    )


def decide_review_reply(payload: Any, *, bot_login: str | None, classify: bool) -> Decision:
    """A new reply to an inline comment, by the PR's author or a collaborator, is FEEDBACK when
    it is ``/reviewer accept|reject`` or (with ``classify``, i.e. an LLM) plain text. Whether
    it answers the bot is only known from the parent comment, which the task fetches."""
    comment_event = _parse(ReviewCommentEvent, "pull_request_review_comment", payload)
    comment, pr = comment_event.comment, comment_event.pull_request
    common: dict[str, Any] = {
        "event": "pull_request_review_comment",
        "action": comment_event.action,
        "repo": comment_event.repository.full_name,
        "number": pr.number,
        "head_sha": pr.head.sha,
        "installation_id": comment_event.installation.id if comment_event.installation else None,
        "comment_id": comment.id,
        "author": comment.user.login,
    }

    def ignore(reason: str) -> Decision:
        return Decision(kind=DecisionKind.IGNORE, reason=reason, **common)

    if comment_event.action != "created":
        return ignore(f"review comment {comment_event.action}")
    if comment.in_reply_to_id is None:
        return ignore("not a reply")
    if is_own_event(comment_event.sender, bot_login) or is_own_event(comment.user, bot_login):
        return ignore("reply by the bot itself")
    if not (is_collaborator(comment.author_association) or comment.user.login == pr.user.login):
        return ignore(
            f"reply from {comment.user.login} ({comment.author_association}), "
            "neither the author nor a collaborator"
        )
    signal_fields: dict[str, Any] = {
        "repo": common["repo"], "number": pr.number, "installation_id": common["installation_id"],
        "actor": comment.user.login, "comment_id": comment.id, "parent_id": comment.in_reply_to_id,
        "occurred_at": comment.created_at,
    }
    command = parse_reply_command(comment.body)
    if command is not None:
        signal = ReplySignal(**signal_fields, verdict=command.verdict, reason=command.reason)
        reason = f"reply command {command.verdict.value}"
    elif is_reviewer_command(comment.body):
        return ignore("not a reply command (/reviewer accept | reject [reason])")
    elif not classify or not (comment.body or "").strip():
        return ignore("plain-text reply and no classifier (LLM) configured")
    else:
        signal = ReplySignal(**signal_fields, text=(comment.body or "")[:TEXT_LIMIT])
        reason = "reply text"
    return Decision(kind=DecisionKind.FEEDBACK, reason=reason, feedback=signal, **common)

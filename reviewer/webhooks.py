"""What a GitHub webhook delivery means for us: signature check and the review/cancel/ignore decision.

Pure on purpose (no I/O): the web layer verifies, calls :func:`decide`, records and enqueues,
so GitHub gets its answer in milliseconds. Feedback on the bot's inline comments (a resolved
review thread, a reply) is decided in ``reviewer.feedback_decisions``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from reviewer.commands import is_collaborator, parse_command
from reviewer.feedback_decisions import decide_review_reply, decide_review_thread

# The payload models and the Decision live in ``webhook_events``; the names other layers
# use are re-exported here, so ``reviewer.webhooks`` stays the one entry point.
from reviewer.webhook_events import (  # noqa: F401 - re-exported
    Account,
    Decision,
    DecisionKind,
    IssueCommentEvent,
    PayloadError,
    PullRequestEvent,
    comment_fields,
    is_own_event,
    parse_event,
    parse_pull_request_event,
)

SIGNATURE_PREFIX = "sha256="

#: Actions that start (or re-start) a review of the PR's current head.
REVIEW_ACTIONS = frozenset({"opened", "reopened", "ready_for_review", "synchronize"})
#: Actions after which a running review is no longer wanted.
CANCEL_ACTIONS = frozenset({"closed", "converted_to_draft"})


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
    comment_event = parse_event(IssueCommentEvent, "issue_comment", payload)
    comment = comment_event.comment
    common = comment_fields("issue_comment", comment_event, comment_event.issue.number)

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

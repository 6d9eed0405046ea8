"""Feedback on the bot's inline comments, as webhooks tell it: a review thread resolved or
unresolved, a reply. Pure: each becomes a FEEDBACK decision carrying the feedback task's
message (``reviewer.signals``), or is ignored with the reason."""

from __future__ import annotations

from typing import Any

from reviewer.commands import is_collaborator
from reviewer.render import parse_finding_marker
from reviewer.signals import (
    TEXT_LIMIT,
    ReplySignal,
    ThreadSignal,
    is_reviewer_command,
    parse_reply_command,
)
from reviewer.webhook_events import (
    Decision,
    DecisionKind,
    ReviewCommentData,
    ReviewCommentEvent,
    ReviewThread,
    ReviewThreadEvent,
    comment_fields,
    is_own_event,
    parse_event,
)


def _thread_root(thread: ReviewThread) -> ReviewCommentData | None:
    """The comment that started the thread (the one that answers no other)."""
    return next((c for c in thread.comments if c.in_reply_to_id is None), None) or (
        thread.comments[0] if thread.comments else None
    )


def decide_review_thread(payload: Any, *, bot_login: str | None) -> Decision:
    """A thread the bot started, resolved or unresolved by a person, is FEEDBACK; the task
    decides between accepted (the code changed there) and dismissed (it did not)."""
    thread_event = parse_event(ReviewThreadEvent, "pull_request_review_thread", payload)
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
    comment_event = parse_event(ReviewCommentEvent, "pull_request_review_comment", payload)
    comment, pr = comment_event.comment, comment_event.pull_request
    common = comment_fields("pull_request_review_comment", comment_event, pr.number, head_sha=pr.head.sha)

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

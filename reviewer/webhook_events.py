"""The parts of GitHub's webhook payloads we use, as typed models, and the Decision a delivery
becomes. Pure: parsed and validated here, decided in ``reviewer.webhooks`` and
``reviewer.feedback_decisions``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from reviewer.commands import CommandKind
from reviewer.signals import ReplySignal, ThreadSignal


class PayloadError(ValueError):
    """The delivery claims to be an event we handle but its body does not match that event."""


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


def comment_fields(
    event: str, comment_event: IssueCommentEvent | ReviewCommentEvent, number: int, **extra: Any
) -> dict[str, Any]:
    """The :class:`Decision` fields every decision on a new comment carries, whatever it decides."""
    return {
        "event": event,
        "action": comment_event.action,
        "repo": comment_event.repository.full_name,
        "number": number,
        "installation_id": comment_event.installation.id if comment_event.installation else None,
        "comment_id": comment_event.comment.id,
        "author": comment_event.comment.user.login,
        **extra,
    }


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


def parse_event[M: _Model](model: type[M], event: str, payload: Any) -> M:
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
    return parse_event(PullRequestEvent, "pull_request", payload)

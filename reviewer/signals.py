"""Turning what developers do on the bot's inline comments into verdicts: the pure rules.

The webhook rules (``reviewer.webhooks``) reduce a resolved thread or a reply to a
:class:`ThreadSignal` / :class:`ReplySignal` (the feedback task's message); the poller reduces
a comment's reactions to new and vanished votes with :func:`reaction_changes`. Everything here
is pure; the tasks fetch, resolve the finding and store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from reviewer.commands import PREFIX
from reviewer.feedback import Verdict

#: Longest reason kept from ``/reviewer reject <reason>`` (the feedback row allows 2,000).
REASON_LIMIT = 500
#: Longest reply text sent to the classifier; the rest is cut.
TEXT_LIMIT = 2_000
#: The reactions that are votes; every other emoji says nothing about the finding.
REACTION_VERDICTS: Mapping[str, Verdict] = {"+1": Verdict.ACCEPTED, "-1": Verdict.REJECTED}

_REPLY_VERBS = {"accept": Verdict.ACCEPTED, "reject": Verdict.REJECTED}


class FeedbackSource(StrEnum):
    THREAD = "thread"
    REPLY = "reply"


class _Signal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str
    number: int
    installation_id: int | None = None
    delivery_id: str | None = Field(default=None, max_length=100)
    actor: str | None = None
    occurred_at: datetime | None = None


class ThreadSignal(_Signal):
    """A review thread the bot started was resolved (or unresolved again)."""

    source: Literal[FeedbackSource.THREAD] = FeedbackSource.THREAD
    thread_id: str = Field(min_length=1, max_length=200)
    resolved: bool
    fingerprint: str
    # The PR's head when the thread was resolved, and whether GitHub already marks the
    # bot's comment outdated (its lines changed since it was posted).
    head_sha: str
    outdated: bool = False

    @property
    def source_key(self) -> str:
        return thread_key(self.thread_id)


class ReplySignal(_Signal):
    """A reply to a review comment: a command (``verdict`` set) or text to classify."""

    source: Literal[FeedbackSource.REPLY] = FeedbackSource.REPLY
    comment_id: int
    parent_id: int
    verdict: Verdict | None = None
    reason: str | None = Field(default=None, max_length=REASON_LIMIT)
    text: str | None = Field(default=None, max_length=TEXT_LIMIT)

    @property
    def source_key(self) -> str:
        return f"reply:{self.comment_id}"


class PushSignal(_Signal):
    """A push to a PR (``synchronize``): were any of the bot's suggestions applied in it?"""

    head_sha: str


FeedbackSignal = Annotated[ThreadSignal | ReplySignal, Field(discriminator="source")]
FEEDBACK_SIGNAL = TypeAdapter(FeedbackSignal)


def thread_key(thread_id: str) -> str:
    """One key per thread: unresolving retracts it, resolving again reinstates it."""
    return f"thread:{thread_id}:resolved"


def applied_key(review_id: int, fingerprint: str) -> str:
    return f"applied:{review_id}:{fingerprint}"


def reaction_key(reaction_id: int) -> str:
    return f"reaction:{reaction_id}"


# -- replies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyCommand:
    verdict: Verdict
    reason: str | None = None


def parse_reply_command(body: str | None) -> ReplyCommand | None:
    """``/reviewer accept`` or ``/reviewer reject [reason]`` on the reply's first non-empty
    line; the reason may continue on the following lines. None for anything else."""
    lines = (body or "").strip().splitlines()
    if not lines:
        return None
    words = lines[0].split(maxsplit=2)
    if len(words) < 2 or words[0].lower() != PREFIX:
        return None
    verdict = _REPLY_VERBS.get(words[1].lower())
    if verdict is None:
        return None
    rest = " ".join([*(words[2:]), *(ln.strip() for ln in lines[1:])]).strip()
    if verdict is Verdict.ACCEPTED:
        return ReplyCommand(verdict)
    reason = re.sub(r"\s+", " ", rest)[:REASON_LIMIT] or None
    return ReplyCommand(verdict, reason)


def is_reviewer_command(body: str | None) -> bool:
    """Whether the reply starts with ``/reviewer`` (an unknown command is not plain text)."""
    first = next((ln.strip() for ln in (body or "").splitlines() if ln.strip()), "")
    return first.lower().split(maxsplit=1)[:1] == [PREFIX]


# -- reactions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    """One 👍 / 👎 on one comment by one user (GitHub's reaction id names it)."""

    reaction_id: int
    user: str
    verdict: Verdict
    created_at: datetime | None = None


def votes(reactions: Iterable[Mapping], *, is_bot: Callable[[str, str], bool]) -> list[Vote]:
    """The reactions that are votes, leaving out the bot's own. Each reaction is a mapping
    with ``id``, ``content``, ``user``, ``user_type`` and ``created_at``."""
    out = []
    for reaction in reactions:
        verdict = REACTION_VERDICTS.get(str(reaction.get("content")))
        user = str(reaction.get("user") or "")
        if verdict is None or is_bot(user, str(reaction.get("user_type") or "User")):
            continue
        out.append(Vote(int(reaction["id"]), user, verdict, reaction.get("created_at")))
    return out


@dataclass(frozen=True)
class ReactionChanges:
    added: list[Vote]
    removed: list[int]  # reaction ids no longer there


def reaction_changes(seen: Iterable[int], current: Iterable[Vote]) -> ReactionChanges:
    """What changed on a comment since the last poll: new votes, and votes taken back."""
    seen_ids = set(seen)
    now = list(current)
    now_ids = {v.reaction_id for v in now}
    return ReactionChanges(
        added=[v for v in now if v.reaction_id not in seen_ids],
        removed=sorted(seen_ids - now_ids),
    )

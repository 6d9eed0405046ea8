"""What developers told us about a finding: the signals of the learning loop and their verdicts.

Every signal GitHub gives (an applied suggestion, a resolved thread, a reply, a reaction) is
reduced to one :class:`FeedbackItem` about one posted finding. Signals are facts about GitHub
objects, so each carries a ``source_key`` naming the object it came from: a redelivered
webhook or a second poll of the same reaction is the same item, never a second vote.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Signal(StrEnum):
    """Where a verdict came from."""

    SUGGESTION_APPLIED = "suggestion_applied"  # a later push made the lines equal to the suggestion
    THREAD_RESOLVED_CHANGED = "thread_resolved_changed"  # resolved after the code changed there
    THREAD_RESOLVED_UNCHANGED = "thread_resolved_unchanged"  # resolved with the code left as it was
    REPLY_COMMAND = "reply_command"  # /reviewer accept | reject [reason] in a reply
    REPLY_TEXT = "reply_text"  # a plain-text reply, classified (only with an LLM)
    REACTION = "reaction"  # 👍 / 👎 on the bot's comment, found by polling


class Verdict(StrEnum):
    """What a signal says about the finding.

    ``dismissed`` is weaker than ``rejected``: the developer closed the thread without acting,
    which may mean "not worth it" or just "later".
    """

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DISMISSED = "dismissed"


class FeedbackItem(BaseModel):
    """One verdict on one posted finding, by one person (or by a push, for applied suggestions)."""

    model_config = ConfigDict(frozen=True)

    repo: str
    pr_number: int
    fingerprint: str
    signal: Signal
    verdict: Verdict
    # Names the GitHub object the signal came from, e.g. "reaction:123", "reply:456",
    # "thread:789:resolved", "applied:<review id>:<fingerprint>": the idempotency key.
    source_key: str = Field(min_length=1, max_length=300)
    actor: str | None = None
    reason: str | None = Field(default=None, max_length=2000)
    occurred_at: datetime | None = None

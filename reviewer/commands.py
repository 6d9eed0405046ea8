"""``/reviewer`` commands in pull-request comments: who may give them, and what they say.

Only repository collaborators (``author_association`` OWNER, MEMBER or COLLABORATOR) are
obeyed: anyone can comment on a public pull request, and ``ignore`` or ``pause`` would let a
stranger silence the review of their own change. Everyone else is ignored politely — no
reaction, a log line. Pure: the webhook rules call :func:`parse_command`, a task acts.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
PREFIX = "/reviewer"
_ARGUMENT = re.compile(r"[A-Za-z0-9_.:/-]{1,200}")


class CommandKind(StrEnum):
    REVIEW = "review"
    PAUSE = "pause"
    RESUME = "resume"
    IGNORE = "ignore"
    HELP = "help"


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: CommandKind
    argument: str | None = None


class CommandRequest(BaseModel):
    """What the command task gets: one command on one PR, from one comment (ids only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str
    number: int
    comment_id: int
    author: str
    kind: CommandKind
    argument: str | None = None
    installation_id: int | None = None
    delivery_id: str | None = Field(default=None, max_length=100)


#: The reaction that acknowledges each command: done (+1), or queued (eyes) for a review.
REACTIONS: dict[CommandKind, str] = {
    CommandKind.REVIEW: "eyes",
    CommandKind.PAUSE: "+1",
    CommandKind.RESUME: "+1",
    CommandKind.IGNORE: "+1",
    CommandKind.HELP: "+1",
}

HELP_MARKER = "<!-- reviewer:help -->"
HELP_TEXT = f"""{HELP_MARKER}
**reviewer commands** (for repository collaborators; one per comment, on its first line):

| command | effect |
|---|---|
| `/reviewer review` | a full review of the current head |
| `/reviewer pause` | stop reviewing this pull request on push |
| `/reviewer resume` | review it on push again |
| `/reviewer ignore <rule or fingerprint>` | never report this rule or finding in this repository again |
| `/reviewer help` | this message |

On the bot's inline comments, tell it what you think; it learns per repository (a rejected
finding is not posted again on similar code): reply `/reviewer accept` or
`/reviewer reject <reason>`, react 👍 / 👎, or resolve the thread (after changing the code:
accepted; without: dismissed). Rejections count from people with write access.

Repository settings: `.reviewer.toml` on the base branch (see the service's docs/configuration.md)."""


def is_collaborator(author_association: str | None) -> bool:
    return (author_association or "").upper() in TRUSTED_ASSOCIATIONS


def parse_command(body: str | None) -> Command | None:
    """The command on the comment's first non-empty line, or None (not a command, an unknown
    one, or ``ignore`` without a valid rule name / fingerprint)."""
    line = next((ln.strip() for ln in (body or "").splitlines() if ln.strip()), "")
    words = line.split()
    if len(words) < 2 or words[0].lower() != PREFIX:
        return None
    try:
        kind = CommandKind(words[1].lower())
    except ValueError:
        return None
    rest = words[2:]
    if kind is CommandKind.IGNORE:
        if len(rest) != 1 or not _ARGUMENT.fullmatch(rest[0]):
            return None
        return Command(kind=kind, argument=rest[0])
    if rest:
        return None
    return Command(kind=kind)

"""The interfaces the core needs from the outside world (code host, ...), as Protocols.

Adapters in ``reviewer.adapters`` implement them; tests pass fakes that speak real HTTP.
Provider-neutral on purpose, so GitLab merge requests can follow GitHub.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class PullRequestInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    repo: str
    number: int
    title: str = ""
    state: str = "open"
    draft: bool = False
    head_sha: str
    base_sha: str
    base_ref: str = ""
    head_ref: str = ""
    author: str = ""


class PullRequestFile(BaseModel):
    """One entry of GitHub's 'list pull request files' (``patch`` may be missing)."""

    model_config = ConfigDict(extra="ignore")

    filename: str
    status: str
    previous_filename: str | None = None
    patch: str | None = None
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    sha: str | None = None


class InlineComment(BaseModel):
    """An inline review comment on a validated anchor (GitHub's review-comment shape)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    line: int
    side: str = "RIGHT"
    start_line: int | None = None
    start_side: str | None = None
    body: str


class IssueComment(BaseModel):
    """A conversation comment on a PR (GitHub's issue comment), as far as the bot reads it."""

    model_config = ConfigDict(extra="ignore")

    id: int
    body: str = ""
    author: str = ""


class ReactionRollup(BaseModel):
    """The reaction counts GitHub includes with every comment (``reactions``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    total_count: int = 0
    plus_one: int = Field(default=0, alias="+1")
    minus_one: int = Field(default=0, alias="-1")


class ReviewComment(BaseModel):
    """An inline review comment on a pull request, as far as the learning loop reads it."""

    model_config = ConfigDict(extra="ignore")

    id: int
    body: str = ""
    author: str = ""
    author_type: str = "User"
    in_reply_to_id: int | None = None
    path: str | None = None
    line: int | None = None
    original_line: int | None = None
    commit_id: str | None = None
    reactions: ReactionRollup = ReactionRollup()


class Reaction(BaseModel):
    """One reaction on a comment, by one user."""

    model_config = ConfigDict(extra="ignore")

    id: int
    content: str
    user: str = ""
    user_type: str = "User"
    created_at: datetime | None = None


class Conditional[T](BaseModel):
    """One page of a list fetched with ``If-None-Match``: ``modified`` False is a 304 (free
    of rate limit; ``items`` empty, the caller's copy is still current)."""

    modified: bool
    etag: str | None = None
    items: list[T] = []
    has_next: bool = False


class CheckAnnotation(BaseModel):
    """One line-anchored note on a check run (GitHub's annotation shape)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    start_line: int
    end_line: int
    annotation_level: str  # notice | warning | failure
    message: str
    title: str | None = None


class CheckRunOutput(BaseModel):
    """The visible part of a check run; ``annotations`` at most 50 per request."""

    model_config = ConfigDict(extra="forbid")

    title: str
    summary: str
    text: str | None = None
    annotations: list[CheckAnnotation] = []


class CheckRunUpdate(BaseModel):
    """One create/update of a check run; unset fields are not sent."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = None  # queued | in_progress | completed
    conclusion: str | None = None  # success | failure | neutral | ... (with completed)
    details_url: str | None = None
    output: CheckRunOutput | None = None


class CodeHost(Protocol):
    """What a review needs from GitHub (or another host) for one repository installation."""

    def get_pull_request(self, repo: str, number: int) -> PullRequestInfo: ...

    def list_pull_request_files(self, repo: str, number: int) -> list[PullRequestFile]: ...

    def compare(self, repo: str, base: str, head: str) -> list[PullRequestFile]:
        """The files changed from ``base`` to ``head`` (with patches): what a push changed."""
        ...

    def list_tree(self, repo: str, ref: str) -> list[str]:
        """Every file path in the repository at ``ref`` (empty when unknown)."""
        ...

    def get_file_content(self, repo: str, path: str, ref: str) -> bytes | None:
        """The raw bytes of a file at a ref, or None when it does not exist there."""
        ...

    def find_review_with_marker(self, repo: str, number: int, marker: str) -> int | None:
        """The id of a review on the PR whose body contains ``marker``, if any."""
        ...

    def create_review(
        self, repo: str, number: int, *, commit_id: str, body: str, comments: list[InlineComment]
    ) -> int:
        """Create one review (event COMMENT). Never retried blindly by the adapter."""
        ...

    def list_issue_comments(self, repo: str, number: int) -> list[IssueComment]:
        """Every conversation comment on the PR, oldest first."""
        ...

    def create_issue_comment(self, repo: str, number: int, body: str) -> int:
        """Post a conversation comment; its id. Never retried blindly by the adapter."""
        ...

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> None:
        """Replace a comment's body (editing is idempotent, so the adapter may retry it)."""
        ...

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        """React to a conversation comment (``+1``, ``eyes``, ...); reacting twice is harmless."""
        ...

    def get_review_comment(self, repo: str, comment_id: int) -> ReviewComment | None:
        """One inline review comment (None when it no longer exists)."""
        ...

    def list_review_comments(
        self, repo: str, number: int, *, page: int = 1, etag: str | None = None
    ) -> Conditional[ReviewComment]:
        """One page (100) of the PR's inline comments, conditional on ``etag``."""
        ...

    def list_review_comment_reactions(
        self, repo: str, comment_id: int, *, etag: str | None = None
    ) -> Conditional[Reaction]:
        """Every reaction on an inline comment, conditional on the first page's ``etag``."""
        ...

    def create_issue(self, repo: str, title: str, body: str) -> tuple[int, str]:
        """Open an issue; its number and web URL. Not idempotent: never retried blindly."""
        ...

    def can_write(self, repo: str, login: str) -> bool:
        """Whether ``login`` has write access to ``repo`` (admin, maintain or write)."""
        ...

    def rate_remaining(self) -> int | None:
        """Requests left in this installation's shared rate-limit budget (None: unknown)."""
        ...

    def find_check_run(self, repo: str, head_sha: str, name: str, external_id: str) -> int | None:
        """The id of the check run named ``name`` on ``head_sha`` tagged ``external_id``."""
        ...

    def create_check_run(
        self, repo: str, *, head_sha: str, name: str, external_id: str, update: CheckRunUpdate
    ) -> int:
        """Create a check run on ``head_sha``; its id. Never retried blindly by the adapter."""
        ...

    def update_check_run(self, repo: str, check_run_id: int, update: CheckRunUpdate) -> None:
        """PATCH a check run (status, conclusion, output with up to 50 annotations)."""
        ...

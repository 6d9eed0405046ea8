"""The interfaces the core needs from the outside world (code host, ...), as Protocols.

Adapters in ``reviewer.adapters`` implement them; tests pass fakes that speak real HTTP.
Provider-neutral on purpose, so GitLab merge requests can follow GitHub.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


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


class CodeHost(Protocol):
    """What a review needs from GitHub (or another host) for one repository installation."""

    def get_pull_request(self, repo: str, number: int) -> PullRequestInfo: ...

    def list_pull_request_files(self, repo: str, number: int) -> list[PullRequestFile]: ...

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

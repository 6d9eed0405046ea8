"""What can go wrong talking to GitHub, sorted by what the caller should do about it."""

from __future__ import annotations


class GitHubError(Exception):
    """Any failure of a GitHub call. ``status`` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class TransientGitHubError(GitHubError):
    """Worth retrying later: 5xx, timeouts, network errors, primary or secondary rate limits.

    ``retry_after`` is how many seconds to wait first, from ``retry-after`` or
    ``x-ratelimit-reset`` when GitHub said so, else a short backoff.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float = 1.0
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = max(0.0, float(retry_after))


class PermanentGitHubError(GitHubError):
    """A 4xx that retrying will not fix (bad credentials, not found, forbidden, invalid)."""


class ReviewRejected(PermanentGitHubError):
    """GitHub refused the review with 422 (usually an anchor outside the diff); nothing was posted."""

    def __init__(self, message: str, *, errors: list[str] | None = None) -> None:
        super().__init__(message, status=422)
        self.errors = errors or []


class ReviewPostUncertain(GitHubError):
    """The review POST may or may not have been applied (timeout, 5xx, connection lost).

    Deliberately not a :class:`TransientGitHubError`: a generic retry would risk a duplicate
    review. The caller must look for its marker (``find_review_with_marker``) before posting
    again.
    """

"""GitHub adapter: the ``CodeHost`` port over GitHub's REST API (githubkit, sync)."""

from reviewer.adapters.github.errors import (
    GitHubError,
    PermanentGitHubError,
    ReviewPostUncertain,
    ReviewRejected,
    TransientGitHubError,
)
from reviewer.adapters.github.factory import GitHubHostFactory
from reviewer.adapters.github.host import GitHubHost

__all__ = [
    "GitHubError",
    "GitHubHost",
    "GitHubHostFactory",
    "PermanentGitHubError",
    "ReviewPostUncertain",
    "ReviewRejected",
    "TransientGitHubError",
]

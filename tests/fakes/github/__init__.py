"""A fake GitHub REST API: a real HTTP server on loopback, shared by every test of the project.

It speaks GitHub's paths, shapes (complete enough for githubkit's models), pagination,
rate-limit headers and, most importantly, GitHub's 422 rules for reviews: a review whose
commit is not the PR head, or one of whose comments is anchored outside the diff hunks, is
rejected whole and nothing is recorded. Tests script failures (status codes, secondary rate
limits, latency, a connection dropped after the review was stored) through methods, never
by patching.

    with FakeGitHub() as gh:
        gh.add_pull_request_from_texts("octo/app", 7, {"app.py": ("a = 1\\n", "a = 2\\n")})
        ...  # point the adapter at gh.url
        assert gh.reviews("octo/app", 7)
"""

from tests.fakes.github.model import (
    BOT_LOGIN,
    SECONDARY_RATE_LIMIT_MESSAGE,
    FakeFile,
    FakePullRequest,
    FakeRepo,
    IssuedToken,
    RecordedRequest,
    git_blob_sha,
    hunk_lines,
    make_patch,
    review_errors,
)
from tests.fakes.github.server import FakeGitHub

__all__ = [
    "BOT_LOGIN",
    "SECONDARY_RATE_LIMIT_MESSAGE",
    "FakeFile",
    "FakeGitHub",
    "FakePullRequest",
    "FakeRepo",
    "IssuedToken",
    "RecordedRequest",
    "git_blob_sha",
    "hunk_lines",
    "make_patch",
    "review_errors",
]

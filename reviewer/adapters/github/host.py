"""``CodeHost`` over GitHub's REST API (githubkit, sync), for one installation.

Reads are retried a bounded number of times, honouring ``retry-after``; creating a review
is never retried here, because GitHub does not make it idempotent: an unknown outcome is
reported as :class:`ReviewPostUncertain` and the caller looks for its marker first.
Responses are validated into the port's own pydantic models, so the code does not depend
on which githubkit schema version is installed (we send the API version we chose).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar
from urllib.parse import quote

import structlog
from githubkit import GitHub, Response
from githubkit.exception import RequestError, RequestFailed

from reviewer.adapters.github.errors import (
    GitHubError,
    PermanentGitHubError,
    ReviewPostUncertain,
    ReviewRejected,
    TransientGitHubError,
)
from reviewer.adapters.github.ratelimit import RateLimitBook
from reviewer.adapters.github.translate import NOT_SENT, github_message, origin, translate
from reviewer.ports import (
    CheckRunUpdate,
    Conditional,
    InlineComment,
    IssueComment,
    PullRequestFile,
    PullRequestInfo,
    Reaction,
    ReviewComment,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")
PER_PAGE = 100
MAX_PAGES = 100  # GitHub stops listing PR files at 3,000 (30 pages of 100)
#: ``permission`` values of the collaborator-permission endpoint that mean write access
#: (its legacy field maps maintain to write and triage to read).
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})


def split_repo(repo: str) -> tuple[str, str]:
    owner, sep, name = repo.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"repository must be 'owner/name', got {repo!r}")
    return owner, name


def rest_namespace(github: GitHub[Any], api_version: str) -> Any:
    """githubkit's typed namespace for our API version, or the latest one if that schema
    package is not installed (paths and parameters are the same; the header says which
    version we speak, and we read responses into our own models)."""
    try:
        return github.rest(api_version)  # type: ignore[arg-type]
    except (RuntimeError, KeyError):
        return github.rest


class GitHubHost:
    """One installation's view of GitHub. Use as a context manager to reuse connections."""

    def __init__(
        self,
        github: GitHub[Any],
        *,
        api_version: str,
        installation: str,
        rate_limits: RateLimitBook,
        max_get_retries: int = 2,
        max_retry_wait_s: float = 30.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._github = github
        self._rest = rest_namespace(github, api_version)
        self._headers = {"X-GitHub-Api-Version": api_version}
        self._installation = installation
        self._limits = rate_limits
        self._max_get_retries = max_get_retries
        self._max_retry_wait_s = max_retry_wait_s
        self._backoff_s = backoff_s
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"GitHubHost(installation={self._installation!r})"

    def __enter__(self) -> Self:
        self._github.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._github.__exit__(*exc_info)  # type: ignore[arg-type]

    # -- reads ---------------------------------------------------------------------------

    def get_pull_request(self, repo: str, number: int) -> PullRequestInfo:
        owner, name = split_repo(repo)
        data = self._get(lambda h: self._rest.pulls.get(owner, name, number, headers=h)).json()
        return PullRequestInfo(
            repo=repo,
            number=int(data["number"]),
            title=data.get("title") or "",
            state=data.get("state") or "open",
            draft=bool(data.get("draft")),
            head_sha=data["head"]["sha"],
            base_sha=data["base"]["sha"],
            head_ref=data["head"].get("ref") or "",
            base_ref=data["base"].get("ref") or "",
            author=(data.get("user") or {}).get("login") or "",
        )

    def list_pull_request_files(self, repo: str, number: int) -> list[PullRequestFile]:
        owner, name = split_repo(repo)
        pages = self._pages(
            lambda page, h: self._rest.pulls.list_files(
                owner, name, number, per_page=PER_PAGE, page=page, headers=h
            )
        )
        # GitHub omits ``patch`` for binary files and diffs too large to show.
        return [PullRequestFile.model_validate(item) for item in pages]

    def compare(self, repo: str, base: str, head: str) -> list[PullRequestFile]:
        """``GET /compare/{base}...{head}``: the files a push changed (GitHub lists at most
        300; a longer compare is a reason for the caller to review everything)."""
        owner, name = split_repo(repo)
        data = self._get(
            lambda h: self._rest.repos.compare_commits(
                owner, name, f"{base}...{head}", per_page=PER_PAGE, headers=h
            )
        ).json()
        return [PullRequestFile.model_validate(item) for item in data.get("files") or []]

    def list_tree(self, repo: str, ref: str) -> list[str]:
        """Every file path at ``ref`` (recursive tree; GitHub truncates very large trees)."""
        owner, name = split_repo(repo)
        try:
            data = self._get(
                lambda h: self._rest.git.get_tree(owner, name, ref, recursive="1", headers=h)
            ).json()
        except PermanentGitHubError as exc:
            if exc.status in (404, 409, 422):
                return []
            raise
        return [item["path"] for item in data.get("tree", []) if item.get("type") == "blob"]

    def get_file_content(self, repo: str, path: str, ref: str) -> bytes | None:
        owner, name = split_repo(repo)
        quoted = quote(path, safe="/")
        try:
            data = self._get(
                lambda h: self._rest.repos.get_content(owner, name, quoted, ref=ref, headers=h)
            ).json()
        except PermanentGitHubError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            return None  # a directory, symlink or submodule is not file content
        if data.get("encoding") == "base64":
            return base64.b64decode(data.get("content") or "")
        # Files of 1-100 MB come with encoding "none" and no content: fetch the blob.
        sha = data["sha"]
        blob = self._get(lambda h: self._rest.git.get_blob(owner, name, sha, headers=h)).json()
        if blob.get("encoding") == "base64":
            return base64.b64decode(blob.get("content") or "")
        return str(blob.get("content") or "").encode()

    def find_review_with_marker(self, repo: str, number: int, marker: str) -> int | None:
        owner, name = split_repo(repo)
        for review in self._pages(
            lambda page, h: self._rest.pulls.list_reviews(
                owner, name, number, per_page=PER_PAGE, page=page, headers=h
            )
        ):
            if marker in (review.get("body") or ""):
                return int(review["id"])
        return None

    # -- the one write -------------------------------------------------------------------

    def create_review(
        self, repo: str, number: int, *, commit_id: str, body: str, comments: list[InlineComment]
    ) -> int:
        owner, name = split_repo(repo)
        self._limits.check(self._installation)  # nothing sent yet: a plain transient error
        payload = [c.model_dump(exclude_none=True) for c in comments]
        try:
            response = self._rest.pulls.create_review(
                owner,
                name,
                number,
                headers=self._headers,
                commit_id=commit_id,
                body=body,
                event="COMMENT",
                comments=payload,
            )
        except RequestFailed as exc:
            raw = exc.response.raw_response
            message, errors = github_message(raw)
            if raw.status_code == 422:
                raise ReviewRejected(
                    f"GitHub rejected the review: {message}", errors=errors
                ) from exc
            if raw.status_code >= 500:
                raise ReviewPostUncertain(
                    f"GitHub answered {raw.status_code} to the review POST; it may exist",
                    status=raw.status_code,
                ) from exc
            # Rate limits (403/429) and other 4xx: GitHub created nothing.
            raise translate(exc) from exc
        except RequestError as exc:  # timeouts, transport errors, our auth flow's errors
            inner = origin(exc)
            if isinstance(inner, GitHubError | NOT_SENT):
                raise translate(exc) from exc
            raise ReviewPostUncertain(
                f"review POST outcome unknown ({type(inner).__name__}); check the marker first"
            ) from exc
        review_id = int(response.json()["id"])
        log.info(
            "github.review_created",
            repo=repo,
            number=number,
            review_id=review_id,
            comments=len(comments),
        )
        return review_id

    # -- the summary comment and the check run ------------------------------------------

    def list_issue_comments(self, repo: str, number: int) -> list[IssueComment]:
        owner, name = split_repo(repo)
        items = self._pages(
            lambda page, h: self._rest.issues.list_comments(
                owner, name, number, per_page=PER_PAGE, page=page, headers=h
            )
        )
        return [
            IssueComment(
                id=int(item["id"]),
                body=item.get("body") or "",
                author=(item.get("user") or {}).get("login") or "",
            )
            for item in items
        ]

    def create_issue_comment(self, repo: str, number: int, body: str) -> int:
        owner, name = split_repo(repo)
        response = self._write(
            "issue comment POST",
            lambda: self._rest.issues.create_comment(
                owner, name, number, headers=self._headers, data={"body": body}
            ),
        )
        comment_id = int(response.json()["id"])
        log.info("github.comment_created", repo=repo, number=number, comment_id=comment_id)
        return comment_id

    def create_issue(self, repo: str, title: str, body: str) -> tuple[int, str]:
        owner, name = split_repo(repo)
        response = self._write(
            "issue POST",
            lambda: self._rest.issues.create(
                owner, name, headers=self._headers, data={"title": title, "body": body}
            ),
        )
        data = response.json()
        log.info("github.issue_created", repo=repo, number=data.get("number"))
        return int(data["number"]), str(data.get("html_url") or "")

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> None:
        owner, name = split_repo(repo)
        # Setting a body is idempotent: retried like a read.
        self._get(
            lambda h: self._rest.issues.update_comment(
                owner, name, comment_id, headers=h, data={"body": body}
            )
        )

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        owner, name = split_repo(repo)
        # GitHub answers 200 for a reaction that already exists: idempotent, retried like a read.
        self._get(
            lambda h: self._rest.reactions.create_for_issue_comment(
                owner, name, comment_id, headers=h, data={"content": content}
            )
        )

    # -- the learning loop's reads: inline comments and their reactions -------------------

    def get_review_comment(self, repo: str, comment_id: int) -> ReviewComment | None:
        owner, name = split_repo(repo)
        try:
            data = self._get(
                lambda h: self._rest.pulls.get_review_comment(owner, name, comment_id, headers=h)
            ).json()
        except PermanentGitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return _review_comment(data)

    def list_review_comments(
        self, repo: str, number: int, *, page: int = 1, etag: str | None = None
    ) -> Conditional[ReviewComment]:
        owner, name = split_repo(repo)
        response = self._conditional(
            etag,
            lambda h: self._rest.pulls.list_review_comments(
                owner, name, number, per_page=PER_PAGE, page=page, headers=h
            ),
        )
        if response.status_code == 304:
            return Conditional(modified=False, etag=etag)
        return Conditional(
            modified=True,
            etag=response.headers.get("etag"),
            items=[_review_comment(item) for item in response.json()],
            has_next="next" in response.raw_response.links,
        )

    def list_review_comment_reactions(
        self, repo: str, comment_id: int, *, etag: str | None = None
    ) -> Conditional[Reaction]:
        owner, name = split_repo(repo)

        def page_of(page: int, headers: Mapping[str, str]) -> Response[Any]:
            return self._rest.reactions.list_for_pull_request_review_comment(
                owner, name, comment_id, per_page=PER_PAGE, page=page, headers=headers
            )

        first = self._conditional(etag, lambda h: page_of(1, h))
        if first.status_code == 304:
            return Conditional(modified=False, etag=etag)
        items = list(first.json())
        if "next" in first.raw_response.links:  # rare: more than 100 reactions
            items += self._pages(page_of)[len(items):]
        return Conditional(
            modified=True, etag=first.headers.get("etag"), items=[_reaction(r) for r in items]
        )

    def can_write(self, repo: str, login: str) -> bool:
        owner, name = split_repo(repo)
        try:
            data = self._get(
                lambda h: self._rest.repos.get_collaborator_permission_level(owner, name, login, headers=h)
            ).json()
        except PermanentGitHubError as exc:
            if exc.status == 404:  # no such user, or not visible to us: no access
                return False
            raise
        return data.get("permission") in WRITE_PERMISSIONS

    def rate_remaining(self) -> int | None:
        state = self._limits.state(self._installation)
        return None if state is None else state.remaining

    def find_check_run(self, repo: str, head_sha: str, name: str, external_id: str) -> int | None:
        owner, repo_name = split_repo(repo)
        for page in range(1, MAX_PAGES + 1):
            response = self._get(
                lambda h, page=page: self._rest.checks.list_for_ref(
                    owner, repo_name, head_sha, check_name=name, filter_="all",
                    per_page=PER_PAGE, page=page, headers=h,
                )
            )
            for run in response.json().get("check_runs") or []:
                if run.get("external_id") == external_id:
                    return int(run["id"])
            if "next" not in response.raw_response.links:
                break
        return None

    def create_check_run(
        self, repo: str, *, head_sha: str, name: str, external_id: str, update: CheckRunUpdate
    ) -> int:
        owner, repo_name = split_repo(repo)
        data = {"name": name, "head_sha": head_sha, "external_id": external_id}
        data |= update.model_dump(mode="json", exclude_none=True)
        response = self._write(
            "check run POST",
            lambda: self._rest.checks.create(owner, repo_name, headers=self._headers, data=data),
        )
        check_run_id = int(response.json()["id"])
        log.info("github.check_run_created", repo=repo, head_sha=head_sha, check_run_id=check_run_id)
        return check_run_id

    def update_check_run(self, repo: str, check_run_id: int, update: CheckRunUpdate) -> None:
        owner, repo_name = split_repo(repo)
        data = update.model_dump(mode="json", exclude_none=True)
        # A PATCH with annotations appends them: never retried blindly, or they double.
        write = update.output is not None and bool(update.output.annotations)
        call = lambda h: self._rest.checks.update(
            owner, repo_name, check_run_id, headers=h, data=data
        )
        if write:
            self._write("check run PATCH", lambda: call(self._headers))
        else:
            self._get(call)

    # -- plumbing ------------------------------------------------------------------------

    def _get(self, call: Callable[[Mapping[str, str]], Response[Any]]) -> Response[Any]:
        """A read, retried on transient errors while the wait is short enough."""
        attempt = 0
        while True:
            try:
                self._limits.check(self._installation)
                return call(self._headers)
            except Exception as exc:
                error = (
                    exc
                    if isinstance(exc, GitHubError)
                    else translate(exc, backoff_s=self._backoff_s * 2**attempt)
                )
                retryable = (
                    isinstance(error, TransientGitHubError)
                    and attempt < self._max_get_retries
                    and error.retry_after <= self._max_retry_wait_s
                )
                if not retryable:
                    if error is exc:
                        raise
                    raise error from exc
                log.warning(
                    "github.retry",
                    status=error.status,
                    attempt=attempt + 1,
                    retry_after=error.retry_after,
                    installation=self._installation,
                )
                self._sleep(error.retry_after)
                attempt += 1

    def _conditional(
        self, etag: str | None, call: Callable[[Mapping[str, str]], Response[Any]]
    ) -> Response[Any]:
        """A read sent with ``If-None-Match`` when an ETag is known; GitHub answers 304 (not
        counted against the rate limit) when nothing changed."""
        if etag is None:
            return self._get(call)
        return self._get(lambda h: call({**h, "If-None-Match": etag}))

    def _write(self, what: str, call: Callable[[], Response[Any]]) -> Response[Any]:
        """A write that is not idempotent: sent once; an unknown outcome is reported as such."""
        self._limits.check(self._installation)  # nothing sent yet: a plain transient error
        try:
            return call()
        except RequestFailed as exc:
            status = exc.response.raw_response.status_code
            if status >= 500:
                raise ReviewPostUncertain(
                    f"GitHub answered {status} to the {what}; it may have been applied",
                    status=status,
                ) from exc
            raise translate(exc) from exc  # 4xx, rate limits: nothing was applied
        except RequestError as exc:
            inner = origin(exc)
            if isinstance(inner, GitHubError | NOT_SENT):
                raise translate(exc) from exc
            raise ReviewPostUncertain(
                f"{what} outcome unknown ({type(inner).__name__}); look before sending again"
            ) from exc

    def _pages(
        self, call: Callable[[int, Mapping[str, str]], Response[Any]]
    ) -> list[dict[str, Any]]:
        """Every item of a paginated list, following ``Link: rel="next"``."""
        items: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            response = self._get(lambda h, page=page: call(page, h))
            items.extend(response.json())
            if "next" not in response.raw_response.links:
                break
        return items


def _review_comment(data: Mapping[str, Any]) -> ReviewComment:
    user = data.get("user") or {}
    return ReviewComment.model_validate(
        {**data, "author": user.get("login") or "", "author_type": user.get("type") or "User",
         "reactions": data.get("reactions") or {}}
    )


def _reaction(data: Mapping[str, Any]) -> Reaction:
    user = data.get("user") or {}
    return Reaction.model_validate(
        {**data, "user": user.get("login") or "", "user_type": user.get("type") or "User"}
    )

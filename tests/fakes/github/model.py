"""The fake GitHub's state, and GitHub's rules it enforces (diff hunks, review anchors, pages)."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_BRANCH = "main"
BOT_LOGIN = "reviewer[bot]"
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content "
    "creation. Please retry your request again later."
)
DOCS = "https://docs.github.com/rest"
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- state -------------------------------------------------------------------------------


@dataclass
class FakeFile:
    """One entry of a PR's file list (GitHub's ``diff-entry``)."""

    filename: str
    status: str = "modified"
    patch: str | None = None
    additions: int = 0
    deletions: int = 0
    previous_filename: str | None = None
    sha: str | None = None

    @property
    def changes(self) -> int:
        return self.additions + self.deletions


@dataclass
class FakePullRequest:
    number: int
    head_sha: str
    base_sha: str
    title: str = "A change"
    state: str = "open"
    draft: bool = False
    head_ref: str = "feature"
    base_ref: str = DEFAULT_BRANCH
    author: str = "octocat"
    body: str | None = None
    files: list[FakeFile] = field(default_factory=list)


@dataclass
class FakeRepo:
    full_name: str
    id: int
    pulls: dict[int, FakePullRequest] = field(default_factory=dict)
    contents: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (ref, path) -> data
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # PR/issue number -> its conversation comments (GitHub's issue comments), oldest first.
    issue_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Every check run, in creation order; each keeps its ``annotations`` and, for tests, the
    # list of request bodies that created and updated it (``requests``).
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    # PR number -> its inline review comments (GitHub's review comments), oldest first; each
    # keeps its reactions under ``_reactions`` (rendered as the ``reactions`` rollup).
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # login -> permission level ("admin", "write", "read", "none"); anyone unlisted has "write"
    # (a private organisation repository), so tests name only the outsiders.
    permissions: dict[str, str] = field(default_factory=dict)
    # The GitHub App's installation on this repository (``GET /repos/{o}/{r}/installation``).
    installation_id: int = 1


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float = 0.0  # time.time() when the request arrived (for latency figures)
    status: int = 0  # the status the fake answered (304 for a conditional request that matched)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class ScriptedFailure:
    method: str | None
    path: re.Pattern[str]
    status: int
    times: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class IssuedToken:
    installation_id: int
    token: str
    expires_at: float


# -- diff helpers ------------------------------------------------------------------------


def hunk_lines(patch: str | None) -> list[tuple[set[int], set[int]]]:
    """Per hunk: (LEFT lines = base lines shown, RIGHT lines = head lines shown)."""
    hunks: list[tuple[set[int], set[int]]] = []
    if not patch:
        return hunks
    left: set[int] = set()
    right: set[int] = set()
    old = new = 0
    for line in patch.splitlines():
        match = HUNK.match(line)
        if match:
            left, right = set(), set()
            hunks.append((left, right))
            old, new = int(match.group(1)), int(match.group(3))
            continue
        if not hunks or line.startswith("\\"):
            continue
        if line.startswith("+"):
            right.add(new)
            new += 1
        elif line.startswith("-"):
            left.add(old)
            old += 1
        else:
            left.add(old)
            right.add(new)
            old += 1
            new += 1
    return hunks


def make_patch(base: str, head: str, context: int = 3) -> tuple[str, int, int]:
    """A GitHub-style ``patch`` (hunks only, no file header) and its +/- counts."""
    lines = list(
        difflib.unified_diff(
            base.splitlines(keepends=True), head.splitlines(keepends=True), n=context, lineterm="\n"
        )
    )[2:]
    text = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
    additions = sum(1 for ln in lines if ln.startswith("+"))
    deletions = sum(1 for ln in lines if ln.startswith("-"))
    return text.rstrip("\n"), additions, deletions


# -- review validation (GitHub's 422 rules) ----------------------------------------------


def review_errors(pr: FakePullRequest, body: dict[str, Any]) -> list[str]:
    """Why GitHub would reject this review; empty when it would accept it."""
    errors: list[str] = []
    if body.get("commit_id") and body["commit_id"] != pr.head_sha:
        errors.append("commit_id is not the head of the pull request")
    if body.get("event") not in (None, "COMMENT", "APPROVE", "REQUEST_CHANGES"):
        errors.append(f"event {body.get('event')!r} is not valid")
    files = {f.filename: f for f in pr.files}
    for index, comment in enumerate(body.get("comments") or []):
        where = f"comments[{index}]"
        path, line = comment.get("path"), comment.get("line")
        if not comment.get("body"):
            errors.append(f"{where}: body is missing")
        if path not in files:
            errors.append(f"{where}: Path could not be resolved")
            continue
        if not isinstance(line, int):
            errors.append(f"{where}: line is required")  # 'position' is not supported here
            continue
        side = comment.get("side", "RIGHT")
        if side not in ("LEFT", "RIGHT"):
            errors.append(f"{where}: side must be LEFT or RIGHT")
            continue
        index_of_side = 0 if side == "LEFT" else 1
        hunks = hunk_lines(files[path].patch)
        hunk = next((h for h in hunks if line in h[index_of_side]), None)
        if hunk is None:
            errors.append(f"{where}: Line could not be resolved")
            continue
        start = comment.get("start_line")
        if start is not None:
            if comment.get("start_side", side) != side:
                errors.append(f"{where}: start_side must equal side")
            elif not isinstance(start, int) or start >= line:
                errors.append(f"{where}: start_line must precede line")
            elif start not in hunk[index_of_side]:
                errors.append(f"{where}: start_line must be part of the same hunk as the line")
    return errors


# -- check runs (GitHub's 422 rules) ------------------------------------------------------

CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CHECK_CONCLUSIONS = (
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out",
)
ANNOTATION_LEVELS = ("notice", "warning", "failure")
MAX_ANNOTATIONS_PER_REQUEST = 50
TEXT_LIMIT = 65_535


def check_run_errors(body: dict[str, Any], *, creating: bool) -> list[str]:
    """Why GitHub would reject this check-run create/update; empty when it would accept it."""
    errors: list[str] = []
    if creating:
        for name in ("name", "head_sha"):
            if not body.get(name):
                errors.append(f"{name} wasn't supplied")
    status = body.get("status")
    if status is not None and status not in CHECK_STATUSES:
        errors.append(f"status {status!r} is not a member of {CHECK_STATUSES}")
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
        errors.append(f"conclusion {conclusion!r} is not valid")
    if status == "completed" and conclusion is None:
        errors.append("conclusion is required when status is completed")
    output = body.get("output")
    if output is not None:
        if not output.get("title") or not output.get("summary"):
            errors.append("output requires title and summary")
        for key in ("summary", "text"):
            if len(output.get(key) or "") > TEXT_LIMIT:
                errors.append(f"output.{key} is too long (maximum is {TEXT_LIMIT} characters)")
        annotations = output.get("annotations") or []
        if len(annotations) > MAX_ANNOTATIONS_PER_REQUEST:
            errors.append(
                f"Only {MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed per request"
            )
        for index, note in enumerate(annotations):
            where = f"output.annotations[{index}]"
            missing = [
                k for k in ("path", "start_line", "end_line", "annotation_level", "message")
                if note.get(k) in (None, "")
            ]
            if missing:
                errors.append(f"{where}: missing {', '.join(missing)}")
                continue
            if note["annotation_level"] not in ANNOTATION_LEVELS:
                errors.append(f"{where}: annotation_level must be one of {ANNOTATION_LEVELS}")
            if note["end_line"] < note["start_line"]:
                errors.append(f"{where}: end_line precedes start_line")
    return errors


def paginate(
    base_url: str, path: str, query: dict[str, list[str]], items: list[Any]
) -> tuple[list[Any], dict[str, str]]:
    per_page = min(100, max(1, int(query.get("per_page", ["30"])[0])))
    page = max(1, int(query.get("page", ["1"])[0]))
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    url = lambda p: f"<{base_url}{path}?per_page={per_page}&page={p}>"
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links += [f'{url(1)}; rel="first"', f'{url(page - 1)}; rel="prev"']
    return chunk, ({"Link": ", ".join(links)} if links else {})

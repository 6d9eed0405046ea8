"""The fake GitHub server: state, builders from texts or git, scripting hooks, inspection."""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
import time
from difflib import SequenceMatcher
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from tests.fakes.github.handler import _Handler
from tests.fakes.github.model import (
    DOCS,
    SECONDARY_RATE_LIMIT_MESSAGE,
    FakeFile,
    FakePullRequest,
    FakeRepo,
    IssuedToken,
    RecordedRequest,
    ScriptedFailure,
    git_blob_sha,
    make_patch,
    now_iso,
)
from tests.fakes.github.shapes import GitHubShapes

# -- the server --------------------------------------------------------------------------


class FakeGitHub(GitHubShapes):
    """State plus a ThreadingHTTPServer on 127.0.0.1:<free port>."""

    def __init__(
        self,
        *,
        app_id: int | None = None,
        app_public_key: str | bytes | None = None,
        tokens: set[str] | None = None,
        token_ttl_s: float = 3600.0,
        rate_limit: int = 5000,
        large_file_bytes: int = 1_000_000,
    ) -> None:
        self.app_id = app_id
        self.app_public_key = app_public_key
        self.static_tokens = set(tokens or ())
        self.token_ttl_s = token_ttl_s
        self.rate_limit = rate_limit
        self.large_file_bytes = large_file_bytes
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # lifecycle

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeGitHub is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        """Forget all repos, reviews, tokens, scripted failures and the request log."""
        with self._lock:
            self.repos: dict[str, FakeRepo] = {}
            self.requests: list[RecordedRequest] = []
            self.issued_tokens: list[IssuedToken] = []
            self.failures: list[ScriptedFailure] = []
            self.latency: list[tuple[str | None, re.Pattern[str], float]] = []
            self.drop_review_responses = 0
            self.issues: dict[str, list[dict]] = {}  # repo -> issues opened through the API
            self.remaining = self.rate_limit
            self.reset_at = int(time.time()) + 3600
            self._ids = 1000

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    # building state

    def add_repo(self, full_name: str) -> FakeRepo:
        with self._lock:
            if full_name not in self.repos:
                self.repos[full_name] = FakeRepo(full_name, self.next_id())
            return self.repos[full_name]

    def set_content(self, repo: str, ref: str, path: str, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.add_repo(repo).contents[(ref, path)] = raw

    def add_pull_request(self, repo: str, pr: FakePullRequest) -> FakePullRequest:
        self.add_repo(repo).pulls[pr.number] = pr
        return pr

    def add_pull_request_from_texts(
        self,
        repo: str,
        number: int,
        changes: dict[str, tuple[str | bytes | None, str | bytes | None]],
        **pr_fields: Any,
    ) -> FakePullRequest:
        """A PR from path -> (base text, head text); None means absent on that side.

        Patches come from difflib; bytes that are not UTF-8 make a binary file (no patch).
        Contents are stored at both SHAs and at the base/head branch names.
        """
        base_sha = pr_fields.pop("base_sha", secrets.token_hex(20))
        head_sha = pr_fields.pop("head_sha", secrets.token_hex(20))
        pr = FakePullRequest(number=number, head_sha=head_sha, base_sha=base_sha, **pr_fields)
        for path, (base, head) in changes.items():
            base_b = base.encode() if isinstance(base, str) else base
            head_b = head.encode() if isinstance(head, str) else head
            for ref, data in (
                (base_sha, base_b),
                (pr.base_ref, base_b),
                (head_sha, head_b),
                (pr.head_ref, head_b),
            ):
                if data is not None:
                    self.set_content(repo, ref, path, data)
            status = "added" if base_b is None else "removed" if head_b is None else "modified"
            try:
                base_t = (base_b or b"").decode()
                head_t = (head_b or b"").decode()
            except UnicodeDecodeError:
                pr.files.append(FakeFile(path, status, None, 0, 0, sha=git_blob_sha(head_b or b"")))
                continue
            patch, adds, dels = make_patch(base_t, head_t)
            pr.files.append(
                FakeFile(path, status, patch or None, adds, dels, sha=git_blob_sha(head_b or b""))
            )
        return self.add_pull_request(repo, pr)

    def push(
        self, repo: str, number: int, changes: dict[str, str | None], *, head_sha: str | None = None
    ) -> FakePullRequest:
        """A push to the PR's branch: ``changes`` (path -> new head text, None = deleted) on
        top of the current head, as a new head SHA; the PR's files are recomputed against its
        base, like GitHub's. Files the push does not name keep their head content."""
        fake_repo = self.repos[repo]
        pr = fake_repo.pulls[number]
        old, new = pr.head_sha, head_sha or secrets.token_hex(20)
        with self._lock:
            for (ref, path), data in list(fake_repo.contents.items()):
                if ref == old and path not in changes:
                    fake_repo.contents[(new, path)] = data
            for path, text in changes.items():
                fake_repo.contents.pop((pr.head_ref, path), None)
                if text is not None:
                    fake_repo.contents[(new, path)] = text.encode()
                    fake_repo.contents[(pr.head_ref, path)] = text.encode()
            for comment in fake_repo.review_comments.get(number, []):
                if comment["path"] in changes and comment["line"] is not None:
                    before = (fake_repo.contents.get((old, comment["path"])) or b"").decode(errors="replace")
                    _follow_push(comment, before, changes[comment["path"]], new)
            pr.head_sha = new
            pr.files = [f for f in self.compare_files(fake_repo, pr.base_sha, new)]
        return pr

    def compare_files(self, repo: FakeRepo, base: str, head: str) -> list[FakeFile]:
        """The files that differ between two SHAs whose contents the fake holds."""
        paths = sorted({p for (ref, p) in repo.contents if ref in (base, head)})
        files = []
        for path in paths:
            before, after = repo.contents.get((base, path)), repo.contents.get((head, path))
            if before == after:
                continue
            status = "added" if before is None else "removed" if after is None else "modified"
            try:
                patch, adds, dels = make_patch((before or b"").decode(), (after or b"").decode())
            except UnicodeDecodeError:  # a binary file: GitHub sends no patch
                patch, adds, dels = None, 0, 0
            files.append(FakeFile(path, status, patch or None, adds, dels, sha=git_blob_sha(after or b"")))
        return files

    def add_pull_request_from_git(
        self, repo: str, number: int, git_dir: str | Path, base: str, head: str, **pr_fields: Any
    ) -> FakePullRequest:
        """A PR whose files, patches and contents come from a real git repository."""

        def git(*args: str) -> bytes:
            return subprocess.run(
                ["git", "-C", str(git_dir), *args], check=True, capture_output=True
            ).stdout

        base_sha = git("rev-parse", base).decode().strip()
        head_sha = git("rev-parse", head).decode().strip()
        pr = FakePullRequest(number=number, head_sha=head_sha, base_sha=base_sha, **pr_fields)
        statuses = {
            "A": "added",
            "D": "removed",
            "M": "modified",
            "R": "renamed",
            "C": "copied",
            "T": "changed",
        }
        for row in git("diff", "--name-status", "-M", base_sha, head_sha).decode().splitlines():
            parts = row.split("\t")
            code, path = parts[0][0], parts[-1]
            previous = parts[1] if code in "RC" else None
            diff = git(
                "diff",
                "--no-color",
                "--no-ext-diff",
                "-M",
                "-U3",
                base_sha,
                head_sha,
                "--",
                *(p for p in (previous, path) if p),
            ).decode("utf-8", "replace")
            patch = (
                diff[diff.index("@@") :].rstrip("\n")
                if "\n@@" in diff and "Binary files" not in diff
                else None
            )
            adds = sum(1 for ln in (patch or "").splitlines() if ln.startswith("+"))
            dels = sum(1 for ln in (patch or "").splitlines() if ln.startswith("-"))
            head_data = git("show", f"{head_sha}:{path}") if code != "D" else b""
            pr.files.append(
                FakeFile(
                    path,
                    statuses.get(code, "modified"),
                    patch,
                    adds,
                    dels,
                    previous,
                    git_blob_sha(head_data),
                )
            )
        for ref, sha in (
            (base_sha, base_sha),
            (pr.base_ref, base_sha),
            (head_sha, head_sha),
            (pr.head_ref, head_sha),
        ):
            for path in git("ls-tree", "-r", "--name-only", sha).decode().splitlines():
                self.set_content(repo, ref, path, git("show", f"{sha}:{path}"))
        return self.add_pull_request(repo, pr)

    # scripting

    def fail_next(
        self,
        path: str,
        status: int,
        *,
        method: str | None = None,
        times: int = 1,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests whose path matches the regex ``path`` get ``status``."""
        body = {"message": message or f"Scripted failure {status}", "documentation_url": DOCS}
        with self._lock:
            self.failures.append(
                ScriptedFailure(method, re.compile(path), status, times, body, dict(headers or {}))
            )

    def fail_with_secondary_rate_limit(
        self,
        path: str,
        *,
        method: str | None = None,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.fail_next(
            path,
            403,
            method=method,
            times=times,
            message=SECONDARY_RATE_LIMIT_MESSAGE,
            headers=headers,
        )

    def fail_with_429(
        self, path: str, *, retry_after: int = 1, method: str | None = None, times: int = 1
    ) -> None:
        self.fail_next(
            path,
            429,
            method=method,
            times=times,
            message="Too Many Requests",
            headers={"retry-after": str(retry_after)},
        )

    def add_latency(self, path: str, seconds: float, *, method: str | None = None) -> None:
        with self._lock:
            self.latency.append((method, re.compile(path), seconds))

    def drop_next_review_response(self, times: int = 1) -> None:
        """Store the next review(s), then close the connection without answering."""
        with self._lock:
            self.drop_review_responses += times

    def set_rate_limit(self, remaining: int, reset_at: float | None = None) -> None:
        with self._lock:
            self.remaining = remaining
            self.reset_at = int(reset_at if reset_at is not None else time.time() + 3600)

    # inspection

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.repos[repo].reviews.get(number, [])) if repo in self.repos else []

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.repos[repo].issue_comments.get(number, [])) if repo in self.repos else []

    def add_issue_comment(self, repo: str, number: int, body: str, author: str = "octocat") -> int:
        """A conversation comment written by someone else (the bot must not touch it)."""
        with self._lock:
            fake_repo = self.add_repo(repo)
            comment = self.issue_comment_json(fake_repo, number, self.next_id(), body, author)
            fake_repo.issue_comments.setdefault(number, []).append(comment)
            return comment["id"]

    def reactions(self, repo: str, comment_id: int) -> list[str]:
        """The reactions on a conversation comment, in the order they were added."""
        with self._lock:
            comments = self.repos[repo].issue_comments.values() if repo in self.repos else []
            found = next((c for cs in comments for c in cs if c["id"] == comment_id), {})
            return [r["content"] for r in found.get("_reactions", [])]

    # inline review comments, replies and their reactions

    def store_review_comment(
        self, repo: FakeRepo, number: int, *, review_id: int | None, path: str, line: int | None,
        body: str, user: str, user_type: str = "User", commit_id: str, in_reply_to_id: int | None = None,
        start_line: int | None = None, side: str = "RIGHT", author_association: str = "NONE",
    ) -> dict[str, Any]:
        with self._lock:
            comment = {
                "id": self.next_id(), "review_id": review_id or self.next_id(), "path": path,
                "line": line, "original_line": line, "start_line": start_line, "original_start_line": start_line,
                "start_side": side if start_line else None, "side": side, "body": body,
                "user": user, "user_type": user_type, "commit_id": commit_id, "original_commit_id": commit_id,
                "in_reply_to_id": in_reply_to_id, "created_at": now_iso(),
                "author_association": author_association, "_reactions": [],
            }
            repo.review_comments.setdefault(number, []).append(comment)
            return comment

    def find_review_comment(self, repo: FakeRepo, comment_id: int) -> tuple[int, dict[str, Any]]:
        """(PR number, stored comment); KeyError (the handler's 404) when there is none."""
        with self._lock:
            for number, comments in repo.review_comments.items():
                for comment in comments:
                    if comment["id"] == comment_id:
                        return number, comment
        raise KeyError(comment_id)

    def review_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The PR's inline comments as GitHub lists them (with ``reactions`` rollups)."""
        with self._lock:
            fake_repo = self.repos[repo]
            return [self.review_comment_json(fake_repo, number, c) for c in fake_repo.review_comments.get(number, [])]

    def bot_review_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.review_comments(repo, number) if c["user"]["type"] == "Bot"]

    def reply_to_review_comment(
        self, repo: str, comment_id: int, body: str, *, author: str = "octocat",
        author_association: str = "MEMBER", user_type: str = "User",
    ) -> dict[str, Any]:
        """Someone replies in the thread of inline comment ``comment_id``; GitHub's JSON of it."""
        fake_repo = self.repos[repo]
        number, parent = self.find_review_comment(fake_repo, comment_id)
        reply = self.store_review_comment(
            fake_repo, number, review_id=None, path=parent["path"], line=parent["line"], body=body,
            user=author, user_type=user_type, commit_id=parent["commit_id"],
            in_reply_to_id=comment_id, author_association=author_association,
        )
        return self.review_comment_json(fake_repo, number, reply)

    def add_review_comment_reaction(
        self, comment: dict[str, Any], content: str, user: str, user_type: str = "User"
    ) -> tuple[dict[str, Any], bool]:
        """(reaction, created): one reaction per (user, content), like GitHub."""
        with self._lock:
            reactions = comment.setdefault("_reactions", [])
            existing = next((r for r in reactions if r["user"] == user and r["content"] == content), None)
            if existing is not None:
                return existing, False
            reaction = {"id": self.next_id(), "content": content, "user": user,
                        "user_type": user_type, "created_at": now_iso()}
            reactions.append(reaction)
            return reaction, True

    def react_to_review_comment(self, repo: str, comment_id: int, content: str, user: str = "octocat") -> int:
        """``user`` reacts to an inline comment (a person in the web UI); the reaction id."""
        _, comment = self.find_review_comment(self.repos[repo], comment_id)
        return self.add_review_comment_reaction(comment, content, user)[0]["id"]

    def remove_review_comment_reaction(self, repo: str, comment_id: int, reaction_id: int) -> None:
        _, comment = self.find_review_comment(self.repos[repo], comment_id)
        with self._lock:
            comment["_reactions"] = [r for r in comment["_reactions"] if r["id"] != reaction_id]

    def conditional_counts(self, path_regex: str) -> dict[int, int]:
        """Answers by status to GET requests matching ``path_regex`` (e.g. {200: 3, 304: 5})."""
        counts: dict[int, int] = {}
        for request in self.requests_to(path_regex, "GET"):
            counts[request.status] = counts.get(request.status, 0) + 1
        return counts

    def check_runs(self, repo: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        """Check runs with their state, accumulated ``annotations`` and every request body."""
        with self._lock:
            runs = self.repos[repo].check_runs if repo in self.repos else []
            return [r for r in runs if head_sha is None or r["head_sha"] == head_sha]

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [
                r
                for r in self.requests
                if pattern.search(r.path) and (method is None or r.method == method)
            ]


def _follow_push(comment: dict[str, Any], before: str, after: str | None, head_sha: str) -> None:
    """What GitHub does to an inline comment when a push changes its file: a comment whose
    lines are unchanged moves with them (``line`` follows, ``commit_id`` is the new head); one
    whose lines changed or went away is outdated (``line`` and ``start_line`` become null,
    the ``original_*`` fields keep where it was)."""
    old_lines = before.splitlines()
    new_lines = (after or "").splitlines()
    equal = [op for op in SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes() if op[0] == "equal"]

    def moved(line: int) -> int | None:
        return next((j1 + line - i1 for _, i1, i2, j1, _ in equal if i1 < line <= i2), None)

    first = comment["start_line"] or comment["line"]
    span = [moved(n) for n in range(first, comment["line"] + 1)] if after is not None else [None]
    if any(n is None for n in span) or span != list(range(span[0], span[0] + len(span))):
        comment["line"] = comment["start_line"] = None
        return
    comment["line"] = span[-1]
    comment["start_line"] = span[0] if comment["start_line"] else None
    comment["commit_id"] = head_sha


"""The fake GitHub's HTTP handler: routing, auth, scripted failures, rate-limit headers."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.github.model import (
    BOT_LOGIN,
    DEFAULT_BRANCH,
    DOCS,
    TEXT_LIMIT,
    FakePullRequest,
    FakeRepo,
    IssuedToken,
    RecordedRequest,
    check_run_errors,
    git_blob_sha,
    now_iso,
    paginate,
    review_errors,
)

if TYPE_CHECKING:
    from tests.fakes.github.server import FakeGitHub


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add ~40 ms to every response, like no real GitHub does.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = RecordedRequest(
            method, path, query, {k.lower(): v for k, v in self.headers.items()}, body,
            received_at=time.time(),
        )
        self._record = record
        with fake._lock:
            fake.requests.append(record)
            delay = sum(s for m, p, s in fake.latency if (m in (None, method)) and p.search(path))
            failure = next(
                (
                    f
                    for f in fake.failures
                    if f.method in (None, method) and f.path.search(path) and f.times > 0
                ),
                None,
            )
            if failure is not None:
                failure.times -= 1
        if delay:
            time.sleep(delay)
        if failure is not None:
            return self._send(failure.status, failure.body, failure.headers)
        if im := re.fullmatch(r"/repos/([^/]+/[^/]+)/installation", path):
            return self._repo_installation(im.group(1), record)
        if not path.startswith("/app/") and not self._authorized(record):
            return self._send(401, {"message": "Bad credentials", "documentation_url": DOCS})
        with fake._lock:
            if fake.remaining <= 0 and path != "/rate_limit":
                return self._send(
                    403,
                    {
                        "message": "API rate limit exceeded for installation.",
                        "documentation_url": DOCS,
                    },
                )
            if path != "/rate_limit":
                fake.remaining -= 1
        try:
            self._route(method, path, query, record)
        except (KeyError, IndexError, ValueError):
            self._send(404, {"message": "Not Found", "documentation_url": DOCS})

    def _authorized(self, record: RecordedRequest) -> bool:
        fake = self.fake
        if not fake.static_tokens and fake.app_public_key is None:
            return True
        header = record.headers.get("authorization", "")
        token = header.split(" ", 1)[1] if " " in header else ""
        now = time.time()
        with fake._lock:
            valid = fake.static_tokens | {t.token for t in fake.issued_tokens if t.expires_at > now}
        return token in valid

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], record: RecordedRequest
    ) -> None:
        fake = self.fake
        if path == "/rate_limit" and method == "GET":
            core = {
                "limit": fake.rate_limit,
                "remaining": fake.remaining,
                "reset": fake.reset_at,
                "used": fake.rate_limit - fake.remaining,
            }
            return self._send(200, {"resources": {"core": core}, "rate": core})
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)
        if m and method == "POST":
            return self._access_token(int(m.group(1)), record)
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/(.+)", path)
        if not m:
            raise KeyError(path)
        repo = fake.repos[m.group(1)]
        rest = m.group(2)
        if pm := re.fullmatch(r"pulls/(\d+)", rest):
            return self._send(200, fake.pull_json(repo, repo.pulls[int(pm.group(1))]))
        if pm := re.fullmatch(r"pulls/(\d+)/files", rest):
            pr = repo.pulls[int(pm.group(1))]
            items, headers = paginate(
                fake.url, path, query, [fake.file_json(repo, pr, f) for f in pr.files[:3000]]
            )
            return self._send(200, items, headers)
        if pm := re.fullmatch(r"pulls/(\d+)/reviews", rest):
            number = int(pm.group(1))
            if method == "GET":
                items, headers = paginate(fake.url, path, query, repo.reviews.get(number, []))
                return self._send(200, items, headers)
            return self._create_review(repo, repo.pulls[number], record)
        if im := re.fullmatch(r"issues/(\d+)/comments", rest):
            number = int(im.group(1))
            if method == "GET":
                items, headers = paginate(fake.url, path, query, repo.issue_comments.get(number, []))
                return self._send(200, items, headers)
            if number not in repo.pulls:
                raise KeyError(rest)
            return self._create_issue_comment(repo, number, record)
        if pm := re.fullmatch(r"pulls/(\d+)/comments", rest):
            number = int(pm.group(1))
            comments = [fake.review_comment_json(repo, number, c) for c in repo.review_comments.get(number, [])]
            items, headers = paginate(fake.url, path, query, comments)
            return self._send(200, items, headers)
        if pm := re.fullmatch(r"pulls/comments/(\d+)", rest):
            number, comment = fake.find_review_comment(repo, int(pm.group(1)))
            return self._send(200, fake.review_comment_json(repo, number, comment))
        if pm := re.fullmatch(r"pulls/comments/(\d+)/reactions", rest):
            _, comment = fake.find_review_comment(repo, int(pm.group(1)))
            if method == "POST":
                return self._react_to_review_comment(comment, record)
            reactions = [fake.reaction_json(r) for r in comment.get("_reactions", [])]
            items, headers = paginate(fake.url, path, query, reactions)
            return self._send(200, items, headers)
        if (pm := re.fullmatch(r"pulls/comments/(\d+)/reactions/(\d+)", rest)) and method == "DELETE":
            fake.remove_review_comment_reaction(repo.full_name, int(pm.group(1)), int(pm.group(2)))
            return self._send_bytes(204, b"", "application/json; charset=utf-8")
        if im := re.fullmatch(r"issues/comments/(\d+)/reactions", rest):
            if method != "POST":
                raise KeyError(rest)
            return self._react(repo, int(im.group(1)), record)
        if im := re.fullmatch(r"issues/comments/(\d+)", rest):
            if method != "PATCH":
                raise KeyError(rest)
            return self._update_issue_comment(repo, int(im.group(1)), record)
        if (cm := re.fullmatch(r"collaborators/([^/]+)/permission", rest)) and method == "GET":
            login = cm.group(1)
            permission = repo.permissions.get(login, "write")
            return self._send(200, {"permission": permission, "role_name": permission,
                                    "user": fake.user_json(login)})
        if rest == "check-runs" and method == "POST":
            return self._check_run(repo, None, record)
        if km := re.fullmatch(r"check-runs/(\d+)", rest):
            if method == "PATCH":
                return self._check_run(repo, int(km.group(1)), record)
            run = next(r for r in repo.check_runs if r["id"] == int(km.group(1)))
            return self._send(200, fake.check_run_json(repo, run))
        if km := re.fullmatch(r"commits/([^/]+)/check-runs", rest):
            runs = [
                fake.check_run_json(repo, r)
                for r in repo.check_runs
                if r["head_sha"] == km.group(1)
                and r["name"] == query.get("check_name", [r["name"]])[0]
            ]
            items, headers = paginate(fake.url, path, query, runs)
            return self._send(200, {"total_count": len(runs), "check_runs": items}, headers)
        if cm := re.fullmatch(r"compare/([^./]+)\.\.\.([^./]+)", rest):
            files = fake.compare_files(repo, cm.group(1), cm.group(2))
            return self._send(
                200,
                {
                    "url": f"{fake.url}{path}",
                    "status": "ahead",
                    "ahead_by": 1,
                    "behind_by": 0,
                    "total_commits": 1,
                    "commits": [],
                    "files": [fake.compare_file_json(repo, cm.group(2), f) for f in files[:300]],
                },
            )
        if rest == "issues" and method == "POST":
            data = record.json() or {}
            if not isinstance(data.get("title"), str) or not data["title"].strip():
                return self._send(422, {"message": "Validation Failed",
                                        "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}]})
            with fake._lock:
                issues = fake.issues.setdefault(repo.full_name, [])
                issue = {
                    "id": fake.next_id(), "number": len(issues) + 1, "title": data["title"],
                    "body": data.get("body") or "", "state": "open",
                    "html_url": f"https://github.example/{repo.full_name}/issues/{len(issues) + 1}",
                }
                issues.append(issue)
            return self._send(201, issue)
        if cm := re.fullmatch(r"contents/(.+)", rest):
            return self._contents(repo, cm.group(1), query.get("ref", [DEFAULT_BRANCH])[0], record)
        if tm := re.fullmatch(r"git/trees/([^/]+)", rest):
            ref = tm.group(1)
            paths = sorted(p for (r, p) in repo.contents if r == ref)
            if not paths:
                raise KeyError(rest)
            tree = [
                {"path": p, "mode": "100644", "type": "blob", "sha": git_blob_sha(repo.contents[(ref, p)]),
                 "size": len(repo.contents[(ref, p)]), "url": f"{fake.url}{path}"}
                for p in paths
            ]
            return self._send(200, {"sha": ref, "url": f"{fake.url}{path}", "tree": tree, "truncated": False})
        if bm := re.fullmatch(r"git/blobs/([0-9a-f]{40})", rest):
            data = next(d for d in repo.contents.values() if git_blob_sha(d) == bm.group(1))
            return self._send(
                200,
                {
                    "sha": bm.group(1),
                    "node_id": f"B_{bm.group(1)[:8]}",
                    "size": len(data),
                    "encoding": "base64",
                    "url": f"{fake.url}{path}",
                    "content": base64.encodebytes(data).decode(),
                },
            )
        raise KeyError(rest)

    def _contents(self, repo: FakeRepo, path: str, ref: str, record: RecordedRequest) -> None:
        fake = self.fake
        data = repo.contents[(ref, path)]
        if "raw" in record.headers.get("accept", ""):
            return self._send_bytes(200, data, "application/vnd.github.raw")
        sha = git_blob_sha(data)
        api = f"{fake.url}/repos/{repo.full_name}"
        large = len(data) > fake.large_file_bytes
        self._send(
            200,
            {
                "type": "file",
                "encoding": "none" if large else "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": "" if large else base64.encodebytes(data).decode(),
                "sha": sha,
                "url": f"{api}/contents/{path}?ref={ref}",
                "git_url": f"{api}/git/blobs/{sha}",
                "html_url": f"{fake.url}/{repo.full_name}/blob/{ref}/{path}",
                "download_url": f"{fake.url}/{repo.full_name}/raw/{ref}/{path}",
                "_links": {
                    "self": f"{api}/contents/{path}?ref={ref}",
                    "git": f"{api}/git/blobs/{sha}",
                    "html": f"{fake.url}/{repo.full_name}/blob/{ref}/{path}",
                },
            },
        )

    def _create_review(self, repo: FakeRepo, pr: FakePullRequest, record: RecordedRequest) -> None:
        fake = self.fake
        try:
            body = record.json() or {}
        except ValueError:
            return self._send(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        errors = review_errors(pr, body)
        if errors:
            return self._send(
                422,
                {
                    "message": "Unprocessable Entity",
                    "errors": errors,
                    "documentation_url": f"{DOCS}/pulls/reviews#create-a-review-for-a-pull-request",
                    "status": "422",
                },
            )
        review_id = fake.next_id()
        api = f"{fake.url}/repos/{repo.full_name}/pulls/{pr.number}"
        html = f"{fake.url}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{review_id}"
        event = body.get("event")
        state = {
            "COMMENT": "COMMENTED",
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
        }.get(event or "", "PENDING")
        review = {
            "id": review_id,
            "node_id": f"PRR_{review_id}",
            "user": fake.user_json(BOT_LOGIN, "Bot"),
            "body": body.get("body") or "",
            "state": state,
            "html_url": html,
            "pull_request_url": api,
            "_links": {"html": {"href": html}, "pull_request": {"href": api}},
            "submitted_at": now_iso(),
            "commit_id": body.get("commit_id") or pr.head_sha,
            "author_association": "NONE",
            "comments": list(
                body.get("comments") or []
            ),  # kept for tests; GitHub lists them elsewhere
        }
        with fake._lock:
            repo.reviews.setdefault(pr.number, []).append(review)
            for comment in review["comments"]:
                fake.store_review_comment(
                    repo, pr.number, review_id=review_id, path=comment["path"], line=comment["line"],
                    body=comment["body"], user=BOT_LOGIN, user_type="Bot", commit_id=review["commit_id"],
                    start_line=comment.get("start_line"), side=comment.get("side", "RIGHT"),
                )
            drop = fake.drop_review_responses > 0
            if drop:
                fake.drop_review_responses -= 1
        if drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        self._send(200, {k: v for k, v in review.items() if k != "comments"})

    def _unprocessable(self, errors: list[str], doc: str) -> None:
        self._send(
            422,
            {"message": "Validation Failed", "errors": errors, "documentation_url": f"{DOCS}/{doc}",
             "status": "422"},
        )

    def _create_issue_comment(self, repo: FakeRepo, number: int, record: RecordedRequest) -> None:
        fake = self.fake
        body = (record.json() or {}).get("body")
        if not body:
            return self._unprocessable(["body wasn't supplied"], "issues/comments")
        if len(body) > TEXT_LIMIT:
            return self._unprocessable(
                [f"Body is too long (maximum is {TEXT_LIMIT} characters)"], "issues/comments"
            )
        comment_id = fake.next_id()
        comment = fake.issue_comment_json(repo, number, comment_id, body)
        with fake._lock:
            repo.issue_comments.setdefault(number, []).append(comment)
        self._send(201, comment)

    def _react(self, repo: FakeRepo, comment_id: int, record: RecordedRequest) -> None:
        """GitHub's reactions: 201 when new, 200 when the same user already reacted so."""
        fake = self.fake
        content = (record.json() or {}).get("content")
        allowed = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
        if content not in allowed:
            return self._unprocessable([f"content {content!r} is not a valid reaction"], DOCS)
        comment = next(
            (c for comments in repo.issue_comments.values() for c in comments if c["id"] == comment_id), None
        )
        if comment is None:
            return self._send(404, {"message": "Not Found", "documentation_url": DOCS})
        with fake._lock:
            reactions = comment.setdefault("_reactions", [])
            existing = next((r for r in reactions if r["content"] == content), None)
            if existing is None:
                existing = {
                    "id": fake.next_id(), "node_id": "REA_x", "content": content,
                    "user": fake.user_json(BOT_LOGIN, "Bot"), "created_at": now_iso(),
                }
                reactions.append(existing)
                return self._send(201, existing)
        return self._send(200, existing)

    def _react_to_review_comment(self, comment: dict[str, Any], record: RecordedRequest) -> None:
        """The bot reacting to an inline comment: 201 when new, 200 when it already had."""
        content = (record.json() or {}).get("content")
        allowed = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
        if content not in allowed:
            return self._unprocessable([f"content {content!r} is not a valid reaction"], DOCS)
        reaction, created = self.fake.add_review_comment_reaction(comment, content, BOT_LOGIN, "Bot")
        return self._send(201 if created else 200, self.fake.reaction_json(reaction))

    def _update_issue_comment(self, repo: FakeRepo, comment_id: int, record: RecordedRequest) -> None:
        fake = self.fake
        body = (record.json() or {}).get("body")
        if not body or len(body) > TEXT_LIMIT:
            return self._unprocessable(["body is missing or too long"], "issues/comments")
        with fake._lock:
            comment = next(
                c for comments in repo.issue_comments.values() for c in comments if c["id"] == comment_id
            )
            comment["body"] = body
            comment["updated_at"] = now_iso()
        self._send(200, comment)

    def _check_run(self, repo: FakeRepo, check_run_id: int | None, record: RecordedRequest) -> None:
        """Create (``check_run_id`` None) or update a check run; annotations accumulate."""
        fake = self.fake
        try:
            body = record.json() or {}
        except ValueError:
            return self._send(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        errors = check_run_errors(body, creating=check_run_id is None)
        if errors:
            return self._unprocessable(errors, "checks/runs")
        with fake._lock:
            if check_run_id is None:
                run = {
                    "id": fake.next_id(),
                    "name": body["name"],
                    "head_sha": body["head_sha"],
                    "external_id": body.get("external_id") or "",
                    "details_url": body.get("details_url"),
                    "status": "queued",
                    "conclusion": None,
                    "started_at": now_iso(),
                    "completed_at": None,
                    "output": {"title": None, "summary": None, "text": None},
                    "annotations": [],
                    "requests": [],
                }
                repo.check_runs.append(run)
            else:
                run = next(r for r in repo.check_runs if r["id"] == check_run_id)
            run["requests"].append(body)
            for key in ("name", "details_url", "external_id"):
                if key in body:
                    run[key] = body[key]
            if "status" in body:
                run["status"] = body["status"]
            if body.get("conclusion") is not None:
                run["conclusion"] = body["conclusion"]
                run["status"] = "completed"  # GitHub: a conclusion completes the run
            if run["status"] == "completed" and run["completed_at"] is None:
                run["completed_at"] = now_iso()
            output = body.get("output")
            if output is not None:
                run["output"] = {k: output.get(k) for k in ("title", "summary", "text")}
                run["annotations"].extend(output.get("annotations") or [])
            answer = fake.check_run_json(repo, run)
        self._send(201 if check_run_id is None else 200, answer)

    def _bad_app_jwt(self, record: RecordedRequest) -> bool:
        """Answer 401 (and say True) unless the request carries the App's valid JWT."""
        fake = self.fake
        if fake.app_public_key is None:
            return False
        import jwt  # only the App-auth tests need PyJWT

        header = record.headers.get("authorization", "")
        try:
            if not header.startswith("Bearer "):
                raise jwt.InvalidTokenError("no bearer JWT")
            claims = jwt.decode(
                header[7:],
                fake.app_public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
            if fake.app_id is not None and str(claims["iss"]) != str(fake.app_id):
                raise jwt.InvalidTokenError("wrong issuer")
        except jwt.InvalidTokenError as exc:
            self._send(
                401,
                {"message": f"A JSON web token could not be decoded ({exc})", "documentation_url": DOCS},
            )
            return True
        return False

    def _repo_installation(self, repo_name: str, record: RecordedRequest) -> None:
        """``GET /repos/{o}/{r}/installation``: the App's installation there (App JWT)."""
        if self._bad_app_jwt(record):
            return
        repo = self.fake.repos.get(repo_name)
        if repo is None:
            return self._send(404, {"message": "Not Found", "documentation_url": DOCS})
        self._send(200, {"id": repo.installation_id, "app_id": self.fake.app_id, "target_type": "Organization"})

    def _access_token(self, installation_id: int, record: RecordedRequest) -> None:
        fake = self.fake
        if self._bad_app_jwt(record):
            return
        token = IssuedToken(
            installation_id, "ghs_" + secrets.token_hex(18), time.time() + fake.token_ttl_s
        )
        with fake._lock:
            fake.issued_tokens.append(token)
        expires = datetime.fromtimestamp(token.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._send(
            201,
            {
                "token": token.token,
                "expires_at": expires,
                "permissions": {"pull_requests": "write", "contents": "read"},
                "repository_selection": "all",
            },
        )

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        record = getattr(self, "_record", None)
        if status == 200 and record is not None and record.method == "GET":
            # GitHub's conditional requests: every GET answer has an ETag; sending it back in
            # If-None-Match gets a 304 without a body, which does not count against the limit.
            etag = f'W/"{hashlib.sha1(data).hexdigest()}"'
            headers = {**(headers or {}), "ETag": etag}
            if record.headers.get("if-none-match") == etag:
                with self.fake._lock:
                    self.fake.remaining = min(self.fake.rate_limit, self.fake.remaining + 1)
                return self._send_bytes(304, b"", "application/json; charset=utf-8", headers)
        self._send_bytes(status, data, "application/json; charset=utf-8", headers)

    def _send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        fake = self.fake
        record = getattr(self, "_record", None)
        if record is not None:
            record.status = status
        self.send_response(status)
        if status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        all_headers = {
            "x-ratelimit-limit": str(fake.rate_limit),
            "x-ratelimit-remaining": str(max(0, fake.remaining)),
            "x-ratelimit-reset": str(fake.reset_at),
            "x-ratelimit-used": str(fake.rate_limit - max(0, fake.remaining)),
            "x-ratelimit-resource": "core",
            "x-github-request-id": secrets.token_hex(8),
            **(headers or {}),
        }
        for name, value in all_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

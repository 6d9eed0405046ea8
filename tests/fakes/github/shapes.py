"""GitHub's JSON shapes, complete enough for githubkit's typed models to parse them."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.fakes.github.model import DEFAULT_BRANCH, FakeFile, FakePullRequest, FakeRepo, now_iso


class GitHubShapes:
    """Mixin for :class:`FakeGitHub`: renders state as GitHub's REST JSON."""

    @property
    def url(self) -> str:
        raise NotImplementedError

    def user_json(self, login: str, kind: str = "User") -> dict[str, Any]:
        api = f"{self.url}/users/{login}"
        uid = int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "avatar_url": f"{self.url}/avatars/{uid}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.url}/{login}",
            **{
                f"{k}_url": f"{api}/{k}"
                for k in (
                    "followers",
                    "following",
                    "gists",
                    "starred",
                    "subscriptions",
                    "organizations",
                    "repos",
                    "events",
                    "received_events",
                )
            },
            "type": kind,
            "site_admin": False,
        }

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        owner, name = repo.full_name.split("/", 1)
        api = f"{self.url}/repos/{repo.full_name}"
        urls = (
            "archive",
            "assignees",
            "blobs",
            "branches",
            "collaborators",
            "comments",
            "commits",
            "compare",
            "contents",
            "contributors",
            "deployments",
            "downloads",
            "events",
            "forks",
            "git_commits",
            "git_refs",
            "git_tags",
            "issue_comment",
            "issue_events",
            "issues",
            "keys",
            "labels",
            "languages",
            "merges",
            "milestones",
            "notifications",
            "pulls",
            "releases",
            "stargazers",
            "statuses",
            "subscribers",
            "subscription",
            "tags",
            "teams",
            "trees",
            "hooks",
        )
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": name,
            "full_name": repo.full_name,
            "license": None,
            "forks": 0,
            "owner": self.user_json(owner, "Organization"),
            "private": False,
            "html_url": f"{self.url}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": api,
            **{f"{k}_url": f"{api}/{k}" for k in urls},
            "git_url": f"git://fake/{repo.full_name}.git",
            "ssh_url": f"git@fake:{repo.full_name}.git",
            "clone_url": f"{self.url}/{repo.full_name}.git",
            "svn_url": f"{self.url}/{repo.full_name}",
            "mirror_url": None,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "size": 1,
            "default_branch": DEFAULT_BRANCH,
            "open_issues_count": 0,
            "open_issues": 0,
            "watchers": 0,
            "has_pages": False,
            "disabled": False,
            "archived": False,
            "pushed_at": now_iso(),
            "created_at": now_iso(),
            "updated_at": now_iso(),
        }

    def pull_json(self, repo: FakeRepo, pr: FakePullRequest) -> dict[str, Any]:
        api = f"{self.url}/repos/{repo.full_name}"
        html = f"{self.url}/{repo.full_name}/pull/{pr.number}"
        owner = repo.full_name.split("/")[0]
        link = lambda href: {"href": href}
        side = lambda ref, sha: {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "repo": self.repo_json(repo),
            "user": self.user_json(owner, "Organization"),
        }
        return {
            "url": f"{api}/pulls/{pr.number}",
            "id": repo.id * 10000 + pr.number,
            "node_id": f"PR_{pr.number}",
            "html_url": html,
            "diff_url": html + ".diff",
            "patch_url": html + ".patch",
            "issue_url": f"{api}/issues/{pr.number}",
            "commits_url": f"{api}/pulls/{pr.number}/commits",
            "review_comments_url": f"{api}/pulls/{pr.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pr.number}/comments",
            "statuses_url": f"{api}/statuses/{pr.head_sha}",
            "number": pr.number,
            "state": pr.state,
            "locked": False,
            "title": pr.title,
            "user": self.user_json(pr.author),
            "body": pr.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": side(pr.head_ref, pr.head_sha),
            "base": side(pr.base_ref, pr.base_sha),
            "_links": {
                "self": link(f"{api}/pulls/{pr.number}"),
                "html": link(html),
                "issue": link(f"{api}/issues/{pr.number}"),
                "comments": link(f"{api}/issues/{pr.number}/comments"),
                "review_comments": link(f"{api}/pulls/{pr.number}/comments"),
                "review_comment": link(f"{api}/pulls/comments{{/number}}"),
                "commits": link(f"{api}/pulls/{pr.number}/commits"),
                "statuses": link(f"{api}/statuses/{pr.head_sha}"),
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": pr.draft,
            "merged": False,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": sum(f.additions for f in pr.files),
            "deletions": sum(f.deletions for f in pr.files),
            "changed_files": len(pr.files),
        }

    def file_json(self, repo: FakeRepo, pr: FakePullRequest, f: FakeFile) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "sha": f.sha,
            "filename": f.filename,
            "status": f.status,
            "additions": f.additions,
            "deletions": f.deletions,
            "changes": f.changes,
            "blob_url": f"{self.url}/{repo.full_name}/blob/{pr.head_sha}/{f.filename}",
            "raw_url": f"{self.url}/{repo.full_name}/raw/{pr.head_sha}/{f.filename}",
            "contents_url": f"{self.url}/repos/{repo.full_name}/contents/{f.filename}?ref={pr.head_sha}",
        }
        if f.patch is not None:
            entry["patch"] = f.patch
        if f.previous_filename is not None:
            entry["previous_filename"] = f.previous_filename
        return entry

    def compare_file_json(self, repo: FakeRepo, head_sha: str, f: FakeFile) -> dict[str, Any]:
        """One file of a compare (same shape as a PR file, at the compare's head)."""
        pr = FakePullRequest(number=0, head_sha=head_sha, base_sha="")
        return self.file_json(repo, pr, f)

    def issue_comment_json(
        self, repo: FakeRepo, number: int, comment_id: int, body: str, author: str | None = None
    ) -> dict[str, Any]:
        from tests.fakes.github.model import BOT_LOGIN

        api = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{api}/issues/comments/{comment_id}",
            "html_url": f"{self.url}/{repo.full_name}/pull/{number}#issuecomment-{comment_id}",
            "issue_url": f"{api}/issues/{number}",
            "body": body,
            "user": self.user_json(author or BOT_LOGIN, "User" if author else "Bot"),
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "author_association": "NONE",
        }

    def check_run_json(self, repo: FakeRepo, run: dict[str, Any]) -> dict[str, Any]:
        api = f"{self.url}/repos/{repo.full_name}"
        output = run["output"]
        return {
            "id": run["id"],
            "head_sha": run["head_sha"],
            "node_id": f"CR_{run['id']}",
            "external_id": run["external_id"],
            "url": f"{api}/check-runs/{run['id']}",
            "html_url": f"{self.url}/{repo.full_name}/runs/{run['id']}",
            "details_url": run["details_url"],
            "status": run["status"],
            "conclusion": run["conclusion"],
            "started_at": run["started_at"],
            "completed_at": run["completed_at"],
            "output": {
                **output,
                "annotations_count": len(run["annotations"]),
                "annotations_url": f"{api}/check-runs/{run['id']}/annotations",
            },
            "name": run["name"],
            "check_suite": {"id": run["id"] + 1},
            "app": None,
            "pull_requests": [],
        }

    # -- review comments (inline) and their reactions ---------------------------------------

    def reaction_json(self, reaction: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": reaction["id"],
            "node_id": f"REA_{reaction['id']}",
            "user": self.user_json(reaction["user"], reaction.get("user_type", "User")),
            "content": reaction["content"],
            "created_at": reaction["created_at"],
        }

    def review_comment_json(self, repo: FakeRepo, number: int, c: dict[str, Any]) -> dict[str, Any]:
        """GitHub's ``pull-request-review-comment``, with the ``reactions`` rollup."""
        api = f"{self.url}/repos/{repo.full_name}"
        html = f"{self.url}/{repo.full_name}/pull/{number}#discussion_r{c['id']}"
        counts = {k: 0 for k in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")}
        for reaction in c.get("_reactions", []):
            counts[reaction["content"]] += 1
        entry = {
            "url": f"{api}/pulls/comments/{c['id']}",
            "pull_request_review_id": c["review_id"],
            "id": c["id"],
            "node_id": f"PRRC_{c['id']}",
            "diff_hunk": c.get("diff_hunk", ""),
            "path": c["path"],
            "position": c["line"],
            "original_position": c["original_line"],
            "commit_id": c["commit_id"],
            "original_commit_id": c.get("original_commit_id", c["commit_id"]),
            "user": self.user_json(c["user"], c["user_type"]),
            "body": c["body"],
            "created_at": c["created_at"],
            "updated_at": c["created_at"],
            "html_url": html,
            "pull_request_url": f"{api}/pulls/{number}",
            "author_association": c["author_association"],
            "_links": {
                "self": {"href": f"{api}/pulls/comments/{c['id']}"},
                "html": {"href": html},
                "pull_request": {"href": f"{api}/pulls/{number}"},
            },
            "start_line": c.get("start_line"),
            "original_start_line": c.get("original_start_line", c.get("start_line")),
            "start_side": c.get("start_side"),
            "line": c["line"],
            "original_line": c["original_line"],
            "side": c.get("side", "RIGHT"),
            "subject_type": "line",
            "reactions": {"url": f"{api}/pulls/comments/{c['id']}/reactions",
                          "total_count": sum(counts.values()), **counts},
        }
        if c.get("in_reply_to_id") is not None:
            entry["in_reply_to_id"] = c["in_reply_to_id"]
        return entry

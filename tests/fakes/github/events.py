"""Webhook payloads about the fake's state, built on GitHub's own published examples.

The examples (``tests/data/github-payloads``, from octokit/webhooks) give every field GitHub
sends; these helpers point them at a fake repository, pull request and inline comments, so a
test delivers what GitHub would deliver after the same clicks.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.fakes.github.server import FakeGitHub

PAYLOADS = Path(__file__).resolve().parents[2] / "data" / "github-payloads"


def _example(event: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((PAYLOADS / event / name).read_text()))


def _point_at(payload: dict[str, Any], fake: FakeGitHub, repo: str, number: int, sender: str) -> dict[str, Any]:
    pr = fake.repos[repo].pulls[number]
    owner, name = repo.split("/")
    payload.pop("installation", None)
    payload["repository"].update(full_name=repo, name=name)
    payload["repository"]["owner"]["login"] = owner
    payload["pull_request"].update(number=number, state=pr.state, draft=pr.draft)
    payload["pull_request"]["head"].update(sha=pr.head_sha, ref=pr.head_ref)
    payload["pull_request"]["base"].update(sha=pr.base_sha, ref=pr.base_ref)
    payload["pull_request"]["user"]["login"] = pr.author
    payload["sender"].update(login=sender, type="User")
    return payload


def review_thread_event(
    fake: FakeGitHub, repo: str, number: int, comment_id: int, *, action: str = "resolved",
    sender: str = "octocat",
) -> dict[str, Any]:
    """``pull_request_review_thread`` for the thread that inline comment ``comment_id`` starts
    (its replies included), resolved or unresolved by ``sender``."""
    payload = _point_at(_example("pull_request_review_thread", f"{action}.payload.json"), fake, repo, number, sender)
    comments = [
        c for c in fake.review_comments(repo, number)
        if c["id"] == comment_id or c.get("in_reply_to_id") == comment_id
    ]
    payload["action"] = action
    payload["thread"] = {"node_id": f"PRRT_{comment_id}", "comments": comments}
    return payload


def review_comment_event(
    fake: FakeGitHub, repo: str, number: int, comment: dict[str, Any], *, action: str = "created"
) -> dict[str, Any]:
    """``pull_request_review_comment`` for ``comment`` (the JSON the fake returned for it)."""
    payload = _point_at(
        _example("pull_request_review_comment", "created.payload.json"), fake, repo, number,
        comment["user"]["login"],
    )
    payload["action"] = action
    payload["comment"] = comment
    return payload


def pull_request_event(
    fake: FakeGitHub, repo: str, number: int, *, action: str = "synchronize", sender: str = "octocat",
    before: str | None = None,
) -> dict[str, Any]:
    """``pull_request`` (``synchronize`` by default: a push by ``sender``) for the fake's PR."""
    name = "synchronize" if action == "synchronize" else "opened"
    payload = _point_at(_example("pull_request", f"{name}.payload.json"), fake, repo, number, sender)
    payload.update(action=action, number=number)
    if action == "synchronize":
        payload.update(before=before or "0" * 40, after=fake.repos[repo].pulls[number].head_sha)
    return payload

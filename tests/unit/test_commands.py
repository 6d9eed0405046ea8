"""``/reviewer`` commands: parsing, who is obeyed, and the webhook rules for PR comments
(GitHub's example ``issue_comment`` payloads, made into PR comments where needed)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from reviewer.commands import Command, CommandKind, is_collaborator, parse_command
from reviewer.webhooks import DecisionKind, PayloadError, decide

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "github-payloads" / "issue_comment"
BOT = "reviewer-bot[bot]"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def on_pull_request(body: str, association: str = "OWNER", name: str = "created.with-installation.payload.json") -> dict:
    """GitHub's example comment, moved onto a pull request (``issue.pull_request`` present)."""
    payload = copy.deepcopy(load(name))
    issue = payload["issue"]
    issue["pull_request"] = {
        "url": issue["url"].replace("/issues/", "/pulls/"),
        "html_url": issue["html_url"].replace("/issues/", "/pull/"),
        "diff_url": issue["html_url"].replace("/issues/", "/pull/") + ".diff",
        "patch_url": issue["html_url"].replace("/issues/", "/pull/") + ".patch",
        "merged_at": None,
    }
    payload["comment"]["body"] = body
    payload["comment"]["author_association"] = association
    return payload


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/reviewer review", Command(kind=CommandKind.REVIEW)),
        ("  /Reviewer PAUSE  \nthanks", Command(kind=CommandKind.PAUSE)),
        ("/reviewer resume", Command(kind=CommandKind.RESUME)),
        ("/reviewer help", Command(kind=CommandKind.HELP)),
        ("/reviewer ignore ruff-F401", Command(kind=CommandKind.IGNORE, argument="ruff-F401")),
        ("/reviewer ignore 0a1b2c3d4e5f6a7b8c9d0e1f", Command(kind=CommandKind.IGNORE, argument="0a1b2c3d4e5f6a7b8c9d0e1f")),
        ("/reviewer ignore", None),  # nothing to ignore
        ("/reviewer ignore a b", None),
        ("/reviewer ignore `rm -rf`", None),
        ("/reviewer review now please", None),
        ("/reviewer approve", None),
        ("please /reviewer review", None),
        ("/reviewers review", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_command(body, expected):
    assert parse_command(body) == expected


def test_only_owners_members_and_collaborators_are_obeyed():
    assert all(is_collaborator(a) for a in ("OWNER", "MEMBER", "COLLABORATOR", "member"))
    assert not any(is_collaborator(a) for a in ("CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE", "", None))


def test_a_collaborators_command_on_a_pull_request_is_a_command_decision():
    payload = on_pull_request("/reviewer ignore sql-injection")
    d = decide("issue_comment", payload, bot_login=BOT)
    assert d.kind == DecisionKind.COMMAND
    assert (d.command, d.argument) == (CommandKind.IGNORE, "sql-injection")
    assert d.repo == payload["repository"]["full_name"] and d.number == payload["issue"]["number"]
    assert d.comment_id == payload["comment"]["id"] and d.author == payload["comment"]["user"]["login"]
    assert d.installation_id == payload["installation"]["id"]


@pytest.mark.parametrize("association", ["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE"])
def test_commands_from_others_are_ignored_with_a_reason(association):
    d = decide("issue_comment", on_pull_request("/reviewer pause", association), bot_login=BOT)
    assert d.kind == DecisionKind.IGNORE and "not a collaborator" in d.reason and association in d.reason


@pytest.mark.parametrize(
    "name",
    [p.name for p in sorted(PAYLOADS.glob("*.json"))],
)
def test_githubs_example_comments_are_on_issues_and_ignored(name):
    payload = load(name)
    assert "pull_request" not in payload["issue"]
    d = decide("issue_comment", payload, bot_login=BOT)
    assert d.kind == DecisionKind.IGNORE


def test_edited_deleted_plain_and_own_comments_are_ignored():
    edited = on_pull_request("/reviewer pause", name="edited.payload.json")
    assert decide("issue_comment", edited, bot_login=BOT).reason == "comment edited"
    plain = on_pull_request("LGTM")
    assert decide("issue_comment", plain, bot_login=BOT).reason == "not a reviewer command"
    own = on_pull_request("/reviewer pause")
    own["sender"] = {"login": BOT, "type": "Bot"}
    own["comment"]["user"] = {"login": BOT, "type": "Bot"}
    assert decide("issue_comment", own, bot_login=BOT).reason == "comment by the bot itself"


def test_a_malformed_comment_payload_is_a_payload_error():
    with pytest.raises(PayloadError):
        decide("issue_comment", {"action": "created", "issue": {}}, bot_login=BOT)

"""Webhook signatures and the review/cancel/ignore rules, on GitHub's own example payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from reviewer.webhooks import (
    Decision,
    DecisionKind,
    PayloadError,
    decide,
    sign,
    verify_signature,
)

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "github-payloads"
BOT = "reviewer-bot[bot]"

# GitHub's published example (docs: "Validating webhook deliveries").
GITHUB_SECRET = b"It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


# -- signatures -------------------------------------------------------------------------------


def test_githubs_published_test_vector_verifies():
    assert verify_signature(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE)
    assert sign(GITHUB_SECRET, GITHUB_BODY) == GITHUB_SIGNATURE


def test_uppercase_hex_is_accepted():
    upper = "sha256=" + GITHUB_SIGNATURE.removeprefix("sha256=").upper()
    assert verify_signature(GITHUB_SECRET, GITHUB_BODY, upper)


def test_wrong_secret_fails():
    assert not verify_signature(b"It's a Secret to Nobody", GITHUB_BODY, GITHUB_SIGNATURE)


def test_changed_body_fails():
    assert not verify_signature(GITHUB_SECRET, GITHUB_BODY + b" ", GITHUB_SIGNATURE)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",  # no prefix
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",  # short
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",  # not hex
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17ff",  # long
    ],
)
def test_missing_or_malformed_header_fails(header):
    assert not verify_signature(GITHUB_SECRET, GITHUB_BODY, header)


def test_empty_secret_never_verifies():
    assert not verify_signature(b"", GITHUB_BODY, sign(b"", GITHUB_BODY))


# -- decisions on the real payloads -----------------------------------------------------------


def test_ping_is_pong():
    assert decide("ping", load("ping/payload.json"), bot_login=BOT).kind is DecisionKind.PONG
    assert decide("ping", load("ping/with-app_id.payload.json"), bot_login=None).kind is (
        DecisionKind.PONG
    )


def test_opened_is_reviewed_with_everything_the_task_needs():
    payload = load("pull_request/opened.payload.json")
    d = decide("pull_request", payload, bot_login=BOT)
    assert d.kind is DecisionKind.REVIEW
    assert d.repo == payload["repository"]["full_name"] == "Codertocat/Hello-World"
    assert d.number == payload["number"]
    assert d.head_sha == payload["pull_request"]["head"]["sha"]
    assert d.base_sha == payload["pull_request"]["base"]["sha"]
    assert d.installation_id == payload["installation"]["id"]
    assert d.draft is False and d.before_sha is None
    assert d.action == "opened"


def test_opened_with_null_body_is_reviewed():
    d = decide("pull_request", load("pull_request/opened.with-null-body.json"), bot_login=BOT)
    assert d.kind is DecisionKind.REVIEW


@pytest.mark.parametrize(
    "name",
    [
        "pull_request/reopened.payload.json",
        "pull_request/ready_for_review.payload.json",
        "pull_request/ready_for_review.with-installation.payload.json",
    ],
)
def test_other_review_actions(name):
    payload = load(name)
    d = decide("pull_request", payload, bot_login=BOT)
    assert d.kind is DecisionKind.REVIEW
    assert d.installation_id == (payload.get("installation") or {}).get("id")


def test_synchronize_carries_the_before_sha():
    payload = load("pull_request/synchronize.payload.json")
    d = decide("pull_request", payload, bot_login=BOT)
    assert d.kind is DecisionKind.REVIEW
    assert d.before_sha == payload["before"]
    assert d.head_sha == payload["pull_request"]["head"]["sha"]


def test_opened_as_draft_is_ignored_with_a_reason():
    payload = copy.deepcopy(load("pull_request/opened.payload.json"))
    payload["pull_request"]["draft"] = True
    d = decide("pull_request", payload, bot_login=BOT)
    assert d.kind is DecisionKind.IGNORE
    assert "draft" in d.reason
    assert d.draft is True


def test_push_to_a_draft_is_ignored():
    payload = copy.deepcopy(load("pull_request/synchronize.payload.json"))
    payload["pull_request"]["draft"] = True
    assert decide("pull_request", payload, bot_login=BOT).kind is DecisionKind.IGNORE


@pytest.mark.parametrize(
    "name",
    [
        "pull_request/closed.payload.json",
        "pull_request/converted_to_draft.payload.json",
        "pull_request/converted_to_draft.with-installation.payload.json",
    ],
)
def test_closed_and_converted_to_draft_cancel(name):
    payload = load(name)
    d = decide("pull_request", payload, bot_login=BOT)
    assert d.kind is DecisionKind.CANCEL
    assert d.number == payload["number"]
    assert d.repo == "Codertocat/Hello-World"


@pytest.mark.parametrize("action", ["labeled", "assigned", "locked", "review_requested"])
def test_other_actions_are_ignored_with_the_action_named(action):
    d = decide("pull_request", load(f"pull_request/{action}.payload.json"), bot_login=BOT)
    assert d.kind is DecisionKind.IGNORE
    assert action in d.reason


def test_events_sent_by_the_bot_itself_are_ignored():
    payload = copy.deepcopy(load("pull_request/synchronize.payload.json"))
    payload["sender"] = {"login": "reviewer-bot[bot]", "type": "Bot"}
    d = decide("pull_request", payload, bot_login=BOT)
    assert d.kind is DecisionKind.IGNORE and "bot" in d.reason
    # settings may name the App without the [bot] suffix
    assert decide("pull_request", payload, bot_login="reviewer-bot").kind is DecisionKind.IGNORE


def test_a_human_with_the_bots_slug_is_not_the_bot():
    payload = copy.deepcopy(load("pull_request/opened.payload.json"))
    payload["sender"] = {"login": "reviewer-bot", "type": "User"}
    assert decide("pull_request", payload, bot_login=BOT).kind is DecisionKind.REVIEW


def test_without_a_bot_login_nobody_is_the_bot():
    payload = load("pull_request/opened.payload.json")
    assert decide("pull_request", payload, bot_login=None).kind is DecisionKind.REVIEW


@pytest.mark.parametrize(
    "event, name",
    [
        # issue_comment is handled (commands): tests/unit/test_commands.py
        ("check_run", "check_run/created.payload.json"),
        ("installation", "installation/created.payload.json"),
    ],
)
def test_unsupported_events_are_ignored(event, name):
    d = decide(event, load(name), bot_login=BOT)
    assert d.kind is DecisionKind.IGNORE
    assert d.reason == f"unsupported event {event!r}"


def test_malformed_pull_request_payload_is_a_payload_error():
    payload = copy.deepcopy(load("pull_request/opened.payload.json"))
    del payload["pull_request"]["head"]
    with pytest.raises(PayloadError) as err:
        decide("pull_request", payload, bot_login=BOT)
    assert "pull_request.head" in str(err.value)


@pytest.mark.parametrize("payload", [[], "x", None, {}, {"action": "opened"}])
def test_non_object_or_empty_payloads_are_payload_errors(payload):
    with pytest.raises(PayloadError):
        decide("pull_request", payload, bot_login=BOT)


def test_decision_is_json_serialisable_for_the_task_queue():
    d = decide("pull_request", load("pull_request/synchronize.payload.json"), bot_login=BOT)
    assert Decision.model_validate_json(d.model_dump_json()) == d

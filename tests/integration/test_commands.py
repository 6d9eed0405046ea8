"""``/reviewer`` commands in PR comments, from the webhook rules to the fake GitHub: pause
stops reviews on push, ignore suppresses a rule, help replies, review runs a full review, and
a command from someone who is not a collaborator changes nothing and gets no reaction.

Deliveries go through ``decide`` and intake as the web view sends them; the queued tasks run
in this process (real Postgres, Redis, and the fake GitHub over HTTP).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from reviewer.adapters.storage import Database, Delivery, DeliveryStatus, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.commands import HELP_MARKER
from reviewer.webhooks import DecisionKind, decide, sign
from tasks.app import create_celery_app
from tasks.commands import FULL_REVIEW_TRIGGER
from tasks.intake import Outcome, accept_delivery, command_request
from tasks.services import Services
from tests.conftest import WEBHOOK_SECRET, settings_from_env
from tests.support.pulls import REPO, wait_for
from tests.support.review_pipeline import deliver, flagging_runner, module, run_review
from web.app import create_app

pytestmark = pytest.mark.integration

NUMBER = 41
PAYLOAD = Path(__file__).resolve().parents[1] / "data" / "github-payloads" / "issue_comment"
BOT = "reviewer[bot]"


@pytest.fixture
def env(service_env, fake_github):
    seen: list[set[str]] = []
    settings = settings_from_env(dict(service_env, REVIEWER_GITHUB_BOT_LOGIN=BOT))
    services = Services(settings, agent_runner=flagging_runner(seen))
    app = create_celery_app(settings, services=services)
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    pr = fake_github.add_pull_request_from_texts(
        REPO, NUMBER, {"app/a.py": ("", module({3: "danger(1)", 9: "y = eval(x)"}))}
    )
    return services, app, db, pr


def _payload(comment_id: int, body: str, association: str = "MEMBER") -> dict:
    """GitHub's example ``issue_comment.created`` payload, moved onto the PR's comment."""
    payload = copy.deepcopy(json.loads((PAYLOAD / "created.payload.json").read_text()))
    payload["repository"]["full_name"] = REPO
    payload["issue"]["number"] = NUMBER
    payload["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{NUMBER}"}
    payload["comment"].update(id=comment_id, body=body, author_association=association)
    payload["comment"]["user"]["login"] = "maintainer"
    return payload


def _comment(fake_github, services, app, body: str, *, association: str = "MEMBER", delivery: str):
    """A PR comment written on the fake and delivered as GitHub would; runs the command task
    it queues. Returns (outcome, comment id)."""
    comment_id = fake_github.add_issue_comment(REPO, NUMBER, body, author="maintainer")
    payload = _payload(comment_id, body, association)
    decision = decide("issue_comment", payload, bot_login=BOT)
    result = accept_delivery(services, app, delivery_id=delivery, event="issue_comment", decision=decision)
    if decision.kind == DecisionKind.COMMAND:
        assert result.outcome == Outcome.ENQUEUED
        app.tasks["reviewer.handle_command"](command_request(decision, delivery).model_dump(mode="json"))
    return result, comment_id


def test_a_command_from_a_non_collaborator_is_ignored(env, fake_github):
    services, app, db, pr = env
    result, comment_id = _comment(
        fake_github, services, app, "/reviewer pause", association="CONTRIBUTOR", delivery="c-1"
    )
    assert result.outcome == Outcome.IGNORED and "not a collaborator" in result.reason
    assert fake_github.reactions(REPO, comment_id) == []
    assert fake_github.requests_to(r"/reactions$") == []
    with db.session() as s:
        assert not repo.is_paused(s, REPO, NUMBER)
    # and so a push is still reviewed
    pr = fake_github.push(REPO, NUMBER, {"app/a.py": module({3: "danger(1)", 20: "danger(2)"})})
    review = deliver(services, app, REPO, pr, "synchronize", "c-2")
    assert review.outcome == Outcome.ENQUEUED


def test_pause_stops_reviews_on_push_and_resume_restarts_them(env, fake_github):
    services, app, _db, pr = env
    _, comment_id = _comment(fake_github, services, app, "/reviewer pause", delivery="c-10")
    assert fake_github.reactions(REPO, comment_id) == ["+1"]

    pr = fake_github.push(REPO, NUMBER, {"app/a.py": module({3: "danger(1)", 20: "danger(2)"})})
    paused = deliver(services, app, REPO, pr, "synchronize", "c-11")
    assert paused.outcome == Outcome.IGNORED and "paused" in paused.reason
    assert paused.review_id is None and fake_github.reviews(REPO, NUMBER) == []

    _, resumed = _comment(fake_github, services, app, "/reviewer resume", delivery="c-12")
    assert fake_github.reactions(REPO, resumed) == ["+1"]
    pr = fake_github.push(REPO, NUMBER, {"app/a.py": module({3: "danger(1)", 25: "danger(3)"})})
    again = deliver(services, app, REPO, pr, "synchronize", "c-13")
    assert again.outcome == Outcome.ENQUEUED
    run_review(app, again.review_id)
    assert len(fake_github.reviews(REPO, NUMBER)) == 1


def test_ignore_suppresses_the_rule_in_later_reviews(env, fake_github):
    services, app, db, pr = env
    _, comment_id = _comment(fake_github, services, app, "/reviewer ignore eval-call", delivery="c-20")
    assert fake_github.reactions(REPO, comment_id) == ["+1"]
    with db.session() as s:
        assert repo.ignored_values(s, REPO) == {"eval-call"}
    run_review(app, deliver(services, app, REPO, pr, "opened", "c-21").review_id)
    [review] = fake_github.reviews(REPO, NUMBER)
    assert [c["line"] for c in review["comments"]] == [3]
    assert "eval-call" not in review["body"]


def test_help_replies_once_and_review_runs_a_full_review(env, fake_github):
    services, app, db, _pr = env
    _, help_id = _comment(fake_github, services, app, "/reviewer help", delivery="c-30")
    replies = [c for c in fake_github.issue_comments(REPO, NUMBER) if HELP_MARKER in c["body"]]
    assert len(replies) == 1 and "/reviewer ignore" in replies[0]["body"]
    assert "/reviewer reject <reason>" in replies[0]["body"]  # how to teach it, too
    assert fake_github.reactions(REPO, help_id) == ["+1"]

    _, review_id_comment = _comment(fake_github, services, app, "/reviewer review", delivery="c-31")
    assert fake_github.reactions(REPO, review_id_comment) == ["eyes"]
    with db.session() as s:
        review = repo.latest_review(s, REPO, NUMBER, statuses=list(ReviewStatus))
        review_id, trigger = review.id, review.trigger
    assert trigger == FULL_REVIEW_TRIGGER
    run_review(app, review_id)
    [posted] = fake_github.reviews(REPO, NUMBER)
    assert sorted(c["line"] for c in posted["comments"]) == [3, 9]
    # asking again for the same head posts nothing twice
    _comment(fake_github, services, app, "/reviewer review", delivery="c-32")
    assert len(fake_github.reviews(REPO, NUMBER)) == 1


def test_a_command_refused_by_a_down_broker_is_carried_out_once_by_the_sweeper(
    env, fake_github, service_env, start_worker
):
    _services, _app, db, _pr = env
    comment_id = fake_github.add_issue_comment(REPO, NUMBER, "/reviewer pause", author="maintainer")
    body = json.dumps(_payload(comment_id, "/reviewer pause")).encode()
    headers = {
        "X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "cmd-outage",
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(WEBHOOK_SECRET.encode(), body),
    }
    live_env = dict(service_env, REVIEWER_GITHUB_BOT_LOGIN=BOT, REVIEWER_DELIVERY_RETRY_AFTER_S="1")
    settings = settings_from_env(live_env)
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "broker_publish_timeout_s": 0.5})
    response = create_app(down).test_client().post("/webhooks/github", data=body, headers=headers)
    assert response.status_code == 503, response.text
    with db.session() as s:
        delivery = s.get(Delivery, "cmd-outage")
        assert delivery.status == DeliveryStatus.RECEIVED and delivery.review_id is None
        assert delivery.command["comment_id"] == comment_id and delivery.command["kind"] == "pause"
        assert not repo.is_paused(s, REPO, NUMBER)
    assert fake_github.reactions(REPO, comment_id) == []

    # the broker is back: beat's sweeper sends the kept command, a worker carries it out
    start_worker(REVIEWER_GITHUB_BOT_LOGIN=BOT)
    time.sleep(1.1)
    app = create_celery_app(settings, services=Services(settings))
    assert app.tasks["reviewer.sweep"]()["resent"] == 1
    wait_for(lambda: fake_github.reactions(REPO, comment_id) == ["+1"], timeout=60, what="the reaction")
    with db.session() as s:
        assert repo.is_paused(s, REPO, NUMBER)
        assert s.get(Delivery, "cmd-outage", populate_existing=True).status == DeliveryStatus.ENQUEUED
    # exactly once: a later pass resends nothing, and GitHub's redelivery is a duplicate
    assert app.tasks["reviewer.sweep"]()["resent"] == 0
    again = create_app(settings).test_client().post("/webhooks/github", data=body, headers=headers)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    time.sleep(1)  # a second command run would react here
    assert len(fake_github.requests_to(rf"/issues/comments/{comment_id}/reactions$", method="POST")) == 1

"""End to end over real HTTP: GitHub's signed webhook → web → Redis → worker → fake GitHub."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from reviewer.adapters.storage import Database, Delivery, Review, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.diff import parse_file_patch, validate_anchor
from reviewer.webhooks import sign
from tests.conftest import WEBHOOK_SECRET, settings_from_env
from tests.support.pulls import REPO, add_sample_pull_request, wait_for
from tests.support.web import WebServer
from web.app import create_app

pytestmark = pytest.mark.e2e

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "github-payloads"


def opened_payload(pr) -> dict:
    """GitHub's own ``pull_request.opened`` example, pointed at the fake repository's PR."""
    payload = json.loads((PAYLOADS / "pull_request" / "opened.payload.json").read_text())
    payload = copy.deepcopy(payload)
    owner, name = REPO.split("/")
    payload["number"] = pr.number
    payload.pop("installation", None)
    payload["repository"].update(full_name=REPO, name=name)
    payload["repository"]["owner"]["login"] = owner
    payload["pull_request"].update(number=pr.number, draft=False, state="open")
    payload["pull_request"]["head"].update(sha=pr.head_sha, ref=pr.head_ref)
    payload["pull_request"]["base"].update(sha=pr.base_sha, ref=pr.base_ref)
    return payload


def post(server: WebServer, event: str, body: bytes, *, delivery: str | None = None,
         secret: str = WEBHOOK_SECRET, signature: str | None = None) -> httpx.Response:
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature or sign(secret.encode(), body),
    }
    return httpx.post(f"{server.url}/webhooks/github", content=body, headers=headers, timeout=10)


@pytest.fixture
def web(service_env):
    settings = settings_from_env(service_env)
    with WebServer(create_app(settings)) as server:
        yield server


def _queued_messages(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return sum(client.llen(q) for q in ("default", "llm"))
    finally:
        client.close()


def _count(db: Database, model) -> int:
    from sqlalchemy import func, select

    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_signed_opened_webhook_gets_exactly_one_review_on_commentable_lines(
    service_env, start_worker, fake_github, web
):
    pr = add_sample_pull_request(fake_github)
    start_worker()
    body = json.dumps(opened_payload(pr)).encode()
    delivery = str(uuid.uuid4())

    started = time.monotonic()
    response = post(web, "pull_request", body, delivery=delivery)
    accepted_in = time.monotonic() - started
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "enqueued"
    assert accepted_in < 2.0  # answered without waiting for the review

    wait_for(lambda: fake_github.reviews(REPO, pr.number), timeout=60, what="the review")
    reviews = fake_github.reviews(REPO, pr.number)
    assert len(reviews) == 1
    patches = {f.filename: parse_file_patch(f.filename, f.patch) for f in pr.files if f.patch}
    assert reviews[0]["comments"]
    for comment in reviews[0]["comments"]:
        assert validate_anchor(patches[comment["path"]], comment["line"],
                               side=comment.get("side", "RIGHT"), start_line=comment.get("start_line"))

    # the same delivery again: acknowledged as a duplicate, nothing new posted
    again = post(web, "pull_request", body, delivery=delivery)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # a new delivery for the same head commit: not reviewed twice either
    other = post(web, "pull_request", body)
    assert other.status_code == 200 and other.json()["status"] == "already_reviewed"
    time.sleep(2)
    assert len(fake_github.reviews(REPO, pr.number)) == 1

    db = Database(service_env["REVIEWER_DATABASE_URL"])
    with db.session() as s:
        review = repo.get_review(s, response.json()["review_id"])
        assert review.status == ReviewStatus.POSTED
        assert review.github_review_id == reviews[0]["id"]

    detail = httpx.get(f"{web.url}/api/reviews/{review.id}", timeout=10).json()
    assert detail["status"] == "posted"
    assert {f["rule"] for f in detail["findings"]} >= {"command-injection"}


def test_bad_signature_is_401_and_nothing_is_recorded_or_enqueued(service_env, fake_github, web):
    pr = add_sample_pull_request(fake_github)
    body = json.dumps(opened_payload(pr)).encode()
    db = Database(service_env["REVIEWER_DATABASE_URL"])

    wrong = post(web, "pull_request", body, secret="not-the-secret")
    missing = httpx.post(f"{web.url}/webhooks/github", content=body, timeout=10,
                         headers={"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-1"})
    assert wrong.status_code == 401 and missing.status_code == 401
    assert "error" in wrong.json()
    assert _count(db, Delivery) == 0 and _count(db, Review) == 0
    assert _queued_messages(service_env["REVIEWER_REDIS_URL"]) == 0


def test_malformed_json_is_400(service_env, web):
    body = b'{"action": "opened", "number": '
    response = post(web, "pull_request", body)
    assert response.status_code == 400
    assert "malformed" in response.json()["error"]
    wrong_shape = post(web, "pull_request", b'{"action": "opened"}')
    assert wrong_shape.status_code == 400


def test_unknown_event_and_ping_are_2xx_and_ignored(service_env, web):
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    unknown = post(web, "deployment_status", b'{"action": "created"}')
    assert unknown.status_code == 200 and unknown.json()["status"] == "ignored"
    ping = post(web, "ping", (PAYLOADS / "ping" / "payload.json").read_bytes())
    assert ping.status_code == 200 and ping.json()["status"] == "pong"
    assert _count(db, Review) == 0
    assert _queued_messages(service_env["REVIEWER_REDIS_URL"]) == 0


def test_oversized_body_is_413(service_env):
    settings = settings_from_env(service_env).model_copy(update={"max_body_bytes": 1024})
    with WebServer(create_app(settings)) as server:
        response = post(server, "pull_request", b"{" + b" " * 4096 + b"}")
    assert response.status_code == 413
    assert response.json()["error"]


def test_broker_outage_is_503_and_the_sweeper_sends_the_delivery_later(
    service_env, start_worker, fake_github
):
    pr = add_sample_pull_request(fake_github)
    body = json.dumps(opened_payload(pr)).encode()
    settings = settings_from_env(service_env)
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "broker_publish_timeout_s": 0.5})
    with WebServer(create_app(down)) as server:
        started = time.monotonic()
        response = post(server, "pull_request", body, delivery="delivery-during-outage")
        took = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert took < 8
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    with db.session() as s:
        delivery = s.get(Delivery, "delivery-during-outage")
        assert delivery is not None and delivery.status == "received" and delivery.review_id

    # the broker is back: the beat-driven sweeper finds the kept delivery and sends it
    start_worker(REVIEWER_DELIVERY_RETRY_AFTER_S="1")
    from tasks.app import create_celery_app

    app = create_celery_app(settings)
    time.sleep(1.1)
    result = app.send_task("reviewer.sweep")
    assert result.get(timeout=30)["resent"] == 1
    wait_for(lambda: fake_github.reviews(REPO, pr.number), timeout=60, what="the review")
    assert len(fake_github.reviews(REPO, pr.number)) == 1


def test_health_and_readiness_name_what_is_down(service_env, web):
    assert httpx.get(f"{web.url}/healthz", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(f"{web.url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"] == {"redis": True, "postgres": True}
    settings = settings_from_env(service_env).model_copy(
        update={"redis_url": "redis://127.0.0.1:1/0", "broker_publish_timeout_s": 0.5}
    )
    with WebServer(create_app(settings)) as server:
        down = httpx.get(f"{server.url}/readyz", timeout=10)
        missing = httpx.get(f"{server.url}/api/reviews/999999", timeout=10)
    assert down.status_code == 503
    assert down.json()["checks"] == {"redis": False, "postgres": True}
    assert missing.status_code == 404 and missing.json()["error"]

"""End to end over real HTTP: a signed ``pull_request_review_comment`` reply to the bot's
inline comment → web → Redis → worker → a rejected verdict in Postgres; redelivered, nothing new."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from reviewer.adapters.storage import Database, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.adapters.storage.models import FeedbackRow
from reviewer.feedback import Signal, Verdict
from reviewer.webhooks import sign
from tasks.app import create_celery_app
from tasks.services import Services
from tests.conftest import WEBHOOK_SECRET, settings_from_env
from tests.fakes.github.events import review_comment_event
from tests.support.pulls import REPO, add_sample_pull_request, wait_for
from tests.support.review_pipeline import deliver
from tests.support.web import WebServer
from web.app import create_app

pytestmark = pytest.mark.e2e

BOT = "reviewer[bot]"


def post(server: WebServer, event: str, payload: dict, delivery: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET.encode(), body),
    }
    return httpx.post(f"{server.url}/webhooks/github", content=body, headers=headers, timeout=10)


def test_a_signed_reject_reply_becomes_one_rejected_verdict(service_env, start_worker, fake_github):
    env = dict(service_env, REVIEWER_GITHUB_BOT_LOGIN=BOT)
    start_worker(REVIEWER_GITHUB_BOT_LOGIN=BOT)
    settings = settings_from_env(env)
    services = Services(settings)
    pr = add_sample_pull_request(fake_github)
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id = deliver(services, create_celery_app(settings, services=services), REPO, pr, "opened", "r-1").review_id

    def posted():
        with db.session() as s:
            return repo.get_review(s, review_id).status == ReviewStatus.POSTED

    wait_for(posted, timeout=90, what="the review to be posted")
    [parent] = [c for c in fake_github.bot_review_comments(REPO, pr.number) if "`bare-except`" in c["body"]]
    reply = fake_github.reply_to_review_comment(
        REPO, parent["id"], "/reviewer reject we catch everything on purpose here", author="octocat",
        author_association="CONTRIBUTOR",  # the PR's author, not a collaborator: still heard
    )
    payload = review_comment_event(fake_github, REPO, pr.number, reply)
    delivery = str(uuid.uuid4())

    with WebServer(create_app(settings)) as web:
        response = post(web, "pull_request_review_comment", payload, delivery)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "enqueued"

        def stored():
            with db.session() as s:
                return s.scalars(select(FeedbackRow)).all()

        [row] = wait_for(stored, timeout=60, what="the verdict")
        assert (row.verdict, row.signal, row.actor, row.rule) == (
            Verdict.REJECTED, Signal.REPLY_COMMAND, "octocat", "bare-except",
        )
        assert row.reason == "we catch everything on purpose here"

        again = post(web, "pull_request_review_comment", payload, delivery)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        stranger = dict(payload, sender=dict(payload["sender"], login="drive-by"))
        stranger["comment"] = dict(reply, author_association="NONE", user=dict(reply["user"], login="drive-by"))
        ignored = post(web, "pull_request_review_comment", stranger, str(uuid.uuid4()))
        assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FeedbackRow)) == 1

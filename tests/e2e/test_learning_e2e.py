"""End to end with real worker processes, the web app and the fake GitHub: PR 1 is reviewed, a
developer rejects one posted finding the way GitHub lets them (a reply, a resolved thread, a 👎),
and PR 2 with the same code pattern does not get that finding again — its other findings are
posted as usual, and the summary says one was held back.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from reviewer.adapters.storage import Database
from reviewer.adapters.storage import repositories as repo
from reviewer.adapters.storage.learning import learning_record
from reviewer.adapters.storage.models import FeedbackRow
from reviewer.render import parse_finding_marker
from reviewer.summary import SUMMARY_MARKER
from tasks.app import create_celery_app
from tests.conftest import settings_from_env
from tests.e2e.test_webhook_to_review import opened_payload, post
from tests.fakes.github import BOT_LOGIN
from tests.fakes.github.events import review_comment_event, review_thread_event
from tests.support.pulls import BASE_REPORTS, HEAD_REPORTS, REPO, SAMPLE_CHANGES, wait_for
from tests.support.web import WebServer
from web.app import create_app

pytestmark = pytest.mark.e2e

REJECTED_LINE = 'subprocess.call("tar czf /tmp/report.tgz " + target, shell=True)'


@pytest.fixture
def bot_env(service_env) -> dict[str, str]:
    """The service's environment with the bot's login known, as in production (the fake GitHub
    posts the bot's comments as ``BOT_LOGIN``)."""
    return dict(service_env, REVIEWER_GITHUB_BOT_LOGIN=BOT_LOGIN)


@pytest.fixture
def web(bot_env):
    with WebServer(create_app(settings_from_env(bot_env))) as server:
        yield server


def _review_of(fake_github, web, pr) -> dict:
    response = post(web, "pull_request", json.dumps(opened_payload(pr)).encode())
    assert response.status_code == 202, response.text
    wait_for(lambda: fake_github.reviews(REPO, pr.number), timeout=90, what=f"the review of PR {pr.number}")
    wait_for(
        lambda: [c for c in fake_github.issue_comments(REPO, pr.number) if SUMMARY_MARKER in c["body"]],
        timeout=30, what="the summary comment",
    )
    [review] = fake_github.reviews(REPO, pr.number)
    return review | {"review_id": response.json()["review_id"]}


def _posted(db: Database, review: dict) -> dict[str, object]:
    """The posted inline findings of a review, by fingerprint."""
    with db.session() as s:
        findings = {f.fingerprint: f for f in repo.load_findings(s, review["review_id"])}
    return {fp: findings[fp] for fp in (parse_finding_marker(c["body"]) for c in review["comments"]) if fp}


def _second_pr_without(fake_github, web, db, rejected_rule: str) -> dict:
    """PR 2: the same command-injection pattern (another archive name) in another module, plus
    the same SQL injection. Asserts the rejected rule's finding is held back and the rest posted."""
    head = HEAD_REPORTS.replace("/tmp/report.tgz", "/tmp/backup.tgz")
    second_pr = fake_github.add_pull_request_from_texts(REPO, 2, {"app/backup.py": (BASE_REPORTS, head)})
    second = _review_of(fake_github, web, second_pr)
    again = _posted(db, second)
    assert again, "PR 2's other findings are posted"
    assert "sql-injection" in {f.rule for f in again.values()}
    assert not [f for f in again.values() if f.rule == rejected_rule]
    assert rejected_rule not in second["body"]  # nor listed in the review's body
    [summary] = [c["body"] for c in fake_github.issue_comments(REPO, 2) if SUMMARY_MARKER in c["body"]]
    assert "1 finding held back by learned feedback" in summary
    with db.session() as s:
        [held] = learning_record(repo.get_review(s, second["review_id"]))["held_back"]
    assert held["rule"] == rejected_rule and held["by"] == "similar"
    return held


def _first_pr(fake_github, web, db):
    """PR 1 reviewed; the bot's inline comment on its command injection."""
    first_pr = fake_github.add_pull_request_from_texts(REPO, 1, SAMPLE_CHANGES)
    first = _review_of(fake_github, web, first_pr)
    posted = _posted(db, first)
    [rejected] = [f for f in posted.values() if REJECTED_LINE in HEAD_REPORTS.splitlines()[f.line - 1]
                  and f.rule == "command-injection"]
    [comment] = [c for c in fake_github.bot_review_comments(REPO, 1)
                 if parse_finding_marker(c["body"]) == rejected.fingerprint]
    return comment


def _verdicts(db: Database) -> list[tuple[str, str, str]]:
    with db.session() as s:
        return [(r.verdict.value, r.signal.value, r.rule) for r in s.scalars(select(FeedbackRow))]


@pytest.mark.parametrize("signal", ["reply", "thread", "reaction"])
def test_a_finding_rejected_on_github_is_not_posted_again_on_the_next_similar_pr(
    signal, bot_env, start_worker, fake_github, web
):
    """The whole loop through GitHub's own signals: a ``/reviewer reject`` reply (signed webhook),
    a thread resolved without a change (signed webhook), or a 👎 found by the reaction poller."""
    db = Database(bot_env["REVIEWER_DATABASE_URL"])
    start_worker(REVIEWER_GITHUB_BOT_LOGIN=BOT_LOGIN)
    comment = _first_pr(fake_github, web, db)

    if signal == "reply":
        reply = fake_github.reply_to_review_comment(
            REPO, comment["id"], "/reviewer reject target is a fixed name", author="maintainer")
        body = json.dumps(review_comment_event(fake_github, REPO, 1, reply)).encode()
        assert post(web, "pull_request_review_comment", body).status_code == 202
        expected = ("rejected", "reply_command", "command-injection")
    elif signal == "thread":
        body = json.dumps(review_thread_event(fake_github, REPO, 1, comment["id"], sender="maintainer")).encode()
        assert post(web, "pull_request_review_thread", body).status_code == 202
        expected = ("dismissed", "thread_resolved_unchanged", "command-injection")
    else:
        fake_github.react_to_review_comment(REPO, comment["id"], "-1", user="dev")
        app = create_celery_app(settings_from_env(bot_env))
        app.signature("reviewer.poll_reactions").apply_async().get(timeout=60)
        expected = ("rejected", "reaction", "command-injection")
    assert wait_for(lambda: _verdicts(db), timeout=60, what="the verdict") == [expected]

    held = _second_pr_without(fake_github, web, db, "command-injection")
    if signal == "reply":
        assert "target is a fixed name" in held["reason"]

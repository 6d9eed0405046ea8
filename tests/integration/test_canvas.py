"""The review canvas on real parts: Redis broker, real worker processes, Postgres, fake GitHub."""

from __future__ import annotations

import time

import pytest

from reviewer.adapters.storage import Database, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.diff import parse_file_patch, validate_anchor
from tasks.app import create_celery_app
from tasks.intake import send
from tasks.services import Services
from tests.conftest import settings_from_env
from tests.support.pulls import REPO, add_sample_pull_request, wait_for

pytestmark = pytest.mark.integration


def _create_review(db: Database, pr) -> int:
    with db.session() as s:
        review, _ = repo.get_or_create_review(
            s, source="github", repo=REPO, pr_number=pr.number, head_sha=pr.head_sha,
            base_sha=pr.base_sha, installation_id=None, trigger="pull_request.opened",
        )
        return review.id


def _dispatch(service_env, review_id: int) -> Services:
    settings = settings_from_env(service_env)
    services = Services(settings)
    app = create_celery_app(settings, services=services)
    send(services, app, delivery_id=None, review_id=review_id)
    return services


def _review_status(db: Database, review_id: int):
    with db.session() as s:
        return repo.get_review(s, review_id).status


def _posted(fake_github, number: int, db: Database, review_id: int):
    return fake_github.reviews(REPO, number) and _review_status(db, review_id) == ReviewStatus.POSTED


def test_canvas_completes_and_posts_one_review_on_valid_anchors(service_env, start_worker, fake_github):
    pr = add_sample_pull_request(fake_github)
    start_worker()
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id = _create_review(db, pr)
    _dispatch(service_env, review_id)

    wait_for(lambda: _posted(fake_github, pr.number, db, review_id), timeout=60, what="the review")
    reviews = fake_github.reviews(REPO, pr.number)
    assert len(reviews) == 1
    posted = reviews[0]
    assert posted["commit_id"] == pr.head_sha
    assert f"reviewer:review id={review_id}" in posted["body"] or f"id={review_id}" in posted["body"]
    # real findings flowed through: command injection and SQL injection on changed lines
    with db.session() as s:
        rules = {f.rule for f in repo.load_findings(s, review_id)}
        agents = repo.agent_statuses(s, review_id)
    assert {"command-injection", "sql-injection"} <= rules
    assert set(agents) == {"security", "performance", "quality", "architecture"}
    assert set(agents.values()) == {"ok"}
    # every inline comment sits on a line GitHub accepts (the fake also enforced it)
    patches = {f.filename: parse_file_patch(f.filename, f.patch) for f in pr.files if f.patch}
    assert posted["comments"], "expected inline comments"
    for comment in posted["comments"]:
        assert validate_anchor(
            patches[comment["path"]], comment["line"], side=comment.get("side", "RIGHT"),
            start_line=comment.get("start_line"),
        )
    # the binary file is named as skipped
    assert "docs/logo.png" in posted["body"]


def test_an_agent_that_raises_is_named_in_the_posted_review(service_env, start_worker, fake_github):
    pr = add_sample_pull_request(fake_github)
    start_worker(REVIEWER_TEST_FAULTS="security=raise")
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id = _create_review(db, pr)
    _dispatch(service_env, review_id)

    wait_for(lambda: _posted(fake_github, pr.number, db, review_id), timeout=60, what="the review")
    reviews = fake_github.reviews(REPO, pr.number)
    assert len(reviews) == 1
    body = reviews[0]["body"]
    assert "security" in body and "InjectedFault" in body
    with db.session() as s:
        results = repo.load_agent_results(s, review_id)
        findings = repo.load_findings(s, review_id)
    assert results["security"].status == "failed"
    assert results["quality"].status == "ok"
    # the other agents' findings were still posted
    assert any(f.category == "quality" for f in findings)


def test_worker_killed_mid_agent_then_restarted_posts_exactly_once(
    service_env, start_worker, fake_github, tmp_path
):
    pr = add_sample_pull_request(fake_github)
    marker = tmp_path / "performance-started"
    first = start_worker(
        "w1", REVIEWER_TEST_FAULTS="performance=sleep-once:30",
        REVIEWER_TEST_FAULT_MARKER=str(marker),
    )
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id = _create_review(db, pr)
    _dispatch(service_env, review_id)

    wait_for(marker.exists, timeout=30, what="the performance agent to start")
    time.sleep(0.5)
    first.kill()  # SIGKILL to the whole worker: the agent's message is never acknowledged
    assert fake_github.reviews(REPO, pr.number) == []

    start_worker("w2", REVIEWER_TEST_FAULTS="performance=sleep-once:30",
                 REVIEWER_TEST_FAULT_MARKER=str(marker))
    wait_for(lambda: _posted(fake_github, pr.number, db, review_id), timeout=90, what="the review")
    time.sleep(3)  # a second post would show up here
    assert len(fake_github.reviews(REPO, pr.number)) == 1
    assert len(fake_github.requests_to(r"/pulls/\d+/reviews$", method="POST")) == 1
    with db.session() as s:
        assert repo.load_agent_results(s, review_id)["performance"].status == "ok"


def test_sweeper_redispatches_a_review_whose_messages_were_lost(service_env, start_worker, fake_github):
    pr = add_sample_pull_request(fake_github)
    start_worker(REVIEWER_REVIEW_DEADLINE_S="1")
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id = _create_review(db, pr)
    with db.session() as s:  # queued, but its message never reached a worker
        repo.note_dispatch(s, review_id)
    time.sleep(1.5)

    settings = settings_from_env(service_env)
    app = create_celery_app(settings)
    assert app.send_task("reviewer.sweep").get(timeout=30)["redispatched"] == 1
    wait_for(lambda: _posted(fake_github, pr.number, db, review_id), timeout=60, what="the review")
    assert len(fake_github.reviews(REPO, pr.number)) == 1
    # a later pass finds nothing to do: the review is posted
    assert app.send_task("reviewer.sweep").get(timeout=30) == {"resent": 0, "redispatched": 0, "gave_up": 0}


def test_worker_logs_are_json_events_carrying_the_review_id(service_env, start_worker, fake_github, tmp_path):
    import json

    pr = add_sample_pull_request(fake_github)
    start_worker("logs")
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id = _create_review(db, pr)
    _dispatch(service_env, review_id)
    wait_for(lambda: _posted(fake_github, pr.number, db, review_id), timeout=60, what="the review")
    time.sleep(0.5)
    events = []
    for line in (tmp_path / "logs.log").read_text().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    ours = [e for e in events if e.get("review_id") == review_id]
    names = {e["event"] for e in ours}
    assert {"review.prepared", "agent.finished", "review.posted"} <= names
    assert all("timestamp" in e and "level" in e for e in ours)
    assert {e["agent"] for e in ours if e["event"] == "agent.finished"} == {
        "security", "performance", "quality", "architecture"
    }
    assert "test-token" not in (tmp_path / "logs.log").read_text()


def test_an_agent_that_kills_its_worker_every_time_is_given_up_and_named(service_env, start_worker, fake_github):
    pr = add_sample_pull_request(fake_github)
    worker = start_worker(REVIEWER_TEST_FAULTS="architecture=crash")
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id = _create_review(db, pr)
    _dispatch(service_env, review_id)

    wait_for(lambda: _posted(fake_github, pr.number, db, review_id), timeout=90, what="the review")
    [posted] = fake_github.reviews(REPO, pr.number)
    assert "architecture" in posted["body"] and "died" in posted["body"]
    with db.session() as s:
        results = repo.load_agent_results(s, review_id)
    assert results["architecture"].status == "failed"
    assert "WorkerLostTooOften" in results["architecture"].error
    assert results["security"].status == "ok"
    assert worker.proc.poll() is None  # the worker itself survived its children's deaths

"""Rapid pushes on real workers: one review running, one waiting per pull request.

Webhook deliveries go through intake as the web view sends them; real worker processes run
the canvas against the fake GitHub. Every agent sleeps a little (so pushes land while a review
runs) and records when it ran, so overlapping reviews would show in the trace.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from reviewer.adapters.storage import Database, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from tasks.app import create_celery_app
from tasks.intake import Outcome
from tasks.services import Services
from tests.conftest import settings_from_env
from tests.support.pulls import BASE_REPORTS, HEAD_REPORTS, REPO, wait_for
from tests.support.review_pipeline import deliver

pytestmark = pytest.mark.integration

SLOW_AGENTS = ";".join(f"{name}=sleep:1.5" for name in ("security", "performance", "quality", "architecture"))


def _status(db: Database, review_id: int) -> ReviewStatus:
    with db.session() as s:
        return repo.get_review(s, review_id).status


def _pull_request(fake_github, number: int):
    """Text files only (the fake's push diffs text)."""
    return fake_github.add_pull_request_from_texts(
        REPO, number, {"app/reports.py": (BASE_REPORTS, HEAD_REPORTS), "app/settings.py": (None, "DEBUG = True\n")}
    )


def _edit(n: int) -> dict[str, str]:
    return {"app/settings.py": f'DEBUG = True\nSECRET_KEY = "8f1d2c9a7b3e4f5061728394a5b6c7d{n}"\nPUSH = {n}\n'}


@pytest.fixture
def intake(service_env):
    settings = settings_from_env(service_env)
    services = Services(settings)
    return services, create_celery_app(settings, services=services)


def test_three_quick_pushes_run_one_review_at_a_time_and_post_only_the_last(
    service_env, start_worker, fake_github, intake, tmp_path
):
    trace = tmp_path / "agents.jsonl"
    start_worker(REVIEWER_TEST_FAULTS=SLOW_AGENTS, REVIEWER_TEST_AGENT_TRACE=str(trace))
    services, app = intake
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    pr = _pull_request(fake_github, 61)
    first = deliver(services, app, REPO, pr, "opened", "rp-1")
    assert first.outcome == Outcome.ENQUEUED
    wait_for(lambda: trace.exists() or None, timeout=60, what="the first review's agents to start")

    heads = [pr.head_sha]
    outcomes = []
    for n, delivery in ((2, "rp-2"), (3, "rp-3")):
        pr = fake_github.push(REPO, 61, _edit(n))
        heads.append(pr.head_sha)
        outcomes.append(deliver(services, app, REPO, pr, "synchronize", delivery))
    middle, last = outcomes
    assert [o.outcome for o in outcomes] == [Outcome.WAITING, Outcome.WAITING]

    wait_for(lambda: _status(db, last.review_id) == ReviewStatus.POSTED, timeout=120, what="the last review")
    [review] = fake_github.reviews(REPO, 61)
    assert review["commit_id"] == heads[2]
    with db.session() as s:
        first_row, middle_row = repo.get_review(s, first.review_id), repo.get_review(s, middle.review_id)
    # the middle review was replaced while it waited: never sent, never run, never posted
    assert middle_row.status == ReviewStatus.CANCELLED and middle_row.dispatch_attempts == 0
    assert fake_github.check_runs(REPO, heads[1]) == []
    # the first stopped at a checkpoint once a newer review waited, and posted nothing
    assert first_row.status == ReviewStatus.CANCELLED and "superseded" in first_row.error

    runs = [json.loads(line) for line in trace.read_text().splitlines()]
    spans = {}
    for run in runs:
        start, end = spans.get(run["head"], (run["start"], run["end"]))
        spans[run["head"]] = (min(start, run["start"]), max(end, run["end"]))
    assert heads[1] not in spans
    assert set(spans) == {heads[0], heads[2]}
    # at most one review's agents at any time: the last started after the first's finished
    assert spans[heads[0]][1] <= spans[heads[2]][0]


def test_the_sweeper_hands_over_a_waiting_review_whose_hand_over_was_lost(
    service_env, start_worker, fake_github, intake
):
    services, app = intake
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    pr = _pull_request(fake_github, 62)
    first = deliver(services, app, REPO, pr, "opened", "sw-1")  # queued; no worker runs yet
    pr = fake_github.push(REPO, 62, _edit(2))
    waiting = deliver(services, app, REPO, pr, "synchronize", "sw-2")
    assert waiting.outcome == Outcome.WAITING
    # the first review's worker died after its review failed, before handing over
    with db.session() as s:
        repo.set_review_status(s, first.review_id, ReviewStatus.FAILED, error="worker lost")

    start_worker(REVIEWER_TEST_FAULTS="security=noop")
    app.tasks["reviewer.sweep"]()  # beat's pass, in this process
    assert _status(db, waiting.review_id) in (ReviewStatus.QUEUED, ReviewStatus.RUNNING, ReviewStatus.POSTED)
    wait_for(lambda: _status(db, waiting.review_id) == ReviewStatus.POSTED, timeout=90, what="the handed-over review")
    [review] = fake_github.reviews(REPO, 62)
    assert review["commit_id"] == pr.head_sha
    # a second pass finds nothing left to hand over, and nothing is posted twice
    app.tasks["reviewer.sweep"]()
    assert len(fake_github.reviews(REPO, 62)) == 1


def test_an_agent_of_a_cancelled_review_does_not_run(service_env, start_worker, fake_github, intake, tmp_path):
    """A superseded review's agents that had not started yet spend nothing: they are skipped."""
    trace = tmp_path / "agents.jsonl"
    start_worker(REVIEWER_TEST_AGENT_TRACE=str(trace))
    services, app = intake
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    pr = _pull_request(fake_github, 62)
    review_id = deliver(services, app, REPO, pr, "opened", "rp-cancel").review_id
    wait_for(lambda: _status(db, review_id) == ReviewStatus.POSTED, timeout=90, what="the review")
    ran = trace.read_text().count('"security"')
    with db.session() as s:
        repo.set_review_status(s, review_id, ReviewStatus.CANCELLED, error="superseded")
        s.execute(text("DELETE FROM agent_runs WHERE review_id = :r AND agent = 'security'"), {"r": review_id})

    ref = {"review_id": review_id, "head_sha": pr.head_sha}
    result = app.signature(
        "reviewer.run_agent", args=(ref,), kwargs={"agent": "security", "review_id": review_id}
    ).apply_async().get(timeout=60)
    assert (result["status"], result["error"]) == ("skipped", "review cancelled; not run")
    assert trace.read_text().count('"security"') == ran  # the agent itself never ran again

    # A newer push's review waits behind a running one: agents not started yet are skipped too.
    with db.session() as s:
        repo.set_review_status(s, review_id, ReviewStatus.RUNNING)
        s.execute(text("DELETE FROM agent_runs WHERE review_id = :r AND agent = 'security'"), {"r": review_id})
        newer, _ = repo.get_or_create_review(
            s, source="github", repo=REPO, pr_number=pr.number, head_sha="f" * 40, base_sha=pr.base_sha,
            installation_id=None, trigger="pull_request.synchronize",
        )
        repo.set_review_status(s, newer.id, ReviewStatus.WAITING)
    result = app.signature(
        "reviewer.run_agent", args=(ref,), kwargs={"agent": "security", "review_id": review_id}
    ).apply_async().get(timeout=60)
    assert (result["status"], result["error"]) == ("skipped", f"superseded by the review of {'f' * 12}; not run")
    assert trace.read_text().count('"security"') == ran

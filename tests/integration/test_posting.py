"""Posting against the fake GitHub (which enforces GitHub's 422 rules): the capped review, the
summary comment edited in place, validated suggestions, and the check run's life.

The canvas' tasks run in this process, in order, on a real Postgres, Redis and the fake
GitHub over HTTP; the agents are replaced by a runner that reports chosen findings. The last
test runs the real agents on a real worker.
"""

from __future__ import annotations

import re

import pytest

from reviewer.adapters.storage import Database, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.diff import parse_file_patch, validate_anchor
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus
from reviewer.summary import SUMMARY_MARKER
from tasks.app import create_celery_app
from tasks.services import Services
from tests.conftest import TEST_TOKEN, settings_from_env
from tests.support.pulls import REPO, add_sample_pull_request, wait_for

pytestmark = pytest.mark.integration

PATH = "app/values.py"
LINES = 130
HEAD = "".join(f"value_{i} = {i}\n" for i in range(1, LINES + 1))
UNPARSABLE = "value_1 = (  # never closed"
VALID = "value_2 = 2 * 1"


def _findings_runner(counts: dict[str, int]):
    """An agent runner: agent ``a`` reports ``counts[a]`` findings on distinct lines of PATH.

    The first security finding carries a suggestion that does not parse, the second a valid
    one; both are critical, so they are among the inline comments.
    """
    offsets = {}
    start = 1
    for name in AGENT_NAMES:
        offsets[name] = start
        start += counts.get(name, 0)

    def run(name, snapshot):
        findings = []
        for k in range(counts.get(name, 0)):
            line = offsets[name] + k
            suggestion = {1: UNPARSABLE, 2: VALID}.get(line)
            findings.append(
                Finding(
                    path=PATH, line=line, category=Category(name),
                    severity=Severity.CRITICAL if line <= 2 else Severity.MEDIUM,
                    rule=f"{name}-rule", message=f"problem {line}", confidence=0.95,
                    suggestion=suggestion, source="static:test", fingerprint=f"fp-{line}",
                )
            )
        return AgentResult(agent=name, status=AgentStatus.OK, findings=findings)

    return run


@pytest.fixture
def pipeline(service_env, fake_github):
    """Run the canvas' tasks in this process for a new PR; returns (services, app, review id)."""

    def build(counts: dict[str, int], *, cap: int = 10, number: int = 21):
        pr = fake_github.add_pull_request_from_texts(REPO, number, {PATH: ("", HEAD)})
        env = dict(service_env, REVIEWER_INLINE_COMMENT_CAP=str(cap))
        settings = settings_from_env(env)
        services = Services(settings, agent_runner=_findings_runner(counts))
        app = create_celery_app(settings, services=services)
        db = Database(service_env["REVIEWER_DATABASE_URL"])
        with db.session() as s:
            review, _ = repo.get_or_create_review(
                s, source="github", repo=REPO, pr_number=number, head_sha=pr.head_sha,
                base_sha=pr.base_sha, installation_id=None, trigger="pull_request.opened",
            )
            review_id = review.id
        app.tasks["reviewer.prepare"](review_id)  # also sends the tail to the broker: unused
        results = [
            app.tasks["reviewer.run_agent"]({"review_id": review_id}, agent=name, review_id=review_id)
            for name in AGENT_NAMES
        ]
        merged = app.tasks["reviewer.generate_fixes"](results, review_id=review_id)
        app.tasks["reviewer.post_review"](merged, review_id=review_id)
        return pr, app, db, review_id

    return build


def test_forty_findings_give_a_capped_valid_review_and_one_summary(pipeline, fake_github):
    fake_github.add_issue_comment(REPO, 21, "LGTM once CI passes")  # someone else's comment
    pr, app, db, review_id = pipeline({"security": 10, "quality": 30}, cap=10)

    [review] = fake_github.reviews(REPO, 21)
    assert len(review["comments"]) == 10
    patch = parse_file_patch(PATH, pr.files[0].patch)
    for comment in review["comments"]:
        assert validate_anchor(patch, comment["line"], start_line=comment.get("start_line"))
        assert re.search(r"\*\*(CRITICAL|MEDIUM)\*\* · (security|quality) · ", comment["body"])
    listed = re.findall(r"`app/values.py:(\d+)`", review["body"])
    inline = {c["line"] for c in review["comments"]}
    assert len(listed) == 30 and inline.isdisjoint(int(n) for n in listed)
    # the suggestion that does not parse is not offered; the valid one is
    by_line = {c["line"]: c["body"] for c in review["comments"]}
    assert "```suggestion" not in by_line[1] and "problem 1" in by_line[1]
    assert f"```suggestion\n{VALID}\n```" in by_line[2]
    with db.session() as s:
        stored = {f.line: f.suggestion for f in repo.load_findings(s, review_id)}
    assert stored[1] is None and stored[2] == VALID

    comments = fake_github.issue_comments(REPO, 21)
    summaries = [c for c in comments if SUMMARY_MARKER in c["body"]]
    assert len(comments) == 2 and len(summaries) == 1
    summary = summaries[0]["body"]
    assert "**40 findings**; 10 shown inline" in summary
    assert f"/dashboard/reviews/{review_id}" in summary
    assert "Static analysis only" in summary

    # a second post_review for the same review: nothing new is posted, the summary is edited
    reviews_posted = len(fake_github.requests_to(r"/pulls/21/reviews$", method="POST"))
    app.tasks["reviewer.post_review"](None, review_id=review_id)
    assert len(fake_github.requests_to(r"/pulls/21/reviews$", method="POST")) == reviews_posted == 1
    assert fake_github.requests_to(r"/issues/21/comments$", method="POST").__len__() == 1
    edits = fake_github.requests_to(rf"/issues/comments/{summaries[0]['id']}$", method="PATCH")
    assert len(edits) == 1 and SUMMARY_MARKER in edits[0].json()["body"]
    assert len(fake_github.issue_comments(REPO, 21)) == 2
    assert len(fake_github.reviews(REPO, 21)) == 1


def test_check_run_goes_through_its_states_with_annotations_in_batches(pipeline, fake_github):
    pr, app, db, review_id = pipeline({"security": 3, "performance": 40, "quality": 77}, cap=10)

    [run] = fake_github.check_runs(REPO, pr.head_sha)
    assert run["name"] == "reviewer" and run["status"] == "completed"
    bodies = run["requests"]
    assert bodies[0]["status"] == "queued"
    assert bodies[1]["status"] == "in_progress"
    progress = [b["output"]["summary"] for b in bodies if b.get("status") == "in_progress"]
    assert any("security done (3 findings)" in p for p in progress)
    assert any("performance done (40 findings)" in p for p in progress)
    completing = [i for i, b in enumerate(bodies) if b.get("status") == "completed"]
    assert len(completing) == 1
    first = completing[0]
    # the critical findings fail the check at the default threshold ("high")
    assert bodies[first]["conclusion"] == "failure"
    assert [len(b["output"]["annotations"]) for b in bodies[first:]] == [50, 50, 20]
    assert len(run["annotations"]) == 120

    # posting again finishes nothing twice
    patches = len(fake_github.requests_to(r"/check-runs/\d+$", method="PATCH"))
    app.tasks["reviewer.post_review"](None, review_id=review_id)
    assert len(fake_github.requests_to(r"/check-runs/\d+$", method="PATCH")) == patches
    with db.session() as s:
        assert repo.get_review(s, review_id).status == ReviewStatus.POSTED


def test_fake_github_refuses_more_than_fifty_annotations(fake_github, make_settings, clean_redis):
    from reviewer.adapters.github import GitHubHostFactory
    from reviewer.ports import CheckRunUpdate

    fake_github.add_pull_request_from_texts(REPO, 3, {PATH: ("", HEAD)}, head_sha="c" * 40)
    import redis

    factory = GitHubHostFactory(
        fake_github.url, "2022-11-28", token=TEST_TOKEN, redis_client=redis.Redis.from_url(clean_redis)
    )
    host = factory.for_installation(None)
    run_id = host.create_check_run(
        REPO, head_sha="c" * 40, name="reviewer", external_id="x",
        update=CheckRunUpdate(status="queued"),
    )
    assert host.find_check_run(REPO, "c" * 40, "reviewer", "x") == run_id
    # githubkit validates bodies before sending, so the fake's rule is checked over raw HTTP
    import httpx

    note = {"path": PATH, "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": "m"}
    headers = {"Authorization": f"token {TEST_TOKEN}"}
    url = f"{fake_github.url}/repos/{REPO}/check-runs/{run_id}"
    too_many = {"output": {"title": "t", "summary": "s", "annotations": [note] * 51}}
    answer = httpx.patch(url, json=too_many, headers=headers)
    assert answer.status_code == 422 and "50 annotations" in answer.text
    assert fake_github.check_runs(REPO)[0]["annotations"] == []
    fifty = {"output": {"title": "t", "summary": "s", "annotations": [note] * 50}}
    assert httpx.patch(url, json=fifty, headers=headers).status_code == 200
    incomplete = {"status": "completed"}  # a conclusion is required to complete
    assert httpx.patch(url, json=incomplete, headers=headers).status_code == 422
    assert len(fake_github.check_runs(REPO)[0]["annotations"]) == 50


def test_real_agents_on_a_worker_complete_the_check_run(service_env, start_worker, fake_github):
    pr = add_sample_pull_request(fake_github)
    start_worker()
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    with db.session() as s:
        review, _ = repo.get_or_create_review(
            s, source="github", repo=REPO, pr_number=pr.number, head_sha=pr.head_sha,
            base_sha=pr.base_sha, installation_id=None, trigger="pull_request.opened",
        )
        review_id = review.id
    settings = settings_from_env(service_env)
    services = Services(settings)
    app = create_celery_app(settings, services=services)
    from tasks.intake import send

    send(services, app, delivery_id=None, review_id=review_id)

    def completed():
        runs = fake_github.check_runs(REPO, pr.head_sha)
        return runs and runs[0]["status"] == "completed" and runs[0]

    run = wait_for(completed, timeout=90, what="the completed check run")
    assert run["conclusion"] == "failure"  # SQL and command injection are high
    assert [b.get("status") for b in run["requests"]][:2] == ["queued", "in_progress"]
    assert len([c for c in fake_github.issue_comments(REPO, pr.number) if SUMMARY_MARKER in c["body"]]) == 1
    [review] = fake_github.reviews(REPO, pr.number)
    suggestions = [c["body"] for c in review["comments"] if "```suggestion" in c["body"]]
    assert any("WHERE name = ?" in body for body in suggestions)  # the validated SQL fix

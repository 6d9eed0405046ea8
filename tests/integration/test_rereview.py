"""Incremental re-review on a push, against the fake GitHub (which enforces the 422 rules):
nothing already posted is posted again, a fixed finding shows as resolved, the agents see only
what the push changed, and pushes during a run wait (one running, one waiting per PR).

The canvas' tasks run in this process on a real Postgres, Redis and the fake GitHub over HTTP;
the agents are replaced by a runner that flags every line calling ``danger(...)``, with a
fingerprint computed from the code (so it survives line shifts), as the real analyzers do.
``.reviewer.toml`` from the base branch is applied on the same pipeline.
"""

from __future__ import annotations

import pytest
from celery.exceptions import Ignore

from reviewer.adapters.storage import Database, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.payloads import AGENT_NAMES
from reviewer.render import parse_finding_marker
from reviewer.summary import SUMMARY_MARKER
from tasks.app import create_celery_app
from tasks.intake import Outcome
from tasks.services import Services
from tests.conftest import settings_from_env
from tests.support.pulls import REPO
from tests.support.review_pipeline import deliver, flagging_runner, module, run_review

pytestmark = pytest.mark.integration

NUMBER = 31


@pytest.fixture
def reviewer_env(service_env):
    seen: list[set[str]] = []
    settings = settings_from_env(service_env)
    services = Services(settings, agent_runner=flagging_runner(seen))
    app = create_celery_app(settings, services=services)
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    return services, app, db, seen


def _deliver(services, app, pr, action: str, delivery: str) -> int:
    return deliver(services, app, REPO, pr, action, delivery).review_id


def _inline_fingerprints(review: dict) -> list[str]:
    return [parse_finding_marker(c["body"]) for c in review["comments"]]


def _summary(fake_github) -> str:
    [summary] = [c for c in fake_github.issue_comments(REPO, NUMBER) if SUMMARY_MARKER in c["body"]]
    return summary["body"]


def test_a_push_posts_only_new_findings_and_lists_the_fixed_one_as_resolved(reviewer_env, fake_github):
    services, app, db, seen = reviewer_env
    first_a = module({10: "danger(1)", 40: "danger(2)"})
    first_b = module({5: "danger(3)"})
    pr = fake_github.add_pull_request_from_texts(
        REPO, NUMBER, {"app/a.py": ("", first_a), "app/b.py": ("", first_b)}
    )
    first = _deliver(services, app, pr, "opened", "d-1")
    run_review(app, first)
    [review1] = fake_github.reviews(REPO, NUMBER)
    posted_first = _inline_fingerprints(review1)
    assert len(posted_first) == 3

    # The push shifts a.py by four lines, fixes danger(2), adds danger(4); b.py is untouched.
    second_a = module({10: "danger(1)", 40: "value_40 = safe(2)", 50: "danger(4)"}, prefix="# a\n" * 4)
    pr = fake_github.push(REPO, NUMBER, {"app/a.py": second_a})
    seen.clear()
    second = _deliver(services, app, pr, "synchronize", "d-2")
    run_review(app, second)

    reviews = fake_github.reviews(REPO, NUMBER)
    assert len(reviews) == 2
    review2 = reviews[1]
    assert review2["commit_id"] == pr.head_sha
    # the agents saw only what the push changed
    assert seen and all(paths == {"app/a.py"} for paths in seen)
    # only danger(4) is new; danger(1) moved but keeps its fingerprint and is not repeated
    [new_comment] = review2["comments"]
    assert "danger(4)" in new_comment["body"] and new_comment["line"] == 54
    assert set(_inline_fingerprints(review2)).isdisjoint(posted_first)
    with db.session() as s:
        rules_then = {f.fingerprint: f for f in repo.load_findings(s, first)}
        assert repo.get_review(s, second).incremental["since_sha"] == review1["commit_id"]
    fixed = next(fp for fp, f in rules_then.items() if "danger(2)" in f.message)
    assert fixed not in _inline_fingerprints(review2)

    summary = _summary(fake_github)
    assert "### Resolved by this push" in summary
    resolved_section = summary.split("### Resolved by this push", 1)[1].split("###", 1)[0]
    assert "danger(2)" in resolved_section
    # b.py's finding and the moved danger(1) keep their state: not resolved
    assert "danger(3)" not in resolved_section and "danger(1)" not in resolved_section
    assert "already commented on in an earlier review" in summary
    assert f"only what changed since `{review1['commit_id'][:12]}`" in summary

    # a redelivered post for the second review posts nothing more
    app.tasks["reviewer.post_review"](None, review_id=second)
    assert len(fake_github.reviews(REPO, NUMBER)) == 2


def test_findings_listed_in_an_earlier_review_body_are_not_posted_inline_later(service_env, fake_github):
    """Over the inline cap, findings go to the review's body; a later push must not post them
    inline then (the developer has seen them once), only what is new."""
    seen: list[set[str]] = []
    settings = settings_from_env(dict(service_env, REVIEWER_INLINE_COMMENT_CAP="1"))
    services = Services(settings, agent_runner=flagging_runner(seen))
    app = create_celery_app(settings, services=services)
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    first_a = module({10: "danger(1)", 20: "danger(2)", 30: "danger(3)"})
    pr = fake_github.add_pull_request_from_texts(REPO, NUMBER, {"app/a.py": ("", first_a)})
    first = _deliver(services, app, pr, "opened", "d-20")
    run_review(app, first)
    [review1] = fake_github.reviews(REPO, NUMBER)
    assert len(review1["comments"]) == 1 and review1["body"].count("danger(") == 2  # 1 inline, 2 listed

    pr = fake_github.push(REPO, NUMBER, {"app/a.py": module({10: "danger(1)", 20: "danger(2)", 30: "danger(3)",
                                                              45: "danger(4)"})})
    second = _deliver(services, app, pr, "synchronize", "d-21")
    run_review(app, second)
    review2 = fake_github.reviews(REPO, NUMBER)[1]
    [comment] = review2["comments"]
    assert "danger(4)" in comment["body"]  # new: inline
    assert all(f"danger({n})" not in review2["body"] for n in (1, 2, 3))  # reported before: not again
    with db.session() as s:
        reported = repo.reported_fingerprints(s, REPO, NUMBER)
        earlier = {f.fingerprint for f in repo.load_findings(s, first)}
    assert earlier <= reported and len(reported) == 4
    assert "3 findings already commented on in an earlier review" in _summary(fake_github)


def test_pushes_while_a_review_runs_wait_and_the_last_one_replaces_the_waiting_one(reviewer_env, fake_github):
    services, app, db, _seen = reviewer_env
    pr = fake_github.add_pull_request_from_texts(
        REPO, NUMBER, {"app/a.py": ("", module({10: "danger(1)"}))}
    )
    older_head = pr.head_sha
    older = _deliver(services, app, pr, "opened", "d-10")
    app.tasks["reviewer.prepare"](older)  # the older run is under way ...
    pr = fake_github.push(REPO, NUMBER, {"app/a.py": module({10: "danger(1)", 20: "danger(5)"})})
    middle = deliver(services, app, REPO, pr, "synchronize", "d-11")  # ... when a push arrives
    assert middle.outcome == Outcome.WAITING
    pr = fake_github.push(REPO, NUMBER, {"app/a.py": module({10: "danger(1)", 20: "danger(6)"})})
    newest = deliver(services, app, REPO, pr, "synchronize", "d-12")  # and another one
    assert newest.outcome == Outcome.WAITING
    with db.session() as s:
        statuses = {r: repo.get_review(s, r).status for r in (older, middle.review_id, newest.review_id)}
        replaced = repo.get_review(s, middle.review_id)
    assert statuses == {
        older: ReviewStatus.RUNNING,  # not stopped at once: at its next checkpoint
        middle.review_id: ReviewStatus.CANCELLED,  # replaced while waiting, never sent
        newest.review_id: ReviewStatus.WAITING,
    }
    assert replaced.dispatch_attempts == 0 and "replaced by the review of" in replaced.error
    # a stray message for the waiting review does nothing: it runs only when handed over
    with pytest.raises(Ignore):
        app.tasks["reviewer.prepare"](newest.review_id)
    with db.session() as s:
        assert repo.get_review(s, newest.review_id).status == ReviewStatus.WAITING

    # the older run's agents finish; at the chord callback it stops and hands over
    results = [
        app.tasks["reviewer.run_agent"]({"review_id": older}, agent=name, review_id=older)
        for name in AGENT_NAMES
    ]
    merged = app.tasks["reviewer.generate_fixes"](results, review_id=older)
    with db.session() as s:
        assert repo.get_review(s, older).status == ReviewStatus.CANCELLED
        assert "superseded by the review of" in repo.get_review(s, older).error
        assert repo.get_review(s, newest.review_id).status == ReviewStatus.QUEUED
    app.tasks["reviewer.post_review"](merged, review_id=older)
    assert fake_github.reviews(REPO, NUMBER) == []
    [older_run] = fake_github.check_runs(REPO, older_head)
    assert older_run["conclusion"] == "cancelled"
    run_review(app, newest.review_id)
    [review] = fake_github.reviews(REPO, NUMBER)
    assert review["commit_id"] == pr.head_sha
    assert sorted(c["line"] for c in review["comments"]) == [10, 20]
    assert "danger(6)" in next(c["body"] for c in review["comments"] if c["line"] == 20)
    # nothing was posted for the older heads, and the newest review was a full one
    with db.session() as s:
        assert repo.get_review(s, newest.review_id).incremental is None
        assert repo.get_review(s, newest.review_id).status == ReviewStatus.POSTED


# -- .reviewer.toml from the base branch ------------------------------------------------------

CONFIG = """
[paths]
exclude = ["migrations/**"]

[rules]
disable = ["eval-call"]
"""


def _pr_with_config(fake_github, config: str):
    pr = fake_github.add_pull_request_from_texts(
        REPO, NUMBER,
        {
            "app/a.py": ("", module({3: "danger(1)", 7: "x = eval(y)"})),
            "migrations/0001_init.py": ("", module({2: "danger(9)"}, lines=10)),
        },
    )
    # on the base branch only the file counts; the head's copy is what a PR could change
    fake_github.set_content(REPO, pr.base_sha, ".reviewer.toml", config)
    fake_github.set_content(REPO, pr.head_sha, ".reviewer.toml", "[review]\nmin_severity = 'critical'\n")
    return pr


def test_repo_config_excludes_paths_and_disables_rules(reviewer_env, fake_github):
    services, app, _db, seen = reviewer_env
    pr = _pr_with_config(fake_github, CONFIG)
    run_review(app, _deliver(services, app, pr, "opened", "d-20"))

    [review] = fake_github.reviews(REPO, NUMBER)
    # the base branch's config applies (the head's min_severity=critical would hide everything)
    assert [(c["path"], c["line"]) for c in review["comments"]] == [("app/a.py", 3)]
    assert "eval-call" not in review["body"] and "danger(9)" not in review["body"]
    assert all("migrations/0001_init.py" not in paths for paths in seen)
    assert "migrations/0001_init.py" in review["body"] and "excluded by .reviewer.toml" in review["body"]


def test_a_broken_repo_config_gives_a_note_and_the_defaults(reviewer_env, fake_github):
    services, app, _db, _seen = reviewer_env
    pr = _pr_with_config(fake_github, '[rules]\ndisable = "eval-call"\n')  # not a list
    run_review(app, _deliver(services, app, pr, "opened", "d-21"))

    [review] = fake_github.reviews(REPO, NUMBER)
    assert sorted((c["path"], c["line"]) for c in review["comments"]) == [
        ("app/a.py", 3), ("app/a.py", 7), ("migrations/0001_init.py", 2),
    ]
    assert "`.reviewer.toml` — not applied, defaults used: rules.disable" in review["body"]
    assert "defaults used" in _summary(fake_github)

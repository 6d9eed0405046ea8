"""Measuring the learning loop (real Postgres): the dashboard's learning pages with their undo
(behind the dashboard's auth, CSRF token and same-origin check), the overview's acceptance
card, and the daily summary's acceptance tables and false-positive trend.

Feedback is seeded with the storage functions the signal handlers use; the expected numbers
are counted here by hand from the seed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from reviewer.adapters.storage import Database, LearningOverrideAction
from reviewer.adapters.storage import feedback as fb
from reviewer.adapters.storage import reports as store
from reviewer.adapters.storage import repositories as repo
from reviewer.feedback import FeedbackItem, Signal, Verdict
from reviewer.reports import render_markdown, slack_message
from tasks.reports import run_daily_report
from tasks.services import Services
from tests.integration.test_storage import finding, github_review

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
TEAMS = '[teams]\npayments = ["octo/app"]\n'

# (repo, pr, n, rule, agent, verdict, actor, days ago)
FEEDBACK = [
    ("octo/app", 1, 1, "sql-injection", "security", Verdict.REJECTED, "ann", 2),
    ("octo/app", 1, 2, "sql-injection", "security", Verdict.REJECTED, "bob", 1),
    ("octo/app", 1, 3, "sql-injection", "security", Verdict.DISMISSED, "cy", 1),
    ("octo/app", 1, 4, "magic-number", "quality", Verdict.REJECTED, "ann", 1),
    ("octo/app", 1, 5, "magic-number", "quality", Verdict.REJECTED, "bob", 1),
    ("octo/app", 1, 6, "yaml-load", "security", Verdict.ACCEPTED, "ann", 2),
    ("other/lib", 2, 7, "yaml-load", "security", Verdict.ACCEPTED, "dee", 1),
    ("other/lib", 2, 8, "long-function", "quality", Verdict.ACCEPTED, "dee", 1),
]


@pytest.fixture
def seeded(clean_database) -> Database:
    return seed_feedback(Database(clean_database))


def seed_feedback(db: Database) -> Database:
    """Two reviews, their posted findings and the verdicts of ``FEEDBACK`` on them."""
    with db.session() as s:
        reviews = {
            name: github_review(s, repo=name, pr_number=number, head_sha=f"{number:040x}")
            for name, number in (("octo/app", 1), ("other/lib", 2))
        }
        for name, number, n, rule, agent, verdict, actor, days_ago in FEEDBACK:
            review = reviews[name]
            repo.save_findings(s, review.id, [finding(n, rule=rule)])
            s.execute(
                repo.FindingRow.__table__.update()
                .where(repo.FindingRow.review_id == review.id, repo.FindingRow.fingerprint == f"fp-{n}")
                .values(agent=agent)
            )
            repo.record_posted(s, review_id=review.id, repo=name, pr_number=number, kind="inline", fingerprint=f"fp-{n}")
            row = fb.posted_finding(s, name, number, f"fp-{n}")
            item = FeedbackItem(
                repo=name, pr_number=number, fingerprint=f"fp-{n}", signal=Signal.REACTION, verdict=verdict,
                source_key=f"reaction:{n}", actor=actor, occurred_at=TODAY - timedelta(days=days_ago),
                reason="not reachable from user input" if n == 1 else None,
            )
            assert fb.record_feedback(s, item, row)
    return db


@pytest.fixture
def client(seeded, make_settings, clean_database, tmp_path):
    from web.app import create_app

    teams = tmp_path / "teams.toml"
    teams.write_text(TEAMS)
    settings = make_settings(team_map_file=teams)
    services = Services(settings, database_url=clean_database)
    return create_app(settings, services=services).test_client()


def _row(html: str, attr: str, value: str) -> str:
    match = re.search(rf'<tr {attr}="{re.escape(value)}"[^>]*>(.*?)</tr>', html, re.DOTALL)
    assert match, f"no row {attr}={value}"
    return match.group(1)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_the_learning_page_shows_acceptance_and_the_false_positive_trend(client):
    html = client.get("/dashboard/learning?days=7").get_data(as_text=True)
    # 3 accepted of 8 verdicts in the window
    assert re.search(r'data-metric="acceptance-rate">38%<', html)
    assert "<td><code>sql-injection</code></td><td class=\"num\">0</td><td class=\"num\">2</td><td class=\"num\">1</td>" in html
    yaml_row = re.search(r'data-scope="rule".*?<tr data-name="yaml-load" data-rate="1.0">', html, re.DOTALL)
    assert yaml_row
    assert re.search(r'data-scope="team".*?<tr data-name="payments" data-rate="0.1667">', html, re.DOTALL)
    assert re.search(r'data-scope="agent".*?<tr data-name="quality" data-rate="0.3333">', html, re.DOTALL)
    # false-positive rate per day: 2 days ago 1 of 2 (50 %), yesterday 4 of 6 (66.7 %)
    chart = html.split('id="chart-false-positives"', 1)[1].split("</figure>", 1)[0]
    points = re.findall(r'<circle class="point"[^>]*data-value="([^"]+)"', chart)
    assert points == ["50.0", "66.7"]
    repos = _row(html, "data-repo", "octo/app")
    assert re.findall(r'class="num">(\d+)<', repos) == ["1", "1", "0"]  # suppressed, lowered, kept
    assert "not reachable from user input" in html  # recent feedback with the reason


def test_the_overview_card_shows_the_acceptance_rate(client):
    html = client.get("/dashboard/?days=7").get_data(as_text=True)
    assert re.search(r'data-metric="acceptance-rate">38%<', html)


def test_a_repository_page_lists_what_was_learned_with_reasons_and_undo(client, seeded):
    response = client.get("/dashboard/learning/octo/app")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    since = (TODAY - timedelta(days=2)).date().isoformat()
    suppressed = _row(html, "data-rule", "sql-injection")
    assert 'data-action="suppressed"' in html
    assert f"rejected 2 and dismissed 1 of 3 times in octo/app since {since}" in suppressed
    assert "Undo: keep reporting" in suppressed
    assert "confidence × 0.5" in _row(html, "data-rule", "magic-number")
    assert "Undo" not in _row(html, "data-rule", "yaml-load")
    assert "reviewer_csrf=" in response.headers["Set-Cookie"] and "SameSite=Strict" in response.headers["Set-Cookie"]
    assert client.get("/dashboard/learning/nobody/here").status_code == 404


def test_undo_needs_the_csrf_token_and_the_same_origin_then_writes_a_keep_override(client, seeded):
    token = _csrf(client.get("/dashboard/learning/octo/app").get_data(as_text=True))
    form = {"repo": "octo/app", "rule": "sql-injection", "action": "keep", "by": "lead", "csrf": token}
    same_origin = {"Origin": "http://localhost"}

    assert client.post("/dashboard/learning/override", data={**form, "csrf": "wrong" * 8},
                       headers=same_origin).status_code == 403
    assert client.post("/dashboard/learning/override", data=form,
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/dashboard/learning/override", data=form).status_code == 403  # no Origin/Referer
    assert client.post("/dashboard/learning/override", data={**form, "action": "drop"},
                       headers=same_origin).status_code == 400
    with seeded.session() as s:
        assert fb.overrides(s, "octo/app") == {}

    response = client.post("/dashboard/learning/override", data=form, headers=same_origin)
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard/learning/octo/app")
    with seeded.session() as s:
        [override] = fb.overrides(s, "octo/app").values()
        assert (override.rule, override.action, override.created_by) == ("sql-injection", LearningOverrideAction.KEEP, "lead")
    html = client.get("/dashboard/learning/octo/app").get_data(as_text=True)
    row = _row(html, "data-rule", "sql-injection")
    assert "kept by lead on the dashboard" in row and "Forget this decision" in row

    # Forgetting hands the rule back to the counts: suppressed again.
    forget = {**form, "action": "clear", "csrf": _csrf(html)}
    assert client.post("/dashboard/learning/override", data=forget,
                       headers={"Referer": "http://localhost/dashboard/learning/octo/app"}).status_code == 303
    assert 'data-rule="sql-injection" data-action="suppressed"' in client.get("/dashboard/learning/octo/app").get_data(as_text=True)


def test_the_undo_is_behind_the_dashboard_auth(seeded, make_settings, clean_database):
    from web.app import create_app

    settings = make_settings(dashboard_token="s3cret")
    app = create_app(settings, services=Services(settings, database_url=clean_database))
    client = app.test_client()
    form = {"repo": "octo/app", "rule": "sql-injection", "action": "keep", "csrf": "x" * 40}
    client.set_cookie("reviewer_csrf", "x" * 40, path="/dashboard")
    assert client.post("/dashboard/learning/override", data=form, headers={"Origin": "http://localhost"}).status_code == 401
    assert client.get("/dashboard/learning").status_code == 401
    with seeded.session() as s:
        assert fb.overrides(s, "octo/app") == {}


def test_the_daily_summary_carries_acceptance_and_the_trend(seeded, make_settings, clean_database, tmp_path):
    teams = tmp_path / "teams.toml"
    teams.write_text(TEAMS)
    settings = make_settings(team_map_file=teams)
    services = Services(settings, database_url=clean_database)
    day = (TODAY - timedelta(days=1)).date()
    report = run_daily_report(services, day, deliver=False).report
    feedback = report.feedback
    assert (feedback.overall.accepted, feedback.overall.total) == (3, 8)
    assert {a.name: a.rate for a in feedback.agents} == {"security": 0.4, "quality": 0.3333}
    assert {a.name: (a.accepted, a.total) for a in feedback.teams} == {"payments": (1, 6), "(no team)": (2, 2)}
    assert {a.name: a.total for a in feedback.repos} == {"octo/app": 6, "other/lib": 2}
    assert [(d.day, d.verdicts, d.false_positives) for d in feedback.trend if d.verdicts] == [
        (day - timedelta(days=1), 2, 1), (day, 6, 4),
    ]
    with services.db.session() as s:
        stored = store.get_daily_report(s, day).report
    assert stored.feedback == feedback
    markdown = render_markdown(report)
    assert "### Developer feedback" in markdown and "Acceptance rate 38%" in markdown
    assert "| rule | `sql-injection` | 0 | 2 | 1 | 0% |" in markdown
    assert "| team | `payments` | 1 | 4 | 1 | 17% |" in markdown
    assert f"{day.strftime('%m-%d')} 67%" in markdown
    slack = slack_message(report)
    assert slack["text"].endswith("38% of findings accepted")
    assert any("by agent: security 40%, quality 33%" in b["text"]["text"] for b in slack["blocks"] if "text" in b)

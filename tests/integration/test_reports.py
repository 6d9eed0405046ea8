"""The daily summary against real Postgres: top issues and trends, storage, delivery, the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from reviewer.adapters.storage import Database, ReviewStatus
from reviewer.adapters.storage import reports as store
from reviewer.reports import UNASSIGNED_TEAM, TeamMap
from tasks.reports import report_day, run_daily_report
from tasks.services import Services
from tests.fakes.slack import FakeSlack
from tests.support.keys import rsa_key_pair
from tests.support.processes import ROOT
from tests.support.seed_reviews import SeededReview, seed

pytestmark = pytest.mark.integration

DAY = date(2025, 3, 10)
TEAMS_TOML = """
[teams]
payments = ["acme/billing", "acme/pay-*"]
web = ["acme/storefront"]
"""


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


SQLI = ("security", "sql-injection", "high")
XSS = ("security", "xss", "high")
N1 = ("performance", "n-plus-one", "medium")
LONG = ("quality", "long-function", "low")
MISC = [("quality", f"misc-rule-{k:02d}", "info") for k in range(1, 12)]
AGENTS = {"security": ("ok", 0, 4, 1200, 0.012), "quality": ("ok", 0, 2, 300, 0.001)}


def scenario() -> list[SeededReview]:
    prev = DAY - timedelta(days=1)
    return [
        # the day
        SeededReview("acme/billing", 1, at(DAY, 9), [SQLI, SQLI, SQLI, N1], agents=AGENTS),
        SeededReview("acme/pay-api", 2, at(DAY, 10), [SQLI, LONG, LONG], agents=AGENTS),
        SeededReview("acme/storefront", 3, at(DAY, 23), [XSS, XSS, LONG]),
        SeededReview("acme/misc", 4, at(DAY, 0), [], status=ReviewStatus.FAILED, error="boom"),
        SeededReview("acme/misc", 6, at(DAY, 12), MISC),
        # the day before
        SeededReview("acme/billing", 10, at(prev, 9), [SQLI, N1, N1, N1]),
        SeededReview("acme/storefront", 11, at(prev, 22), [XSS, XSS]),
        # the day after: counted nowhere
        SeededReview("acme/billing", 20, at(DAY + timedelta(days=1), 0), [SQLI] * 5),
    ]


@pytest.fixture
def seeded(clean_database):
    db = Database(clean_database)
    reviews = seed(db, scenario())
    yield reviews
    db.dispose()


@pytest.fixture
def team_file(tmp_path):
    path = tmp_path / "teams.toml"
    path.write_text(TEAMS_TOML)
    return path


def expected_top(reviews: list[SeededReview], day: date, scope=lambda r: True, limit: int = 10):
    """The top issues recomputed from the seed itself: key -> (count, prs, previous)."""
    def on(d):
        return [r for r in reviews if r.created_at.date() == d and scope(r)]

    counts, prs = Counter(), defaultdict(set)
    for r in on(day):
        for category, rule, _ in r.findings:
            counts[f"{category}/{rule}"] += 1
            prs[f"{category}/{rule}"].add((r.repo, r.pr_number))
    previous = Counter(f"{c}/{rule}" for r in on(day - timedelta(days=1)) for c, rule, _ in r.findings)
    ranked = sorted(counts, key=lambda k: (-counts[k], -len(prs[k]), k))[:limit]
    return [(k, counts[k], len(prs[k]), previous[k]) for k in ranked]


def as_rows(scope_report):
    return [(i.key, i.count, i.prs, i.previous) for i in scope_report.top]


def test_top_issues_and_trends_match_the_seeded_reviews(seeded, make_settings, clean_database, team_file):
    services = Services(make_settings(team_map_file=team_file), database_url=clean_database)
    report = run_daily_report(services, DAY, deliver=False).report
    teams = TeamMap.from_toml(TEAMS_TOML)

    assert as_rows(report.overall) == expected_top(seeded, DAY)
    assert len(report.overall.top) == 10  # 15 distinct issues that day, capped at ten
    first = report.overall.top[0]
    assert (first.key, first.count, first.prs, first.previous, first.delta, first.trend) == (
        "security/sql-injection", 4, 2, 1, 3, "up",
    )
    by_key = {i.key: i for i in report.overall.top}
    assert by_key["performance/n-plus-one"].trend == "down" and by_key["performance/n-plus-one"].delta == -2
    assert by_key["security/xss"].trend == "flat"
    assert by_key["quality/long-function"].trend == "new"

    for scope in report.repos:
        assert as_rows(scope) == expected_top(seeded, DAY, lambda r, n=scope.name: r.repo == n), scope.name
    for scope in report.teams:
        assert as_rows(scope) == expected_top(seeded, DAY, lambda r, n=scope.name: teams.team_of(r.repo) == n), scope.name
    assert {t.name for t in report.teams} == {"payments", "web", UNASSIGNED_TEAM}
    payments = next(t for t in report.teams if t.name == "payments")
    assert (payments.reviews, payments.findings, payments.previous_findings) == (2, 7, 4)

    assert report.reviews == 5 and report.failed_reviews == 1 and report.prs == 5
    assert report.overall.findings == sum(len(r.findings) for r in seeded if r.created_at.date() == DAY)
    assert report.cost_usd == pytest.approx(2 * (0.012 + 0.001))


def test_report_is_stored_once_per_day_and_slack_gets_it_once(seeded, make_settings, clean_database):
    with FakeSlack() as slack:
        services = Services(make_settings(slack_webhook_url=slack.url), database_url=clean_database)
        slack.fail_next(500)
        first = run_daily_report(services, DAY)
        assert first.failed == ["slack"] and slack.messages == []

        second = run_daily_report(services, DAY)
        assert second.delivery == {"slack": "sent"}
        assert len(slack.messages) == 1
        message = slack.messages[0]
        assert message["text"].startswith(f"Reviewer daily summary for {DAY.isoformat()}: 5 review(s), 21 finding(s)")
        blocks = json.dumps(message["blocks"], ensure_ascii=False)
        assert "`security/sql-injection` — 4 in 2 PR(s), ▲ +3 (was 1)" in blocks
        assert f"/dashboard/reports/{DAY.isoformat()}" in blocks

        third = run_daily_report(services, DAY)  # a redelivered beat message
        assert third.delivery == {"slack": "already sent"}
        assert len(slack.messages) == 1
    with services.db.session() as s:
        assert [r.day for r in store.list_daily_reports(s)] == [DAY]
        stored = store.get_daily_report(s, DAY)
    assert stored.delivery["slack"]["status"] == "sent"
    assert stored.report.overall.top[0].rule == "sql-injection"


def test_a_failing_github_issue_does_not_stop_the_report(seeded, make_settings, clean_database, fake_github):
    with FakeSlack() as slack:
        settings = make_settings(
            slack_webhook_url=slack.url, report_github_repo="acme/reports",
            github_api_url=fake_github.url, github_token="test-token",
        )
        outcome = run_daily_report(Services(settings, database_url=clean_database), DAY)
    assert outcome.delivery["slack"] == "sent"
    assert outcome.delivery["github"].startswith("github: HTTP 4")
    assert outcome.failed == ["github"]


def test_the_api_serves_the_stored_report_behind_the_dashboard_auth(seeded, make_settings, clean_database):
    from web.app import create_app

    settings = make_settings(dashboard_token="s3cret")
    services = Services(settings, database_url=clean_database)
    run_daily_report(services, DAY, deliver=False)
    client = create_app(settings, services=services).test_client()

    assert client.get(f"/api/reports/daily/{DAY.isoformat()}").status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    response = client.get(f"/api/reports/daily/{DAY.isoformat()}", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["day"] == DAY.isoformat()
    assert [(i["category"], i["rule"], i["count"]) for i in body["overall"]["top"][:2]] == [
        ("security", "sql-injection", 4), ("quality", "long-function", 3),
    ]
    with services.db.session() as s:
        assert body["overall"] == store.get_daily_report(s, DAY).report.overall.model_dump(mode="json")
    assert client.get("/api/reports/daily/2025-03-11", headers=auth).status_code == 404
    assert client.get("/api/reports/daily/not-a-date", headers=auth).status_code == 400


def test_the_cli_builds_the_report_for_a_given_day(seeded, clean_database, tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "OPENAI_"))}
        env.update(REVIEWER_DATABASE_URL=clean_database, REVIEWER_STATE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
        return subprocess.run(
            [sys.executable, "-m", "web.cli", "report", "daily", *args], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )

    done = cli("--date", DAY.isoformat(), "--format", "json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["overall"]["top"][0]["rule"] == "sql-injection" and body["delivery"] == {}
    markdown = cli("--date", DAY.isoformat(), "--no-deliver")
    assert "| 1 | `security/sql-injection` | high | 4 | 2 | ▲ +3 (was 1) |" in markdown.stdout
    bad = cli("--date", "10/03/2025")
    assert bad.returncode == 2 and "--date" in bad.stderr


def test_yesterday_is_the_utc_day_before():
    assert report_day(datetime(2025, 3, 11, 6, 0, tzinfo=UTC)) == DAY
    from zoneinfo import ZoneInfo

    assert report_day(datetime(2025, 3, 11, 1, 0, tzinfo=ZoneInfo("America/New_York"))) == DAY


def test_beat_runs_the_daily_report_at_six_utc(make_settings):
    from tasks.app import create_celery_app

    app = create_celery_app(make_settings())
    entry = app.conf.beat_schedule["daily-report"]
    assert entry["task"] == "reviewer.daily_report" and "reviewer.daily_report" in app.tasks
    assert entry["schedule"].hour == {6} and entry["schedule"].minute == {0}


def test_a_real_worker_runs_the_beat_task_and_slack_gets_the_summary(service_env, start_worker):
    from tasks.app import create_celery_app
    from tests.conftest import settings_from_env

    seed(Database(service_env["REVIEWER_DATABASE_URL"]), scenario())
    with FakeSlack() as slack:
        start_worker(REVIEWER_SLACK_WEBHOOK_URL=slack.url)
        app = create_celery_app(settings_from_env(service_env))
        result = app.send_task("reviewer.daily_report", kwargs={"day": DAY.isoformat()}).get(timeout=60)
        assert result == {"day": DAY.isoformat(), "findings": 21, "delivery": {"slack": "sent"}}
        assert len(slack.messages) == 1 and "security/sql-injection" in json.dumps(slack.messages[0])


def test_the_summary_is_opened_as_a_github_issue_once(seeded, make_settings, clean_database, fake_github):
    fake_github.add_repo("acme/reports")
    settings = make_settings(
        report_github_repo="acme/reports", github_api_url=fake_github.url, github_token="test-token",
    )
    services = Services(settings, database_url=clean_database)
    first = run_daily_report(services, DAY)
    again = run_daily_report(services, DAY)  # a redelivered beat message
    assert first.delivery == {"github": "sent"} and first.failed == []
    assert again.delivery == {"github": "already sent"}
    [issue] = fake_github.issues["acme/reports"]
    assert DAY.isoformat() in issue["title"]
    assert "sql-injection" in issue["body"]
    [request] = fake_github.requests_to(r"/repos/acme/reports/issues$", method="POST")
    assert request.headers["x-github-api-version"] == settings.github_api_version


def test_with_app_auth_the_issue_is_opened_as_the_apps_installation_on_that_repo(
    seeded, make_settings, clean_database, fake_github, clean_redis, tmp_path
):
    """No webhook names an installation for the report: the App's installation on the report
    repository is looked up with the App's JWT, then the issue is opened with its token."""
    private, public = rsa_key_pair()
    fake_github.static_tokens = set()
    fake_github.app_id, fake_github.app_public_key = 4242, public
    fake_github.add_repo("acme/reports")
    fake_github.repos["acme/reports"].installation_id = 77
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    settings = make_settings(
        report_github_repo="acme/reports", github_api_url=fake_github.url, github_app_id=4242,
        github_app_private_key_file=key_file, redis_url=clean_redis,
    )
    outcome = run_daily_report(Services(settings, database_url=clean_database), DAY)
    assert outcome.delivery == {"github": "sent"}
    [issue] = fake_github.issues["acme/reports"]
    assert DAY.isoformat() in issue["title"]
    assert fake_github.requests_to(r"/repos/acme/reports/installation$", "GET")
    assert fake_github.requests_to(r"/app/installations/77/access_tokens$", "POST")

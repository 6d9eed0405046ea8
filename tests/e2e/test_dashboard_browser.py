"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) over real HTTP.

Pages load, charts render with one bar or point per day or agent, the numbers on the page
are the database's (counted here with plain SQL, not with the dashboard's own queries), and
access is enforced.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from reviewer.adapters.storage import Database, ReviewStatus
from tasks.reports import run_daily_report
from tasks.services import Services
from tests.support.seed_reviews import SeededReview, seed
from tests.support.web import WebServer

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TOKEN = "dashboard-token-for-tests"
TEAMS_TOML = '[teams]\npayments = ["acme/billing", "acme/pay-*"]\nweb = ["acme/storefront"]\n'


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), "Debian's chromium is missing: ops/test.sh installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _at(days_ago: int, hour: int) -> datetime:
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


AGENTS = {
    "security": ("ok", 0.0, 6.0, 1500, 0.02),
    "performance": ("ok", 0.5, 3.0, 400, 0.002),
    "quality": ("failed", 0.2, 1.5, 0, 0.0),
    "architecture": ("timeout", 0.1, 9.0, 200, 0.001),
}


@pytest.fixture
def seeded(clean_database):
    db = Database(clean_database)
    reviews = seed(db, [
        SeededReview("acme/billing", 1, _at(1, 9), [("security", "sql-injection", "high")] * 3, duration_s=40, agents=AGENTS),
        SeededReview("acme/billing", 2, _at(1, 11), [("performance", "n-plus-one", "medium")], duration_s=90, agents=AGENTS),
        SeededReview("acme/pay-api", 3, _at(2, 8), [("quality", "long-function", "low")] * 2, duration_s=30),
        SeededReview("acme/storefront", 4, _at(4, 15), [("security", "xss", "high"), ("architecture", "layering", "medium")], duration_s=200),
        SeededReview("acme/storefront", 5, _at(4, 16), [], status=ReviewStatus.FAILED, error="agent chord failed"),
        SeededReview("acme/old", 6, _at(40, 10), [("security", "sql-injection", "high")]),  # outside 14 days
    ])
    yield db, reviews
    db.dispose()


@pytest.fixture
def serve(clean_database, make_settings, tmp_path):
    """Start the web app with settings overrides; yields a function returning its URL."""
    teams = tmp_path / "teams.toml"
    teams.write_text(TEAMS_TOML)
    servers = []

    def start(**overrides) -> tuple[str, Services]:
        settings = make_settings(team_map_file=teams, **overrides)
        services = Services(settings, database_url=clean_database)
        from web.app import create_app

        server = WebServer(create_app(settings, services=services)).__enter__()
        servers.append(server)
        return server.url, services

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def sql(db, query: str, **params):
    with db.session() as s:
        return s.execute(text(query), params).all()


def metric(page, name: str) -> str:
    return page.locator(f'[data-metric="{name}"]').first.inner_text().strip()


def test_overview_charts_and_numbers_match_the_database(browser, seeded, serve):
    db, _ = seeded
    url, _ = serve(dashboard_token=TOKEN)
    page = browser.new_page()
    response = page.goto(f"{url}/dashboard/?token={TOKEN}")
    assert response.status == 200 and page.url == f"{url}/dashboard/"  # token traded for a cookie

    since = (datetime.now(UTC).date() - timedelta(days=13)).isoformat()
    window = "source = 'github' AND created_at >= CAST(:since AS date)"
    (reviews,), = sql(db, f"SELECT count(*) FROM reviews WHERE {window}", since=since)
    (findings,), = sql(db, "SELECT count(*) FROM findings f JOIN reviews r ON r.id = f.review_id "
                       "WHERE r.source = 'github' AND r.created_at >= CAST(:since AS date)", since=since)
    (cost,), = sql(db, "SELECT coalesce(sum(a.cost_usd), 0) FROM agent_runs a JOIN reviews r ON r.id = a.review_id "
                   "WHERE r.created_at >= CAST(:since AS date)", since=since)
    assert metric(page, "reviews") == str(reviews) == "5"
    assert metric(page, "findings") == str(findings) == "8"
    assert metric(page, "cost") == f"${float(cost):.4f}"
    assert metric(page, "acceptance-rate") == "n/a"
    assert "n/a until feedback exists" in page.content()

    # One bar per day of the window; each bar's value is that day's count of reviews.
    bars = page.locator("#chart-reviews svg rect.bar")
    assert bars.count() == 14
    per_day = dict(sql(db, "SELECT to_char(timezone('UTC', created_at), 'MM-DD'), count(*) FROM reviews "
                       "WHERE source = 'github' AND created_at >= CAST(:since AS date) GROUP BY 1", since=since))
    drawn = {bars.nth(i).get_attribute("data-label"): int(bars.nth(i).get_attribute("data-value")) for i in range(14)}
    assert {k: v for k, v in drawn.items() if v} == per_day
    assert bars.first.bounding_box()["width"] > 5  # laid out, not just present in the markup

    # Findings: one segment per (day, category) that had findings.
    pairs = sql(db, "SELECT date(timezone('UTC', r.created_at)), f.category, count(*) FROM findings f "
                "JOIN reviews r ON r.id = f.review_id WHERE r.created_at >= CAST(:since AS date) GROUP BY 1, 2", since=since)
    assert page.locator("#chart-findings svg rect.segment").count() == len(pairs) == 5
    # Duration: a p50 and a p95 point for each day with finished reviews.
    days_with_reviews = len(per_day)
    assert page.locator('#chart-duration svg circle.point[data-series="p50"]').count() == days_with_reviews
    assert page.locator('#chart-duration svg circle.point[data-series="p95"]').count() == days_with_reviews
    assert page.locator("#chart-cost svg rect.bar").count() == 14

    # Teams and repositories link to their pages.
    page.click("text=payments")
    assert page.url.endswith("/dashboard/teams/payments")
    (team_reviews,), = sql(db, "SELECT count(*) FROM reviews WHERE repo IN ('acme/billing', 'acme/pay-api') "
                           "AND created_at >= CAST(:since AS date)", since=since)
    assert metric(page, "reviews") == str(team_reviews) == "3"
    page.click("text=acme/billing")
    assert page.url.endswith("/dashboard/repos/acme/billing")
    assert metric(page, "reviews") == "2"
    assert page.locator("#chart-reviews svg rect.bar").count() == 14
    page.close()


def test_review_page_shows_the_agent_timeline(browser, seeded, serve):
    db, reviews = seeded
    url, _ = serve(dashboard_token=TOKEN)
    page = browser.new_page(extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
    review_id = reviews[0].id
    assert page.goto(f"{url}/dashboard/reviews/{review_id}").status == 200
    spans = page.locator("#chart-timeline svg rect.span")
    runs = sql(db, "SELECT agent, status, tokens FROM agent_runs WHERE review_id = :id ORDER BY started_at", id=review_id)
    assert spans.count() == len(runs) == 4
    assert [spans.nth(i).get_attribute("data-agent") for i in range(4)] == [r[0] for r in runs]
    security = page.locator('rect.span[data-agent="security"]')
    assert float(security.get_attribute("data-end")) - float(security.get_attribute("data-start")) == pytest.approx(6.0)
    assert metric(page, "tokens") == str(sum(r[2] for r in runs))
    assert metric(page, "findings") == "3"
    assert "architecture timeout" in page.locator('tr[data-agent="architecture"]').inner_text()
    page.close()


def test_daily_report_pages(browser, seeded, serve):
    url, services = serve(dashboard_token=TOKEN)
    day = datetime.now(UTC).date() - timedelta(days=1)
    report = run_daily_report(services, day, deliver=False).report
    page = browser.new_page(extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
    page.goto(f"{url}/dashboard/reports")
    page.click(f"text={day.isoformat()}")
    assert page.url.endswith(f"/dashboard/reports/{day.isoformat()}")
    bars = page.locator("#chart-top-issues svg rect.bar")
    assert bars.count() == len(report.overall.top) == 2
    first = page.locator('table.issues[data-scope="overall"] tbody tr').first
    assert first.get_attribute("data-issue") == "security/sql-injection"
    assert first.get_attribute("data-count") == "3" == bars.first.get_attribute("data-value")
    assert metric(page, "reviews") == "2"
    page.close()


def test_access_is_enforced(browser, seeded, serve):
    url, _ = serve(dashboard_token=TOKEN)
    page = browser.new_page()
    denied = page.goto(f"{url}/dashboard/")
    assert denied.status == 401 and "Authentication required" in page.content()
    assert page.goto(f"{url}/dashboard/?token=wrong").status == 401
    assert page.goto(f"{url}/api/reports/daily/2025-01-01").status == 401
    assert page.goto(f"{url}/dashboard/?token={TOKEN}").status == 200
    assert page.goto(f"{url}/api/reports/daily/2025-01-01").status == 404  # the cookie lets it in
    page.close()


def test_basic_auth(browser, seeded, serve):
    url, _ = serve(dashboard_basic_auth="ops:pa55")
    context = browser.new_context(http_credentials={"username": "ops", "password": "pa55"})
    page = context.new_page()
    assert page.goto(f"{url}/dashboard/").status == 200
    assert page.locator("#chart-reviews svg rect.bar").count() == 14
    context.close()
    # A browser would prompt for a password here; ask without navigating instead.
    stranger = browser.new_context()
    answer = stranger.request.get(f"{url}/dashboard/")
    assert answer.status == 401 and answer.headers["www-authenticate"].startswith("Basic")
    wrong = stranger.request.get(f"{url}/dashboard/", headers={"Authorization": "Basic b3BzOm5vcGU="})
    assert wrong.status == 401
    stranger.close()


def test_without_configured_auth_only_direct_loopback_requests_get_in(browser, seeded, serve):
    url, _ = serve()
    page = browser.new_page()
    assert page.goto(f"{url}/dashboard/").status == 200
    page.close()
    proxied = browser.new_page(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.goto(f"{url}/dashboard/").status == 401
    assert "REVIEWER_DASHBOARD_TOKEN" in proxied.content()
    proxied.close()


def test_learning_page_undo_in_the_browser(browser, clean_database, serve):
    """The learning page of a repository shows a suppressed rule with its reason; its Undo
    form (CSRF token, same-origin POST, as Chromium sends it) writes a keep override that the
    page then shows."""
    from tests.integration.test_learning_dashboard import seed_feedback

    db = seed_feedback(Database(clean_database))
    url, _ = serve(dashboard_token=TOKEN)
    page = browser.new_page()
    assert page.goto(f"{url}/dashboard/?token={TOKEN}").status == 200  # the cookie for the rest
    page.goto(f"{url}/dashboard/learning")
    page.click("text=octo/app")
    assert page.url.endswith("/dashboard/learning/octo/app")
    row = page.locator('table.decisions tr[data-rule="sql-injection"]')
    assert row.get_attribute("data-action") == "suppressed"
    assert "rejected 2 and dismissed 1 of 3 times in octo/app" in row.inner_text()

    row.locator('input[name="by"]').fill("lead")
    row.locator("text=Undo: keep reporting").click()
    page.wait_for_load_state()
    row = page.locator('table.decisions tr[data-rule="sql-injection"]')
    assert row.get_attribute("data-action") == "kept"
    assert sql(db, "SELECT rule, action, created_by FROM learning_overrides") == [("sql-injection", "keep", "lead")]
    page.close()
    db.dispose()

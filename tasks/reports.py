"""The daily summary (beat, 06:00 UTC): build yesterday's report, store it, deliver it.

Thin like every task: rows come from storage, the report from ``reviewer.reports``. Delivery
(a Slack-compatible incoming webhook, a GitHub issue) is recorded per channel on the stored
report, so a re-run — a redelivered beat message, a retry, ``reviewer report daily`` by hand —
rebuilds the numbers but never posts the same day twice to a channel it already reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from celery import shared_task

from reviewer.acceptance import ACCEPTANCE_DAYS, TREND_DAYS, acceptance_report
from reviewer.adapters.github import GitHubError
from reviewer.adapters.storage import reports as store
from reviewer.reports import (
    DailyReport,
    TeamMap,
    build_daily_report,
    render_markdown,
    slack_message,
)
from tasks.base import ReviewerTask
from tasks.publishing import connection

if TYPE_CHECKING:
    from config.settings import Settings
    from tasks.services import Services

log = structlog.get_logger("reviewer.reports")

DELIVERY_TIMEOUT_S = 10.0
RETRY_COUNTDOWN_S = 300


class DeliveryError(Exception):
    """A channel did not accept the report; the message never includes the secret URL."""


@dataclass
class ReportOutcome:
    report: DailyReport
    # channel -> what happened this run: "sent", "already sent", or an error message.
    delivery: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [c for c, result in self.delivery.items() if result not in ("sent", "already sent")]


def report_day(now: datetime | None = None) -> date:
    """The day a run at ``now`` reports on: yesterday, in UTC."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).date() - timedelta(days=1)


def load_team_map(path: Path | None) -> TeamMap:
    """The configured repo → team mapping (empty when none is configured)."""
    if path is None:
        return TeamMap()
    return TeamMap.from_toml(Path(path).read_text(encoding="utf-8"))


def build_report(services: Services, day: date) -> DailyReport:
    """The report of ``day`` from the stored reviews, compared with the day before."""
    period = store.day_bounds(day)
    previous = store.day_bounds(day - timedelta(days=1))
    team_map = load_team_map(services.settings.team_map_file)
    feedback_start, _ = store.day_bounds(day - timedelta(days=max(ACCEPTANCE_DAYS, TREND_DAYS) - 1))
    with services.db.session() as s:
        findings = store.finding_facts(s, *period)
        previous_findings = store.finding_facts(s, *previous)
        reviews = store.review_facts(s, *period)
        verdicts = store.verdict_facts(s, feedback_start, period[1], team_of=team_map.team_of)
    return build_daily_report(
        day=day,
        period=period,
        previous_period=previous,
        findings=findings,
        previous_findings=previous_findings,
        reviews=reviews,
        team_map=team_map,
        feedback=acceptance_report(verdicts, last_day=day),
    )


def run_daily_report(
    services: Services, day: date, *, deliver: bool = True, http: httpx.Client | None = None
) -> ReportOutcome:
    """Build, store and (optionally) deliver the report of ``day``."""
    report = build_report(services, day)
    with services.db.session() as s:
        store.save_daily_report(s, report)
        already = store.get_daily_report(s, day).delivery
    outcome = ReportOutcome(report)
    log.info("report.stored", day=day.isoformat(), reviews=report.reviews, findings=report.overall.findings)
    if not deliver:
        return outcome
    settings = services.settings
    dashboard_url = f"{settings.public_url.rstrip('/')}/dashboard/reports/{day.isoformat()}"
    channels = []
    if settings.slack_webhook_url is not None:
        channels.append(("slack", lambda client: send_to_slack(client, settings, report, dashboard_url)))
    if settings.report_github_repo:
        channels.append(("github", lambda _client: open_github_issue(services, report, dashboard_url)))
    own_client = http is None
    client = http or httpx.Client(timeout=DELIVERY_TIMEOUT_S)
    try:
        for channel, send in channels:
            if already.get(channel, {}).get("status") == "sent":
                outcome.delivery[channel] = "already sent"
                continue
            try:
                info = send(client)
            except DeliveryError as exc:
                outcome.delivery[channel] = str(exc)
                log.warning("report.delivery_failed", day=day.isoformat(), channel=channel, error=str(exc))
                continue
            with services.db.session() as s:
                store.record_report_delivery(
                    s, day, channel, {"status": "sent", "at": datetime.now(UTC).isoformat(), **info}
                )
            outcome.delivery[channel] = "sent"
            log.info("report.delivered", day=day.isoformat(), channel=channel)
    finally:
        if own_client:
            client.close()
    return outcome


def send_to_slack(client: httpx.Client, settings: Settings, report: DailyReport, dashboard_url: str) -> dict[str, Any]:
    """POST the summary to the incoming webhook; Slack answers 200 ``ok`` on success."""
    url = settings.slack_webhook_url.get_secret_value()
    try:
        response = client.post(url, json=slack_message(report, dashboard_url=dashboard_url))
    except httpx.HTTPError as exc:
        # The URL is the secret: name the error's type, never the request.
        raise DeliveryError(f"slack: {type(exc).__name__}") from None
    if response.status_code // 100 != 2:
        raise DeliveryError(f"slack: HTTP {response.status_code} {response.text[:100]!r}")
    return {}


def open_github_issue(services, report: DailyReport, dashboard_url: str) -> dict[str, Any]:
    """Open the summary as an issue in ``report_github_repo``, as the token's owner or as the
    App's installation on that repository (looked up: no webhook names it)."""
    repo_name = services.settings.report_github_repo
    try:
        host = services.code_host_for_repository(repo_name)
        with connection(host):
            number, url = host.create_issue(
                repo_name,
                f"Reviewer daily summary {report.day.isoformat()}",
                render_markdown(report, dashboard_url=dashboard_url),
            )
    except GitHubError as exc:
        status = getattr(exc, "status", None)
        raise DeliveryError(f"github: HTTP {status} {str(exc)[:200]!r}" if status else f"github: {exc}"[:300]) from None
    except ValueError as exc:  # no credentials configured
        raise DeliveryError(f"github: {exc}") from None
    return {"number": number, "url": url}


@shared_task(bind=True, base=ReviewerTask, name="reviewer.daily_report", max_retries=3)
def daily_report(self: ReviewerTask, day: str | None = None) -> dict:
    """The beat entry: yesterday's report (or ``day``, ISO date); retried when delivery failed."""
    target = date.fromisoformat(day) if day else report_day()
    outcome = run_daily_report(self.services, target)
    if outcome.failed and self.request.retries < self.max_retries:
        # Delivered channels are recorded: the retry only re-sends the ones that failed.
        raise self.retry(countdown=RETRY_COUNTDOWN_S, kwargs={"day": target.isoformat()})
    return {"day": target.isoformat(), "findings": outcome.report.overall.findings, "delivery": outcome.delivery}

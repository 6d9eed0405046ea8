"""Queries behind the daily report and the dashboard. Each takes the caller's Session.

Only pull-request reviews count (``source = 'github'``): local CLI runs are not PRs and would
show up as repositories named after file paths. Days are UTC days of ``reviews.created_at``
(when the webhook arrived); a review's duration is from then until it was posted (or
finished, when nothing was posted): what the PR author waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, distinct, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from reviewer.acceptance import VerdictFact, tally
from reviewer.adapters.storage.learning import votes
from reviewer.adapters.storage.models import (
    AgentRun,
    FindingRow,
    Review,
    ReviewSource,
    ReviewStatus,
)
from reviewer.adapters.storage.report_models import DailyReportRow
from reviewer.findings import Category
from reviewer.reports import UNASSIGNED_TEAM, DailyReport, FindingFact, ReviewFact

_PR_REVIEW = Review.source == ReviewSource.GITHUB
_DAY = func.date(func.timezone("UTC", Review.created_at))
_DURATION_S = func.extract(
    "epoch", func.coalesce(Review.posted_at, Review.finished_at) - Review.created_at
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of a UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _in_window(start: datetime, end: datetime, repos: Sequence[str] | None) -> list[ColumnElement[bool]]:
    where = [_PR_REVIEW, Review.created_at >= start, Review.created_at < end]
    if repos is not None:
        where.append(Review.repo.in_(list(repos)))
    return where


def _review_costs() -> Any:
    """Per review: summed agent cost, cache hits and agent runs (a subquery)."""
    return (
        select(
            AgentRun.review_id.label("review_id"),
            func.sum(AgentRun.cost_usd).label("cost"),
            func.count().label("runs"),
            func.count().filter(AgentRun.cache_hits > 0).label("cached_runs"),
        )
        .group_by(AgentRun.review_id)
        .subquery()
    )


# --- the daily report's rows ----------------------------------------------------------------


def finding_facts(s: Session, start: datetime, end: datetime) -> list[FindingFact]:
    """Every finding of PR reviews created in ``[start, end)``."""
    rows = s.execute(
        select(
            FindingRow.review_id, Review.repo, Review.pr_number, FindingRow.category,
            FindingRow.rule, FindingRow.severity, FindingRow.message,
        )
        .join(Review, Review.id == FindingRow.review_id)
        .where(*_in_window(start, end, None))
        .order_by(FindingRow.id)
    )
    return [
        FindingFact(review_id=r[0], repo=r[1], pr_number=r[2], category=r[3], rule=r[4], severity=r[5], message=r[6])
        for r in rows
    ]


def review_facts(s: Session, start: datetime, end: datetime) -> list[ReviewFact]:
    """Every PR review created in ``[start, end)``, with its summed agent cost."""
    costs = _review_costs()
    rows = s.execute(
        select(Review.id, Review.repo, Review.pr_number, Review.status, func.coalesce(costs.c.cost, 0))
        .outerjoin(costs, costs.c.review_id == Review.id)
        .where(*_in_window(start, end, None))
        .order_by(Review.id)
    )
    return [
        ReviewFact(review_id=r[0], repo=r[1], pr_number=r[2], status=str(r[3]), cost_usd=float(r[4]))
        for r in rows
    ]


# --- stored reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredReport:
    day: date
    generated_at: datetime
    report: DailyReport
    delivery: dict[str, Any]


def save_daily_report(s: Session, report: DailyReport) -> None:
    """Store (or replace) the report of its day; what was already delivered stays recorded."""
    statement = pg_insert(DailyReportRow).values(
        day=report.day,
        period_start=report.period_start,
        period_end=report.period_end,
        data=report.model_dump(mode="json"),
    )
    s.execute(
        statement.on_conflict_do_update(
            index_elements=[DailyReportRow.day],
            set_={
                "data": statement.excluded.data,
                "period_start": statement.excluded.period_start,
                "period_end": statement.excluded.period_end,
                "generated_at": func.now(),
            },
        )
    )


def get_daily_report(s: Session, day: date) -> StoredReport | None:
    row = s.get(DailyReportRow, day, populate_existing=True)
    if row is None:
        return None
    return StoredReport(row.day, row.generated_at, DailyReport.model_validate(row.data), dict(row.delivery))


def record_report_delivery(s: Session, day: date, channel: str, info: dict[str, Any]) -> None:
    """Remember that the report of ``day`` reached ``channel`` (``slack``, ``github``)."""
    entry = literal({channel: info}, JSONB)
    s.execute(
        update(DailyReportRow)
        .where(DailyReportRow.day == day)
        .values(delivery=DailyReportRow.delivery.op("||")(entry))
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class ReportListing:
    day: date
    generated_at: datetime
    reviews: int
    findings: int
    top_issue: str | None
    delivery: dict[str, Any]


def list_daily_reports(s: Session, limit: int = 90) -> list[ReportListing]:
    rows = s.execute(
        select(DailyReportRow.day, DailyReportRow.generated_at, DailyReportRow.data, DailyReportRow.delivery)
        .order_by(DailyReportRow.day.desc())
        .limit(limit)
    )
    listings = []
    for day, generated_at, data, delivery in rows:
        overall = data.get("overall", {})
        top = overall.get("top") or []
        listings.append(
            ReportListing(
                day=day,
                generated_at=generated_at,
                reviews=int(data.get("reviews", 0)),
                findings=int(overall.get("findings", 0)),
                top_issue=f"{top[0]['category']}/{top[0]['rule']}" if top else None,
                delivery=dict(delivery or {}),
            )
        )
    return listings


# --- dashboard time series ------------------------------------------------------------------


@dataclass
class DayStats:
    """One UTC day of PR reviews: volume, findings by category, duration and cost."""

    day: date
    reviews: int = 0
    failed: int = 0
    prs: int = 0
    findings: int = 0
    by_category: dict[str, int] = field(default_factory=lambda: {c.value: 0 for c in Category})
    p50_s: float | None = None
    p95_s: float | None = None
    cost_usd: float = 0.0
    agent_runs: int = 0
    cached_runs: int = 0

    @property
    def cost_per_pr(self) -> float | None:
        return self.cost_usd / self.prs if self.prs else None

    @property
    def cache_hit_rate(self) -> float:
        return self.cached_runs / self.agent_runs if self.agent_runs else 0.0


def _review_aggregates(costs) -> list:
    """Reviews, failed, PRs, p50 and p95 duration, cost, agent runs and cached runs over the
    selected reviews: the same numbers for a day of a chart and for a window's cards."""
    return [
        func.count(),
        func.count().filter(Review.status == ReviewStatus.FAILED),
        func.count(distinct(tuple_(Review.repo, Review.pr_number))),
        func.percentile_cont(0.5).within_group(_DURATION_S),
        func.percentile_cont(0.95).within_group(_DURATION_S),
        func.coalesce(func.sum(costs.c.cost), 0),
        func.coalesce(func.sum(costs.c.runs), 0),
        func.coalesce(func.sum(costs.c.cached_runs), 0),
    ]


def daily_series(s: Session, first_day: date, days: int, repos: Sequence[str] | None = None) -> list[DayStats]:
    """One :class:`DayStats` per day from ``first_day``, ``days`` long; quiet days are zeros."""
    start, _ = day_bounds(first_day)
    end = start + timedelta(days=days)
    where = _in_window(start, end, repos)
    series = {first_day + timedelta(days=i): DayStats(first_day + timedelta(days=i)) for i in range(days)}
    costs = _review_costs()
    review_rows = s.execute(
        select(
            _DAY,
            *_review_aggregates(costs),
        )
        .outerjoin(costs, costs.c.review_id == Review.id)
        .where(*where)
        .group_by(_DAY)
    )
    for day, reviews, failed, prs, p50, p95, cost, runs, cached in review_rows:
        stats = series[day]
        stats.reviews, stats.failed, stats.prs = reviews, failed, prs
        stats.p50_s = None if p50 is None else float(p50)
        stats.p95_s = None if p95 is None else float(p95)
        stats.cost_usd = float(cost)
        stats.agent_runs, stats.cached_runs = int(runs), int(cached)
    finding_rows = s.execute(
        select(_DAY, FindingRow.category, func.count())
        .join(Review, Review.id == FindingRow.review_id)
        .where(*where)
        .group_by(_DAY, FindingRow.category)
    )
    for day, category, count in finding_rows:
        series[day].by_category[Category(category).value] = count
        series[day].findings += count
    return [series[day] for day in sorted(series)]


@dataclass(frozen=True)
class Totals:
    """A window's totals, the cards at the top of a dashboard page."""

    reviews: int
    failed: int
    prs: int
    findings: int
    cost_usd: float
    p50_s: float | None
    p95_s: float | None
    cache_hit_rate: float
    # Accepted share of the window's verdicts on findings; None while there are none.
    acceptance_rate: float | None = None

    @property
    def cost_per_pr(self) -> float | None:
        return self.cost_usd / self.prs if self.prs else None


def window_totals(s: Session, start: datetime, end: datetime, repos: Sequence[str] | None = None) -> Totals:
    where = _in_window(start, end, repos)
    costs = _review_costs()
    reviews, failed, prs, p50, p95, cost, runs, cached = s.execute(
        select(
            *_review_aggregates(costs),
        )
        .outerjoin(costs, costs.c.review_id == Review.id)
        .where(*where)
    ).one()
    findings = s.scalar(
        select(func.count()).select_from(FindingRow).join(Review, Review.id == FindingRow.review_id).where(*where)
    )
    return Totals(
        reviews=reviews,
        failed=failed,
        prs=prs,
        findings=findings or 0,
        cost_usd=float(cost),
        p50_s=None if p50 is None else float(p50),
        p95_s=None if p95 is None else float(p95),
        cache_hit_rate=int(cached) / int(runs) if runs else 0.0,
        acceptance_rate=tally("window", verdict_facts(s, start, end, repos=repos)).rate,
    )


def verdict_facts(
    s: Session,
    start: datetime,
    end: datetime,
    *,
    repos: Sequence[str] | None = None,
    team_of: Callable[[str], str] | None = None,
) -> list[VerdictFact]:
    """The verdicts given in ``[start, end)`` (one per person, finding and verdict), by UTC day;
    a feedback row's own team wins over ``team_of(repo)``."""
    return [
        VerdictFact(
            repo=v.repo, rule=v.rule, agent=v.agent,
            team=v.team or (team_of(v.repo) if team_of else UNASSIGNED_TEAM),
            verdict=v.verdict, day=v.occurred_at.astimezone(UTC).date(),
        )
        for v in votes(s, start, end, repos)
    ]


@dataclass(frozen=True)
class RepoActivity:
    repo: str
    reviews: int
    findings: int
    cost_usd: float


def repo_activity(s: Session, start: datetime, end: datetime, repos: Sequence[str] | None = None) -> list[RepoActivity]:
    """Per repository in the window: reviews, findings and cost; busiest first."""
    where = _in_window(start, end, repos)
    costs = _review_costs()
    findings = (
        select(FindingRow.review_id.label("review_id"), func.count().label("n"))
        .group_by(FindingRow.review_id)
        .subquery()
    )
    rows = s.execute(
        select(
            Review.repo,
            func.count(),
            func.coalesce(func.sum(findings.c.n), 0),
            func.coalesce(func.sum(costs.c.cost), 0),
        )
        .outerjoin(costs, costs.c.review_id == Review.id)
        .outerjoin(findings, findings.c.review_id == Review.id)
        .where(*where)
        .group_by(Review.repo)
        .order_by(func.count().desc(), Review.repo)
    )
    return [RepoActivity(repo, reviews, int(n), float(cost)) for repo, reviews, n, cost in rows]


def known_repos(s: Session) -> list[str]:
    """Every repository that ever had a PR review."""
    return list(s.scalars(select(Review.repo).distinct().where(_PR_REVIEW).order_by(Review.repo)))


@dataclass(frozen=True)
class RuleCount:
    category: str
    rule: str
    count: int


def top_rules(
    s: Session, start: datetime, end: datetime, repos: Sequence[str] | None = None, limit: int = 10
) -> list[RuleCount]:
    rows = s.execute(
        select(FindingRow.category, FindingRow.rule, func.count())
        .join(Review, Review.id == FindingRow.review_id)
        .where(*_in_window(start, end, repos))
        .group_by(FindingRow.category, FindingRow.rule)
        .order_by(func.count().desc(), FindingRow.category, FindingRow.rule)
        .limit(limit)
    )
    return [RuleCount(Category(c).value, rule, n) for c, rule, n in rows]


@dataclass(frozen=True)
class ReviewListing:
    id: int
    repo: str
    pr_number: int | None
    status: str
    created_at: datetime
    duration_s: float | None
    findings: int
    cost_usd: float


def recent_reviews(s: Session, *, limit: int = 20, repos: Sequence[str] | None = None) -> list[ReviewListing]:
    costs = _review_costs()
    findings = (
        select(func.count()).where(FindingRow.review_id == Review.id).correlate(Review).scalar_subquery()
    )
    statement: Select = (
        select(
            Review.id, Review.repo, Review.pr_number, Review.status, Review.created_at,
            _DURATION_S, findings, func.coalesce(costs.c.cost, 0),
        )
        .outerjoin(costs, costs.c.review_id == Review.id)
        .where(_PR_REVIEW)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(limit)
    )
    if repos is not None:
        statement = statement.where(Review.repo.in_(list(repos)))
    return [
        ReviewListing(r[0], r[1], r[2], str(r[3]), r[4], None if r[5] is None else float(r[5]), r[6], float(r[7]))
        for r in s.execute(statement)
    ]


# --- one review's run record ----------------------------------------------------------------


@dataclass(frozen=True)
class AgentRunRecord:
    agent: str
    status: str
    mode: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float
    tokens: int
    cost_usd: float
    cache_hits: int
    error: str | None


def agent_runs(s: Session, review_id: int) -> list[AgentRunRecord]:
    """The review's agent runs in the order they started (unknown starts last)."""
    rows = s.scalars(
        select(AgentRun)
        .where(AgentRun.review_id == review_id)
        .order_by(AgentRun.started_at.asc().nulls_last(), AgentRun.agent)
    )
    return [
        AgentRunRecord(
            agent=r.agent, status=r.status, mode=r.mode, started_at=r.started_at,
            finished_at=r.finished_at, duration_s=float(r.duration_s), tokens=r.tokens,
            cost_usd=float(r.cost_usd if isinstance(r.cost_usd, Decimal) else Decimal(str(r.cost_usd))),
            cache_hits=r.cache_hits, error=r.error,
        )
        for r in rows
    ]

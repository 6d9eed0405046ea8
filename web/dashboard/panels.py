"""What a dashboard page shows, computed from storage: cards and charts for a window of days.

The overview, a team and a repository show the same panels over different sets of
repositories, so they share this one function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup
from sqlalchemy.orm import Session

from reviewer.adapters.storage import reports as store
from reviewer.findings import Category
from web.dashboard import charts

DEFAULT_DAYS = 14
MAX_DAYS = 90


def window_days(raw: str | None) -> int:
    try:
        days = int(raw) if raw else DEFAULT_DAYS
    except ValueError:
        days = DEFAULT_DAYS
    return min(max(days, 1), MAX_DAYS)


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Panels:
    first_day: date
    last_day: date
    days: int
    totals: store.Totals
    series: list[store.DayStats]
    charts: dict[str, Markup]
    repos: list[store.RepoActivity]
    top_rules: list[store.RuleCount]
    recent: list[store.ReviewListing]


def build_panels(s: Session, *, days: int, repos: Sequence[str] | None = None, last_day: date | None = None) -> Panels:
    """Cards, charts and tables for ``days`` UTC days ending ``last_day`` (today)."""
    last_day = last_day or today()
    first_day = last_day - timedelta(days=days - 1)
    start, _ = store.day_bounds(first_day)
    _, end = store.day_bounds(last_day)
    series = store.daily_series(s, first_day, days, repos)
    labels = [d.day.strftime("%m-%d") for d in series]
    categories = [c.value for c in Category]
    built = {
        "reviews": charts.bar_chart(labels, [d.reviews for d in series], title="Reviews per day"),
        "findings": charts.stacked_bars(
            labels,
            {c: [d.by_category[c] for d in series] for c in categories},
            title="Findings per category per day",
            colors=charts.CATEGORY_COLORS,
        ),
        "duration": charts.line_chart(
            labels,
            {"p50": [d.p50_s for d in series], "p95": [d.p95_s for d in series]},
            title="Review duration (p50 and p95)",
            colors={"p50": charts.PALETTE[0], "p95": charts.PALETTE[5]},
            fmt=charts.seconds,
        ),
        "cost": charts.bar_chart(
            labels, [round(d.cost_usd, 6) for d in series], title="Cost per day (USD)", fmt=charts.usd,
            color=charts.PALETTE[3],
        ),
        "cost_per_pr": charts.line_chart(
            labels,
            {"cost per PR": [None if d.cost_per_pr is None else round(d.cost_per_pr, 6) for d in series]},
            title="Cost per PR (USD)",
            colors={"cost per PR": charts.PALETTE[3]},
            fmt=charts.usd,
        ),
    }
    return Panels(
        first_day=first_day,
        last_day=last_day,
        days=days,
        totals=store.window_totals(s, start, end, repos),
        series=series,
        charts=built,
        repos=store.repo_activity(s, start, end, repos),
        top_rules=store.top_rules(s, start, end, repos),
        recent=store.recent_reviews(s, limit=15, repos=repos),
    )

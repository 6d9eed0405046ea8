"""Measuring the learning loop: acceptance rates and the false-positive trend.

Pure: storage hands in votes (one per person, finding and verdict; retracted signals
excluded), this module counts. Definitions, the same on the dashboard and in the daily
summary:

- **acceptance rate** = accepted / (accepted + rejected + dismissed) of a rule, agent,
  repository or team, over a window of days;
- **false-positive rate** of a day = (rejected + dismissed) / all verdicts given that day.
  Dismissed (a thread resolved without a change) counts as a false positive: the developer
  did not act on the finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, computed_field

from reviewer.feedback import Verdict

#: The acceptance tables of the daily summary cover this many days up to the report's day
#: (one day of verdicts is too few to rank rules by); the trend covers TREND_DAYS.
ACCEPTANCE_DAYS = 7
TREND_DAYS = 14
TOP_RULES = 10


@dataclass(frozen=True)
class VerdictFact:
    repo: str
    rule: str
    agent: str
    team: str
    verdict: Verdict
    day: date


class Acceptance(BaseModel):
    """Verdict counts of one rule, agent, repository or team, and its acceptance rate."""

    model_config = ConfigDict(frozen=True)

    name: str
    accepted: int = 0
    rejected: int = 0
    dismissed: int = 0

    @computed_field
    @property
    def total(self) -> int:
        return self.accepted + self.rejected + self.dismissed

    @computed_field
    @property
    def rate(self) -> float | None:
        return round(self.accepted / self.total, 4) if self.total else None


class DayRate(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    verdicts: int
    false_positives: int

    @computed_field
    @property
    def rate(self) -> float | None:
        return round(self.false_positives / self.verdicts, 4) if self.verdicts else None


class AcceptanceReport(BaseModel):
    """Acceptance per rule, agent, repository and team over ``[first_day, last_day]``, and the
    false-positive rate per day of the trend window."""

    model_config = ConfigDict(frozen=True)

    first_day: date
    last_day: date
    overall: Acceptance
    rules: list[Acceptance]
    agents: list[Acceptance]
    repos: list[Acceptance]
    teams: list[Acceptance]
    trend: list[DayRate]


def tally(name: str, facts: Iterable[VerdictFact]) -> Acceptance:
    counts = {v: 0 for v in Verdict}
    for fact in facts:
        counts[fact.verdict] += 1
    return Acceptance(
        name=name, accepted=counts[Verdict.ACCEPTED], rejected=counts[Verdict.REJECTED],
        dismissed=counts[Verdict.DISMISSED],
    )


def _by(facts: Sequence[VerdictFact], key: Callable[[VerdictFact], str]) -> list[Acceptance]:
    grouped: dict[str, list[VerdictFact]] = defaultdict(list)
    for fact in facts:
        grouped[key(fact)].append(fact)
    # Most verdicts first (where the rate means most), then by name for a stable order.
    return sorted((tally(name, group) for name, group in grouped.items()), key=lambda a: (-a.total, a.name))


def trend(facts: Iterable[VerdictFact], first_day: date, days: int) -> list[DayRate]:
    """One point per day from ``first_day``; a day without verdicts has no rate (None)."""
    total: dict[date, int] = defaultdict(int)
    negative: dict[date, int] = defaultdict(int)
    for fact in facts:
        total[fact.day] += 1
        negative[fact.day] += fact.verdict != Verdict.ACCEPTED
    span = [first_day + timedelta(days=i) for i in range(days)]
    return [DayRate(day=d, verdicts=total[d], false_positives=negative[d]) for d in span]


def acceptance_report(
    facts: Sequence[VerdictFact],
    *,
    last_day: date,
    days: int = ACCEPTANCE_DAYS,
    trend_days: int = TREND_DAYS,
) -> AcceptanceReport:
    """``facts`` must cover the longer of the two windows ending ``last_day``."""
    first_day = last_day - timedelta(days=days - 1)
    window = [f for f in facts if first_day <= f.day <= last_day]
    trend_start = last_day - timedelta(days=trend_days - 1)
    return AcceptanceReport(
        first_day=first_day,
        last_day=last_day,
        overall=tally("all repositories", window),
        rules=_by(window, lambda f: f.rule),
        agents=_by(window, lambda f: f.agent),
        repos=_by(window, lambda f: f.repo),
        teams=_by(window, lambda f: f.team),
        trend=trend([f for f in facts if trend_start <= f.day <= last_day], trend_start, trend_days),
    )


# --- text for the daily summary's deliveries ------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def markdown_lines(report: AcceptanceReport, *, limit: int = TOP_RULES) -> list[str]:
    """The summary's "Feedback" section (GitHub issue)."""
    span = f"{report.first_day.isoformat()} – {report.last_day.isoformat()}"
    lines = ["### Developer feedback", ""]
    if not report.overall.total:
        return [*lines, f"_No feedback on findings {span}._"]
    o = report.overall
    lines += [
        (
            f"Acceptance rate {_pct(o.rate)} over {span}: {o.accepted} accepted, {o.rejected} rejected, "
            f"{o.dismissed} dismissed."
        ),
        "",
        "| scope | name | accepted | rejected | dismissed | acceptance |",
        "|---|---|---|---|---|---|",
    ]
    for scope, rows in (("rule", report.rules[:limit]), ("agent", report.agents),
                        ("repository", report.repos[:limit]), ("team", report.teams)):
        lines += [
            f"| {scope} | `{a.name}` | {a.accepted} | {a.rejected} | {a.dismissed} | {_pct(a.rate)} |" for a in rows
        ]
    points = [f"{d.day.strftime('%m-%d')} {_pct(d.rate)}" for d in report.trend if d.verdicts]
    lines += ["", "False-positive rate per day (rejected + dismissed share): " + (", ".join(points) or "no verdicts")]
    return lines


def slack_text(report: AcceptanceReport) -> str:
    o = report.overall
    if not o.total:
        return "No developer feedback on findings in the last days."
    rated = [a for a in report.rules if a.total >= 2 and a.rate is not None]
    worst = sorted(rated, key=lambda a: (a.rate, -a.total))[:3]
    latest = next((d for d in reversed(report.trend) if d.verdicts), None)
    parts = [
        (
            f"Acceptance {_pct(o.rate)} ({o.accepted} of {o.total} verdicts, "
            f"{report.first_day.isoformat()} – {report.last_day.isoformat()})"
        ),
    ]
    if latest is not None:
        parts.append(f"false-positive rate {_pct(latest.rate)} on {latest.day.isoformat()}")
    if worst:
        parts.append("least accepted: " + ", ".join(f"`{a.name}` {_pct(a.rate)}" for a in worst))
    agents = ", ".join(f"{a.name} {_pct(a.rate)}" for a in report.agents)
    if agents:
        parts.append(f"by agent: {agents}")
    return "; ".join(parts)

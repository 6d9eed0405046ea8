"""The daily summary, built from finding rows: the top issues overall, per repo and per team.

Pure: storage hands in plain rows for the day and for the period before it, the caller
hands in the repo → team mapping; this module counts, ranks and compares. An "issue" is a
rule of a category (``security/sql-injection``): what recurs across PRs, whatever the line.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from reviewer.acceptance import AcceptanceReport, markdown_lines, slack_text
from reviewer.findings import Category, Severity

UNASSIGNED_TEAM = "(no team)"
TOP_N = 10


class Trend(StrEnum):
    NEW = "new"
    UP = "up"
    DOWN = "down"
    FLAT = "flat"


@dataclass(frozen=True)
class FindingFact:
    """One stored finding, reduced to what the summary counts."""

    review_id: int
    repo: str
    pr_number: int | None
    category: Category
    rule: str
    severity: Severity
    message: str = ""


@dataclass(frozen=True)
class ReviewFact:
    """One review of the period, reduced to what the summary totals."""

    review_id: int
    repo: str
    pr_number: int | None
    status: str
    cost_usd: float = 0.0


class IssueCount(BaseModel):
    """One recurring issue in one scope, with the previous period's count beside it."""

    model_config = ConfigDict(frozen=True)

    category: Category
    rule: str
    count: int
    prs: int
    previous: int
    delta: int
    trend: Trend
    severity: Severity
    example: str = ""

    @property
    def key(self) -> str:
        return f"{self.category.value}/{self.rule}"


class ScopeReport(BaseModel):
    """The top issues of one scope: everything, one repository, or one team."""

    model_config = ConfigDict(frozen=True)

    scope: str  # overall | repo | team
    name: str
    reviews: int
    findings: int
    previous_findings: int
    trend: Trend
    top: list[IssueCount]


class DailyReport(BaseModel):
    """The stored, served and delivered daily summary (its JSON is the API's answer)."""

    model_config = ConfigDict(frozen=True)

    day: date
    period_start: datetime
    period_end: datetime
    previous_start: datetime
    previous_end: datetime
    reviews: int
    prs: int
    failed_reviews: int
    cost_usd: float
    overall: ScopeReport
    repos: list[ScopeReport]
    teams: list[ScopeReport]
    # Acceptance per rule, agent, repository and team, and the false-positive trend
    # (``reviewer.acceptance``); None in reports stored before the learning loop.
    feedback: AcceptanceReport | None = None


# --- team mapping ---------------------------------------------------------------------------


class TeamMap:
    """Repository → team, from exact names or shell-style patterns (``acme/pay-*``).

    An exact name wins over a pattern; among patterns the first listed wins, so a file can
    put the specific patterns first.
    """

    def __init__(self, teams: Mapping[str, Sequence[str]] | None = None) -> None:
        self._exact: dict[str, str] = {}
        self._patterns: list[tuple[str, str]] = []
        for team, repos in (teams or {}).items():
            for repo in repos:
                if any(ch in repo for ch in "*?["):
                    self._patterns.append((repo.lower(), team))
                else:
                    self._exact.setdefault(repo.lower(), team)

    @classmethod
    def from_toml(cls, text: str) -> TeamMap:
        """Parse ``[teams]\\nname = ["owner/repo", "owner/prefix-*"]`` (see config/teams.example.toml)."""
        data = tomllib.loads(text)
        teams = data.get("teams", {})
        if not isinstance(teams, dict):
            raise TypeError("[teams] must be a table of team = [repositories]")
        for team, repos in teams.items():
            if not isinstance(repos, list) or not all(isinstance(r, str) for r in repos):
                raise ValueError(f"team {team!r}: expected a list of repository names")
        return cls(teams)

    @property
    def teams(self) -> list[str]:
        return sorted({*self._exact.values(), *(team for _, team in self._patterns)})

    def team_of(self, repo: str) -> str:
        key = repo.lower()
        if key in self._exact:
            return self._exact[key]
        for pattern, team in self._patterns:
            if fnmatch.fnmatchcase(key, pattern):
                return team
        return UNASSIGNED_TEAM

    def repos_of(self, team: str, known_repos: Iterable[str]) -> list[str]:
        return sorted(repo for repo in known_repos if self.team_of(repo) == team)


# --- building the report --------------------------------------------------------------------


def trend_of(current: int, previous: int) -> Trend:
    if previous == 0:
        return Trend.NEW if current > 0 else Trend.FLAT
    if current > previous:
        return Trend.UP
    if current < previous:
        return Trend.DOWN
    return Trend.FLAT


def top_issues(
    current: Sequence[FindingFact], previous: Sequence[FindingFact], *, limit: int = TOP_N
) -> list[IssueCount]:
    """The ``limit`` most frequent issues of ``current``, ranked by findings, then PRs affected.

    Ties end in alphabetical order of the issue key, so the report is stable across runs.
    """
    counts: Counter[tuple[Category, str]] = Counter()
    prs: dict[tuple[Category, str], set[tuple[str, int | None, int]]] = defaultdict(set)
    worst: dict[tuple[Category, str], Severity] = {}
    example: dict[tuple[Category, str], str] = {}
    for fact in current:
        key = (fact.category, fact.rule)
        counts[key] += 1
        # A local review has no PR number: it counts as its own "PR".
        prs[key].add((fact.repo, fact.pr_number, fact.review_id if fact.pr_number is None else 0))
        if key not in worst or fact.severity.rank > worst[key].rank:
            worst[key] = fact.severity
        example.setdefault(key, fact.message)
    before = Counter((fact.category, fact.rule) for fact in previous)
    ranked = sorted(
        counts, key=lambda k: (-counts[k], -len(prs[k]), f"{k[0].value}/{k[1]}")
    )[:limit]
    return [
        IssueCount(
            category=key[0],
            rule=key[1],
            count=counts[key],
            prs=len(prs[key]),
            previous=before[key],
            delta=counts[key] - before[key],
            trend=trend_of(counts[key], before[key]),
            severity=worst[key],
            example=example[key][:200],
        )
        for key in ranked
    ]


def _scope(
    scope: str,
    name: str,
    current: Sequence[FindingFact],
    previous: Sequence[FindingFact],
    reviews: int,
    limit: int,
) -> ScopeReport:
    return ScopeReport(
        scope=scope,
        name=name,
        reviews=reviews,
        findings=len(current),
        previous_findings=len(previous),
        trend=trend_of(len(current), len(previous)),
        top=top_issues(current, previous, limit=limit),
    )


def build_daily_report(
    *,
    day: date,
    period: tuple[datetime, datetime],
    previous_period: tuple[datetime, datetime],
    findings: Sequence[FindingFact],
    previous_findings: Sequence[FindingFact],
    reviews: Sequence[ReviewFact],
    team_map: TeamMap | None = None,
    limit: int = TOP_N,
    feedback: AcceptanceReport | None = None,
) -> DailyReport:
    """The summary of ``day``: top issues overall, per repository and per team, with trends.

    A repository or team appears when it had reviews or findings in either period, so a
    scope whose issues all went away still shows its downward trend.
    """
    team_map = team_map or TeamMap()

    def group(facts: Iterable[FindingFact | ReviewFact], by) -> dict[str, list]:
        grouped: dict[str, list] = defaultdict(list)
        for fact in facts:
            grouped[by(fact.repo)].append(fact)
        return grouped

    scopes: dict[str, list[ScopeReport]] = {}
    for scope, by in (("repo", lambda repo: repo), ("team", team_map.team_of)):
        now, before, reviewed = group(findings, by), group(previous_findings, by), group(reviews, by)
        names = sorted({*now, *before, *reviewed})
        reports = [
            _scope(scope, name, now.get(name, []), before.get(name, []), len(reviewed.get(name, [])), limit)
            for name in names
        ]
        scopes[scope] = sorted(reports, key=lambda r: (-r.findings, r.name))
    pr_keys = {(r.repo, r.pr_number) for r in reviews if r.pr_number is not None}
    return DailyReport(
        day=day,
        period_start=period[0],
        period_end=period[1],
        previous_start=previous_period[0],
        previous_end=previous_period[1],
        reviews=len(reviews),
        prs=len(pr_keys) + sum(1 for r in reviews if r.pr_number is None),
        failed_reviews=sum(1 for r in reviews if r.status == "failed"),
        cost_usd=round(sum(r.cost_usd for r in reviews), 6),
        overall=_scope("overall", "all repositories", findings, previous_findings, len(reviews), limit),
        repos=scopes["repo"],
        teams=scopes["team"],
        feedback=feedback,
    )


# --- rendering for delivery -----------------------------------------------------------------

_ARROW = {Trend.NEW: "new", Trend.UP: "▲", Trend.DOWN: "▼", Trend.FLAT: "="}


def _trend_text(issue: IssueCount) -> str:
    if issue.trend is Trend.NEW:
        return "new"
    return f"{_ARROW[issue.trend]} {issue.delta:+d} (was {issue.previous})"


def report_marker(day: date) -> str:
    """The hidden marker of a delivered report, so a re-run can recognise its own issue."""
    return f"<!-- reviewer:daily-report:{day.isoformat()} -->"


def render_markdown(report: DailyReport, *, dashboard_url: str | None = None, per_scope: int = 5) -> str:
    """The report as GitHub-flavoured Markdown (the body of the GitHub issue)."""
    lines = [
        f"## Reviewer daily summary — {report.day.isoformat()} (UTC)",
        "",
        (
            f"{report.reviews} review(s) of {report.prs} PR(s), {report.overall.findings} finding(s) "
            f"(previous day {report.overall.previous_findings}), {report.failed_reviews} failed, "
            f"cost ${report.cost_usd:.2f}."
        ),
        "",
        "### Top issues across all repositories",
        "",
    ]
    lines += _issue_table(report.overall.top)
    for title, scopes in (("team", report.teams), ("repository", report.repos)):
        shown = [scope for scope in scopes if scope.top][:20]
        if not shown:
            continue
        lines += ["", f"### By {title}", ""]
        for scope in shown:
            lines += [f"**{scope.name}** — {scope.findings} finding(s), {scope.reviews} review(s)", ""]
            lines += _issue_table(scope.top[:per_scope])
            lines.append("")
    if report.feedback is not None:
        lines += ["", *markdown_lines(report.feedback)]
    if dashboard_url:
        lines += ["", f"[Open on the dashboard]({dashboard_url})"]
    lines += ["", report_marker(report.day)]
    return "\n".join(lines).rstrip() + "\n"


def _issue_table(issues: Sequence[IssueCount]) -> list[str]:
    if not issues:
        return ["_No findings._"]
    rows = ["| # | issue | severity | findings | PRs | trend |", "|---|---|---|---|---|---|"]
    for rank, issue in enumerate(issues, 1):
        rows.append(
            f"| {rank} | `{issue.key}` | {issue.severity.value} | {issue.count} | {issue.prs} "
            f"| {_trend_text(issue)} |"
        )
    return rows


def slack_message(report: DailyReport, *, dashboard_url: str | None = None, limit: int = TOP_N) -> dict:
    """A Slack incoming-webhook payload: ``text`` (also the notification) plus mrkdwn blocks."""
    headline = (
        f"Reviewer daily summary for {report.day.isoformat()}: {report.reviews} review(s), "
        f"{report.overall.findings} finding(s), ${report.cost_usd:.2f}"
    )
    if report.feedback is not None and report.feedback.overall.rate is not None:
        headline += f", {report.feedback.overall.rate * 100:.0f}% of findings accepted"
    issue_lines = [
        f"{rank}. `{issue.key}` — {issue.count} in {issue.prs} PR(s), {_trend_text(issue)}"
        for rank, issue in enumerate(report.overall.top[:limit], 1)
    ] or ["No findings."]
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(issue_lines)}},
    ]
    teams = [t for t in report.teams if t.top][:10]
    if teams:
        team_lines = [
            f"*{t.name}*: {t.findings} finding(s); top `{t.top[0].key}` ({t.top[0].count})"
            for t in teams
        ]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(team_lines)}})
    if report.feedback is not None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_text(report.feedback)}})
    if dashboard_url:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{dashboard_url}|Open the dashboard>"}]})
    return {"text": headline, "blocks": blocks}

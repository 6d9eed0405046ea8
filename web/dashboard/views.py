"""The dashboard's pages: overview, team, repository, review, daily reports (server-rendered)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from reviewer.adapters.storage import reports as store
from reviewer.adapters.storage import repositories as repo
from reviewer.adapters.storage.learning import learning_record
from reviewer.reports import UNASSIGNED_TEAM, TeamMap
from tasks.reports import load_team_map
from web.app import context
from web.dashboard import auth, charts
from web.dashboard.panels import build_panels, window_days

HERE = Path(__file__).resolve().parent

dashboard = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder=str(HERE / "templates"),
    static_folder=str(HERE / "static"),
    static_url_path="/static",
)


def guard() -> Response | None:
    """The access check of :mod:`web.dashboard.auth`, answered as HTML (or as JSON for APIs)."""
    if request.endpoint == "dashboard.static":
        return None  # the stylesheet and icon hold no data; the denied page uses them
    settings = context().settings
    decision = auth.check(settings, request)
    if decision is None:
        return None
    if isinstance(decision, auth.Redirect):
        response = redirect(decision.location, code=303)
        response.set_cookie(
            auth.COOKIE, decision.cookie, httponly=True, samesite="Lax", secure=request.is_secure,
            max_age=30 * 24 * 3600,
        )
        return response
    wants_json = request.path.startswith("/api/")
    if wants_json:
        response = make_response({"error": "Unauthorized", "detail": decision.message}, 401)
    else:
        response = make_response(render_template("dashboard/denied.html", message=decision.message), 401)
    if decision.challenge:
        response.headers["WWW-Authenticate"] = decision.challenge
    return response


dashboard.before_request(guard)


@dashboard.errorhandler(HTTPException)
def page_error(exc: HTTPException):
    return render_template("dashboard/error.html", error=exc), exc.code


def _team_map() -> TeamMap:
    return load_team_map(context().settings.team_map_file)


@dashboard.get("/")
def overview():
    days = window_days(request.args.get("days"))
    team_map = _team_map()
    with context().services.db.session() as s:
        panels = build_panels(s, days=days)
        reports = store.list_daily_reports(s, limit=7)
    teams: dict[str, dict[str, float]] = {}
    for activity in panels.repos:
        team = teams.setdefault(team_map.team_of(activity.repo), {"reviews": 0, "findings": 0, "cost_usd": 0.0, "repos": 0})
        team["reviews"] += activity.reviews
        team["findings"] += activity.findings
        team["cost_usd"] += activity.cost_usd
        team["repos"] += 1
    return render_template(
        "dashboard/overview.html", p=panels, teams=sorted(teams.items()), reports=reports,
        title="Overview", team_of=team_map.team_of,
    )


@dashboard.get("/teams/<team>")
def team_page(team: str):
    days = window_days(request.args.get("days"))
    team_map = _team_map()
    if team not in team_map.teams and team != UNASSIGNED_TEAM:
        abort(404, description=f"no team {team!r} in the team map (REVIEWER_TEAM_MAP_FILE)")
    with context().services.db.session() as s:
        repos = team_map.repos_of(team, store.known_repos(s))
        panels = build_panels(s, days=days, repos=repos)
    return render_template("dashboard/scope.html", p=panels, kind="team", name=team, repos=repos, title=f"Team {team}")


@dashboard.get("/repos/<path:name>")
def repo_page(name: str):
    days = window_days(request.args.get("days"))
    team_map = _team_map()
    with context().services.db.session() as s:
        if name not in store.known_repos(s):
            abort(404, description=f"no reviews of {name}")
        panels = build_panels(s, days=days, repos=[name])
    return render_template(
        "dashboard/scope.html", p=panels, kind="repository", name=name, repos=[name],
        team=team_map.team_of(name), title=name,
    )


@dashboard.get("/reviews/<int:review_id>")
def review_page(review_id: int):
    with context().services.db.session() as s:
        review = repo.get_review(s, review_id)
        if review is None:
            abort(404, description=f"no review {review_id}")
        runs = store.agent_runs(s, review_id)
        findings = repo.load_findings(s, review_id)
    origin = review.started_at or review.created_at
    spans = []
    for run in runs:
        finished = run.finished_at
        started = run.started_at or (finished - timedelta(seconds=run.duration_s) if finished else None)
        if started is None:
            continue
        end = finished or started + timedelta(seconds=run.duration_s)
        spans.append(
            charts.Span(
                label=run.agent,
                start_s=max((started - origin).total_seconds(), 0.0),
                end_s=max((end - origin).total_seconds(), 0.0),
                status=run.status,
                detail=f"{run.tokens} tokens, ${run.cost_usd:.4f}" + (f"; {run.error}" if run.error else ""),
            )
        )
    total_s = None
    done = review.posted_at or review.finished_at
    if done is not None:
        total_s = (done - review.created_at).total_seconds()
    by_severity: dict[str, int] = {}
    for finding in findings:
        by_severity[finding.severity.value] = by_severity.get(finding.severity.value, 0) + 1
    return render_template(
        "dashboard/review.html",
        review=review,
        runs=runs,
        findings=findings,
        by_severity=by_severity,
        timeline=charts.timeline(spans, title=f"Agent timeline of review {review_id}"),
        tokens=sum(r.tokens for r in runs),
        cost=sum(r.cost_usd for r in runs),
        total_s=total_s,
        learned=learning_record(review),
        title=f"Review {review_id}",
    )


@dashboard.get("/reports")
def reports_page():
    with context().services.db.session() as s:
        reports = store.list_daily_reports(s, limit=90)
    return render_template("dashboard/reports.html", reports=reports, title="Daily reports")


@dashboard.get("/reports/<day>")
def report_page(day: str):
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        abort(404, description=f"{day!r} is not a date (YYYY-MM-DD)")
    with context().services.db.session() as s:
        stored = store.get_daily_report(s, wanted)
    if stored is None:
        abort(404, description=f"no daily report for {wanted.isoformat()} (run: reviewer report daily --date {wanted.isoformat()})")
    report = stored.report
    top = report.overall.top
    chart = charts.hbar_chart(
        [issue.key for issue in top], [issue.count for issue in top], title=f"Top issues on {wanted.isoformat()}",
        colors=[charts.CATEGORY_COLORS.get(issue.category.value, charts.PALETTE[0]) for issue in top],
    )
    return render_template(
        "dashboard/report.html", stored=stored, report=report, chart=chart, title=f"Report {wanted.isoformat()}",
        now=datetime.now,
    )

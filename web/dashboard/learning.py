"""The dashboard's learning pages: what feedback taught the reviewer, how well findings are
received, and the undo (a ``keep`` override) — behind the dashboard's access check.

The undo is the dashboard's only write. Besides the access check it needs both halves of a
CSRF defence: a double-submit token (a random value in a ``SameSite=Strict`` cookie that the
form must echo) and a same-origin check (``Origin``, else ``Referer``, must name this host).
Either alone would do against today's browsers; together they also cover a browser that
sends no ``Origin`` and a basic-auth login the browser replays on its own.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import abort, make_response, redirect, render_template, request, url_for

from reviewer.acceptance import acceptance_report
from reviewer.adapters.storage import LearningOverrideAction
from reviewer.adapters.storage import feedback as fb
from reviewer.adapters.storage import learning as store
from reviewer.adapters.storage import reports as report_store
from reviewer.learning import RuleAction
from reviewer.repo_config import load_repo_config
from tasks.learning import rule_decisions
from tasks.reports import load_team_map
from web.app import context
from web.dashboard import charts
from web.dashboard.panels import today, window_days
from web.dashboard.views import dashboard

CSRF_COOKIE = "reviewer_csrf"
MAX_RULE = 200


def _csrf_token() -> str:
    token = request.cookies.get(CSRF_COOKIE, "")
    return token if 20 <= len(token) <= 100 else secrets.token_urlsafe(32)


def _with_csrf_cookie(html: str, token: str):
    response = make_response(html)
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure,
        path="/dashboard", max_age=30 * 24 * 3600,
    )
    return response


def _check_csrf() -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.form.get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        abort(403, description="missing or wrong CSRF token: reload the page and try again")
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or urlsplit(origin).netloc != request.host:
        abort(403, description="cross-origin request refused (Origin/Referer is not this dashboard)")


def _acceptance(s, days: int, repos=None):
    last = today()
    first = last - timedelta(days=days - 1)
    start, _ = report_store.day_bounds(first)
    _, end = report_store.day_bounds(last)
    team_map = load_team_map(context().settings.team_map_file)
    facts = report_store.verdict_facts(s, start, end, repos=repos, team_of=team_map.team_of)
    report = acceptance_report(facts, last_day=last, days=days, trend_days=days)
    labels = [d.day.strftime("%m-%d") for d in report.trend]
    chart = charts.line_chart(
        labels,
        {"false positives": [None if d.rate is None else round(d.rate * 100, 1) for d in report.trend]},
        title="False-positive rate per day (rejected + dismissed, % of verdicts)",
        colors={"false positives": charts.PALETTE[5]},
        fmt=lambda v: f"{v:.0f}%",
    )
    return report, chart


@dashboard.get("/learning")
def learning_overview():
    days = window_days(request.args.get("days"))
    with context().services.db.session() as s:
        report, chart = _acceptance(s, days)
        repos = []
        for name in store.feedback_repos(s)[:200]:
            config = load_repo_config(store.latest_config_files(s, name)).config
            decisions = rule_decisions(s, name, config).values()
            repos.append({
                "name": name,
                "suppressed": sum(d.action == RuleAction.SUPPRESSED for d in decisions),
                "lowered": sum(d.action == RuleAction.LOWERED for d in decisions),
                "kept": sum(d.action == RuleAction.KEPT for d in decisions),
            })
        recent = store.recent_feedback(s, limit=30)
    return render_template(
        "dashboard/learning.html", report=report, chart=chart, repos=repos, recent=recent, days=days,
        title="Learning",
    )


@dashboard.get("/learning/<path:repo>")
def learning_repo(repo: str):
    days = window_days(request.args.get("days"))
    with context().services.db.session() as s:
        loaded = load_repo_config(store.latest_config_files(s, repo))
        decisions = list(rule_decisions(s, repo, loaded.config).values())
        if not decisions and repo not in store.feedback_repos(s):
            abort(404, description=f"nothing learned in {repo} yet (no feedback, no overrides)")
        report, chart = _acceptance(s, days, repos=[repo])
        recent = store.recent_feedback(s, repo=repo, limit=50)
        held = store.recent_held_back(s, repo)
    token = _csrf_token()
    order = {RuleAction.SUPPRESSED: 0, RuleAction.LOWERED: 1, RuleAction.KEPT: 2, RuleAction.UNTOUCHED: 3}
    decisions.sort(key=lambda d: (order[d.action], -d.negative, d.rule))
    html = render_template(
        "dashboard/learning_repo.html", repo=repo, decisions=decisions, options=loaded.config.learning,
        config_problem=loaded.problem, report=report, chart=chart, recent=recent, held=held, days=days,
        csrf=token, title=f"Learning · {repo}",
    )
    return _with_csrf_cookie(html, token)


@dashboard.post("/learning/override")
def learning_override():
    """Undo a suppression (``keep``), or hand the rule back to the feedback counts (``clear``)."""
    _check_csrf()
    repo = request.form.get("repo", "").strip()
    rule = request.form.get("rule", "").strip()
    action = request.form.get("action", "")
    if not repo or "/" not in repo or len(repo) > 300 or not rule or len(rule) > MAX_RULE:
        abort(400, description="repo (owner/name) and rule are required")
    if action not in ("keep", "clear"):
        abort(400, description="action must be keep or clear")
    by = request.form.get("by", "").strip()[:100] or "dashboard"
    reason = request.form.get("reason", "").strip()[:500] or None
    with context().services.db.session() as s:
        if action == "keep":
            fb.set_override(s, repo, rule, LearningOverrideAction.KEEP, by=by, reason=reason)
        else:
            fb.clear_override(s, repo, rule)
    return redirect(url_for("dashboard.learning_repo", repo=repo), code=303)

"""``GET /api/reports/daily/<date>``: the stored daily summary as JSON (dashboard access rules)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify

from reviewer.adapters.storage import reports as store
from web.app import context
from web.dashboard.views import guard

reports_api = Blueprint("reports_api", __name__, url_prefix="/api/reports")
reports_api.before_request(guard)


@reports_api.get("/daily/<day>")
def daily_report(day: str):
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        abort(400, description=f"{day!r} is not a date (YYYY-MM-DD)")
    with context().services.db.session() as s:
        stored = store.get_daily_report(s, wanted)
    if stored is None:
        abort(404, description=f"no daily report for {wanted.isoformat()}")
    body = stored.report.model_dump(mode="json")
    body["generated_at"] = stored.generated_at.isoformat()
    body["delivery"] = stored.delivery
    return jsonify(body)

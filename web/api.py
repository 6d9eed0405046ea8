"""The JSON API: ``GET /api/reviews/<id>`` — a review's run record, agents and findings."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify

from reviewer.adapters.storage import repositories as repo
from web.app import context

api = Blueprint("api", __name__, url_prefix="/api")


@api.get("/reviews/<int:review_id>")
def review_detail(review_id: int):
    with context().services.db.session() as s:
        review = repo.get_review(s, review_id)
        if review is None:
            abort(404, description=f"no review {review_id}")
        results = repo.load_agent_results(s, review_id)
        findings = repo.load_findings(s, review_id)
        body = review_record(review, results, findings)
    return jsonify(body)


def review_record(review, results, findings) -> dict:
    """A review as JSON: what the dashboard page, replay and the API show."""

    def ts(value):
        return value.isoformat() if value else None

    return {
        "id": review.id,
        "source": str(review.source),
        "repo": review.repo,
        "pr_number": review.pr_number,
        "head_sha": review.head_sha,
        "base_sha": review.base_sha,
        "status": str(review.status),
        "trigger": review.trigger,
        "error": review.error,
        "github_review_id": review.github_review_id,
        "created_at": ts(review.created_at),
        "started_at": ts(review.started_at),
        "finished_at": ts(review.finished_at),
        "posted_at": ts(review.posted_at),
        "dispatch_attempts": review.dispatch_attempts,
        # Counts, skip notes and what learned feedback held back or lowered ("learning").
        "summary": review.summary or {},
        "agents": {
            name: {
                "status": str(r.status),
                "duration_s": r.duration_s,
                "tokens": r.tokens,
                "cost_usd": r.cost_usd,
                "cache_hits": r.cache_hits,
                "cache_layers": r.cache_layers,
                "error": r.error,
            }
            for name, r in sorted(results.items())
        },
        "findings": [f.model_dump(mode="json") for f in findings],
    }

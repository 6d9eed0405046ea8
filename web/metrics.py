"""``GET /metrics``: Prometheus text format for the web processes, plus shared state.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` so any worker that
answers the scrape reports all of them; queue depth, GitHub's budget and the reviews per
status are read from Redis and Postgres at scrape time (see :mod:`tasks.metrics`).
"""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tasks.metrics import SharedStateCollector, scrape_registry
from web.app import context

metrics = Blueprint("metrics", __name__)


@metrics.get("/metrics")
def prometheus_metrics() -> Response:
    services = context().services
    shared = SharedStateCollector(
        lambda: services.redis, lambda: services.db,
        breaker_cooldown_s=services.settings.llm_breaker_cooldown_s,
    )
    body = generate_latest(scrape_registry(shared))
    return Response(body, content_type=CONTENT_TYPE_LATEST)

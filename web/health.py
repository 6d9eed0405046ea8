"""``/healthz`` (the process answers) and ``/readyz`` (Redis and Postgres answer)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web.app import context

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    return jsonify(status="ok")


@health.get("/readyz")
def readyz():
    ctx = context()
    checks = {"redis": _check(lambda: ctx.services.redis.ping()), "postgres": _check(ctx.services.db.ping)}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _check(probe) -> bool:
    try:
        return bool(probe())
    except Exception:  # noqa: BLE001 - a probe that raises means "not ready"
        return False

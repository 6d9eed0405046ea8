"""The Flask application factory: ``create_app(settings)``; nothing is read at import."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from celery import Celery
from flask import Flask, current_app, jsonify
from werkzeug.exceptions import HTTPException

from config.settings import Settings
from tasks.app import create_celery_app
from tasks.services import Services

log = structlog.get_logger("reviewer.web")


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    services: Services
    celery: Celery


def create_app(
    settings: Settings, *, services: Services | None = None, celery_app: Celery | None = None
) -> Flask:
    app = Flask("reviewer")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    services = services or Services(settings)
    celery_app = celery_app or create_celery_app(settings, services=services)
    app.extensions["reviewer"] = WebContext(settings, services, celery_app)

    from web.api import api
    from web.dashboard import dashboard
    from web.health import health
    from web.metrics import metrics
    from web.reports_api import reports_api
    from web.webhooks import webhooks

    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    app.register_blueprint(api)
    app.register_blueprint(metrics)
    app.register_blueprint(dashboard)
    app.register_blueprint(reports_api)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.name, detail=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        log.exception("web.unexpected_error")
        return jsonify(error="Internal Server Error", detail="an unexpected error was logged"), 500

    if settings.github_webhook_secret is None:
        log.warning("web.no_webhook_secret", detail="webhooks are refused until REVIEWER_GITHUB_WEBHOOK_SECRET is set")
    return app


def context() -> WebContext:
    return current_app.extensions["reviewer"]

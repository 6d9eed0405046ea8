"""Celery app and the review canvas' tasks.

``celery -A tasks worker`` looks up ``tasks.app``; it is built from the environment on first
access (PEP 562), so importing this package reads no settings and opens no connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

_app: Celery | None = None


def __getattr__(name: str) -> Celery:
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        from config.logging import configure_logging
        from config.settings import load_settings
        from tasks.app import create_celery_app

        settings = load_settings()
        configure_logging(settings)
        _app = create_celery_app(settings)
    return _app

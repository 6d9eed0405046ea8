"""Structured JSON logs (structlog) for web and workers, with review and delivery ids bound."""

from __future__ import annotations

import logging
import sys

import structlog

from config.settings import Settings


def configure_logging(settings: Settings, *, stream=None) -> None:
    """Route stdlib and structlog logging through one JSON (or console) renderer."""
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # bandit looks for optional output formatters through stevedore and logs an error for
    # each one not installed (e.g. sarif); that is noise, not a problem of ours.
    logging.getLogger("stevedore.extension").setLevel(logging.CRITICAL)
    # One line per HTTP request to GitHub or the LLM is debug detail, not an event.
    for chatty in ("httpx", "httpcore", "openai"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))

"""The Celery application factory: every reliability setting of DESIGN §6 in one place."""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab
from celery.signals import setup_logging
from kombu import Queue

from config.logging import configure_logging
from config.settings import Settings
from tasks.cache import connect_llm_warmup
from tasks.metrics import connect_worker_metrics
from tasks.services import Services

QUEUE_LLM = "llm"
QUEUE_DEFAULT = "default"

TASK_MODULES = (
    "tasks.review", "tasks.sweeper", "tasks.reports", "tasks.cache", "tasks.commands",
    "tasks.feedback", "tasks.reactions",
)


def _logging_for(settings: Settings):
    def configure(**_) -> None:
        configure_logging(settings)

    return configure


def create_celery_app(
    settings: Settings,
    *,
    broker_url: str | None = None,
    result_backend: str | None = None,
    services: Services | None = None,
) -> Celery:
    """Build a configured Celery app; nothing connects until a task is sent or a worker starts.

    ``broker_url``/``result_backend`` default to ``REVIEWER_REDIS_URL``; the local CLI passes
    ``memory://`` and an in-memory cache backend to run the same canvas in-process.
    """
    app = Celery("reviewer", set_as_current=False)
    broker = broker_url or settings.redis_url
    app.conf.update(
        broker_url=broker,
        result_backend=result_backend or settings.redis_url,
        # JSON only: never pickle.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        event_serializer="json",
        result_accept_content=["json"],
        # At-least-once delivery: ack after the task ran; a worker that dies gives its task
        # back. Every task is idempotent (see tasks.review).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.agent_soft_time_limit_s,
        task_time_limit=settings.agent_time_limit_s,
        broker_transport_options={
            # Above the longest task plus its retry countdown, or a slow task runs twice.
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": settings.restore_interval_s,
            "unacked_restore_throttle": 1,
            "socket_timeout": 10,
            "socket_connect_timeout": settings.broker_publish_timeout_s,
        },
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        result_expires=settings.result_expires_s,
        result_extended=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.broker_publish_timeout_s,
        task_track_started=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        timezone="UTC",
        enable_utc=True,
        task_default_queue=QUEUE_DEFAULT,
        task_queues=(Queue(QUEUE_DEFAULT), Queue(QUEUE_LLM)),
        task_routes={
            "reviewer.run_agent": {"queue": QUEUE_LLM},
            "reviewer.generate_fixes": {"queue": QUEUE_LLM},
            "reviewer.*": {"queue": QUEUE_DEFAULT},
        },
        # Agents never raise into the chord; errbacks go on prepare, the callback and post.
        task_allow_error_cb_on_chord_header=False,
        beat_schedule={
            "sweep-stuck-reviews": {
                "task": "reviewer.sweep",
                "schedule": settings.sweep_interval_s,
                "options": {"queue": QUEUE_DEFAULT, "expires": settings.sweep_interval_s},
            },
            # Yesterday's summary (UTC); expires before the next day's run would overlap it.
            "daily-report": {
                "task": "reviewer.daily_report",
                "schedule": crontab(hour=6, minute=0),
                "options": {"queue": QUEUE_DEFAULT, "expires": 12 * 3600},
            },
            # The LLM similarity cache: entries past their age or of a retired prompt/model.
            "prune-review-cache": {
                "task": "reviewer.prune_cache",
                "schedule": crontab(hour=5, minute=30),
                "options": {"queue": QUEUE_DEFAULT, "expires": 12 * 3600},
            },
            # Reactions fire no webhook: poll the bot's recent inline comments (ETags, budget).
            "poll-reactions": {
                "task": "reviewer.poll_reactions",
                "schedule": settings.feedback_reactions_poll_interval_s,
                "options": {"queue": QUEUE_DEFAULT, "expires": settings.feedback_reactions_poll_interval_s},
            },
        },
        imports=TASK_MODULES,
    )
    # Workers log through the same structlog JSON set-up as web, not Celery's own format:
    # connecting ``setup_logging`` tells Celery not to configure logging itself.
    app.conf.worker_hijack_root_logger = False
    setup_logging.connect(_logging_for(settings), weak=False)
    app.reviewer_services = services or Services(settings)
    connect_worker_metrics(app)
    connect_llm_warmup(app, settings)
    # The tasks are shared tasks: importing their modules registers them on every app.
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)

    return app

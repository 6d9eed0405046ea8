"""An in-process Celery worker on the memory transport, for the local CLI.

The same canvas as production, with JSON serialisation, time limits and chord semantics —
not Celery's eager mode, which skips all three. The result backend is an in-process cache,
which joins chords natively (no polling).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from celery.signals import worker_ready
from celery.worker import WorkController

from config.settings import Settings
from tasks.app import create_celery_app
from tasks.services import Services


def create_local_app(settings: Settings, services: Services) -> Celery:
    app = create_celery_app(
        settings, broker_url="memory://", result_backend="cache+memory://", services=services
    )
    app.conf.update(worker_hijack_root_logger=False, worker_send_task_events=False,
                    task_send_sent_event=False, beat_schedule={})
    return app


@contextmanager
def running_worker(app: Celery, *, concurrency: int = 4) -> Iterator[WorkController]:
    """Run a thread-pool worker consuming both queues for the duration of the block."""
    worker = WorkController(
        app=app,
        concurrency=concurrency,
        pool="threads",
        hostname="reviewer-local@localhost",
        loglevel="WARNING",
        queues=["default", "llm"],
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        ready_callback=None,
    )
    started = threading.Event()

    def on_ready(sender=None, **_):
        started.set()

    worker_ready.connect(on_ready, weak=False)
    thread = threading.Thread(target=worker.start, name="reviewer-worker", daemon=True)
    thread.start()
    if not started.wait(timeout=30):
        raise RuntimeError("the in-process worker did not start within 30 s")
    try:
        yield worker
    finally:
        worker_ready.disconnect(on_ready)
        worker.stop(in_sighandler=False)
        thread.join(timeout=10)

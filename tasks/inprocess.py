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
from celery.worker import WorkController

from config.settings import Settings
from tasks.app import create_celery_app
from tasks.services import Services


def create_local_app(settings: Settings, services: Services) -> Celery:
    app = create_celery_app(
        settings, broker_url="memory://localhost/", result_backend="cache+memory://", services=services
    )
    app.conf.update(broker_transport_options={"polling_interval": 0.01},
                    worker_hijack_root_logger=False, worker_send_task_events=False,
                    task_send_sent_event=False, beat_schedule={})
    # The thread pool traces tasks against ``current_app``, which is thread-local with the
    # default app as fallback: make this app that default, or pool threads see another app.
    app.set_default()
    app.set_current()
    return app


class _LocalWorker(WorkController):
    """A WorkController that says when its consumer is ready, and keeps thread failures."""

    def __init__(self, *args, **kwargs) -> None:
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer) -> None:
        self.ready.set()

    def run(self) -> None:
        try:
            self.start()
        except BaseException as exc:  # noqa: BLE001 - anything, even SystemExit, is reported by running_worker
            self.failure = exc
            self.ready.set()


@contextmanager
def running_worker(app: Celery, *, concurrency: int = 4) -> Iterator[WorkController]:
    """Run a thread-pool worker consuming both queues for the duration of the block."""
    worker = _LocalWorker(
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
    thread = threading.Thread(target=worker.run, name="reviewer-worker", daemon=True)
    thread.start()
    if not worker.ready.wait(timeout=30):
        raise RuntimeError("the in-process worker did not start within 30 s")
    if worker.failure is not None:
        raise RuntimeError(f"the in-process worker failed to start: {worker.failure!r}")
    try:
        yield worker
    finally:
        # Celery's blocking consumer loop only looks at its state every 2 s; the caller has
        # its results by now, so stop in the background rather than wait for that tick. The
        # threads are daemons: a process that exits does not wait for them either.
        stopper = threading.Thread(
            target=worker.stop, kwargs={"in_sighandler": False}, name="reviewer-worker-stop",
            daemon=True,
        )
        stopper.start()
        stopper.join(timeout=0.2)

"""Prometheus metrics (DESIGN §7): definitions, Celery signal hooks and scrape-time collectors.

Why this shape:

- Metric objects are built on first use (:func:`reviewer_metrics`), not at import: in
  multiprocess mode a metric value opens a file in ``PROMETHEUS_MULTIPROC_DIR``, and nothing
  may happen at import.
- Workers run prefork children, each with its own memory, so counters live in
  prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, one directory per
  worker container) and the worker's *main* process serves all of its children on one port
  (:func:`connect_worker_metrics`). A port per child would change whenever a child is
  recycled, and Prometheus could not find it.
- Values that live in Redis or Postgres (queue depth, GitHub budget, open and stuck reviews)
  are read at scrape time by the web process only (:class:`SharedStateCollector`), so N
  workers do not report the same queue N times.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import structlog
from celery import Celery, signals
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger("reviewer.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_PORT_ENV = "REVIEWER_WORKER_METRICS_PORT"
RATELIMIT_KEY_PREFIX = "reviewer:github:ratelimit:"
QUEUES = ("default", "llm")
# kombu's Redis transport keeps a priority queue's higher levels in "<queue>\x06\x16<n>".
PRIORITY_STEPS = (3, 6, 9)
STUCK_AFTER = timedelta(minutes=10)

# Reviews normally take tens of seconds; the alert is at 10 minutes.
REVIEW_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600)
AGENT_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
COST_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50)

TASK_RUN_AGENT = "reviewer.run_agent"
CACHE_LAYERS = ("exact", "near")
TASK_MARK_FAILED = "reviewer.mark_review_failed"


@dataclass(frozen=True)
class ReviewerMetrics:
    """Every metric a process records itself (names listed in docs/operations.md)."""

    reviews: Counter
    review_duration: Histogram
    review_cost: Histogram
    agent_duration: Histogram
    agent_runs: Counter
    tokens: Counter
    cache_hits: Counter
    cache_misses: Counter
    tasks: Counter
    circuit_breaker_state: Gauge


@cache
def reviewer_metrics() -> ReviewerMetrics:
    """The process's metrics, created once, in the default registry (used in one-process mode)."""
    return ReviewerMetrics(
        reviews=Counter(
            "reviewer_reviews_total",
            "Reviews that reached a final state, by status (posted, completed, failed).",
            ["status"],
        ),
        review_duration=Histogram(
            "reviewer_review_duration_seconds",
            "Time from the accepted webhook (review created) to the review posted on the PR.",
            buckets=REVIEW_BUCKETS,
        ),
        review_cost=Histogram(
            "reviewer_review_cost_usd",
            "LLM cost of one posted review, all agents together, in US dollars.",
            buckets=COST_BUCKETS,
        ),
        agent_duration=Histogram(
            "reviewer_agent_duration_seconds",
            "Time one agent ran on one review, by agent and result status.",
            ["agent", "status"],
            buckets=AGENT_BUCKETS,
        ),
        agent_runs=Counter(
            "reviewer_agent_runs_total", "Agent runs by agent and status.", ["agent", "status"]
        ),
        tokens=Counter(
            "reviewer_llm_tokens_total", "LLM tokens used, by model and agent.", ["model", "agent"]
        ),
        cache_hits=Counter(
            "reviewer_cache_hits_total",
            "Code units answered from the LLM similarity cache at zero tokens, by layer "
            "(exact: same normalised code; near: embedding similarity) and agent.",
            ["layer", "agent"],
        ),
        cache_misses=Counter(
            "reviewer_cache_misses_total",
            "Code units looked up in the LLM similarity cache and sent to the model, by agent.",
            ["agent"],
        ),
        tasks=Counter(
            "reviewer_celery_tasks_total", "Celery tasks finished, by task and state.", ["task", "state"]
        ),
        circuit_breaker_state=Gauge(
            "reviewer_circuit_breaker_state",
            "Circuit breaker per dependency: 0 closed, 1 half-open, 2 open.",
            ["breaker"],
            multiprocess_mode="max",
        ),
    )


# ---- what tasks report -------------------------------------------------------------------


def observe_review_posted(created_at: datetime | None, results: Iterable[Any] = ()) -> None:
    """Count one posted review, its webhook-to-post duration and its total cost.

    Called by ``tasks.review.post_review`` once the review is marked posted; never raises
    (a metrics hiccup must not undo a posted review).
    """
    try:
        m = reviewer_metrics()
        m.reviews.labels("posted").inc()
        if created_at is not None:
            if created_at.tzinfo is None:
                created_at = created_at.replace(tzinfo=UTC)
            m.review_duration.observe(max(0.0, (datetime.now(UTC) - created_at).total_seconds()))
        m.review_cost.observe(sum(float(getattr(r, "cost_usd", 0.0) or 0.0) for r in results))
    except Exception:
        log.exception("metrics.observe_failed")


def observe_agent_result(result: dict[str, Any]) -> None:
    """Record one agent's run from the result it returned into the chord."""
    agent = str(result.get("agent") or "unknown")
    status = str(result.get("status") or "unknown")
    m = reviewer_metrics()
    m.agent_duration.labels(agent, status).observe(float(result.get("duration_s") or 0.0))
    m.agent_runs.labels(agent, status).inc()
    model = _model_of(result)
    # Touch the series even at zero so dashboards and alerts see them before the first token.
    m.tokens.labels(model, agent).inc(int(result.get("tokens") or 0))
    # Hit rate per layer = hits{layer} / (hits{exact} + hits{near} + misses).
    layers = result.get("cache_layers") or {}
    for layer in CACHE_LAYERS:
        m.cache_hits.labels(layer, agent).inc(int(layers.get(layer) or 0))
    m.cache_misses.labels(agent).inc(int(layers.get("miss") or 0))


def _model_of(result: dict[str, Any]) -> str:
    for finding in result.get("findings") or []:
        source = str(finding.get("source") or "")
        if source.startswith("llm:"):
            return source.removeprefix("llm:")
    return "none"


def _on_task_postrun(sender=None, task=None, retval=None, state=None, **_: Any) -> None:
    name = getattr(task or sender, "name", None) or "unknown"
    try:
        m = reviewer_metrics()
        m.tasks.labels(name, str(state or "unknown")).inc()
        if name == TASK_RUN_AGENT and isinstance(retval, dict):
            observe_agent_result(retval)
        elif name == TASK_MARK_FAILED and state == "SUCCESS":
            m.reviews.labels("failed").inc()
    except Exception:
        log.exception("metrics.task_hook_failed", task=name)


def _on_worker_process_shutdown(pid: int | None = None, **_: Any) -> None:
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid or os.getpid())


def _on_worker_init(sender=None, **_: Any) -> None:
    """In the worker's main process, before children fork: fresh directory, then serve it."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        reset_multiprocess_dir(Path(directory))
    port = os.environ.get(WORKER_PORT_ENV)
    if port:
        start_http_server(int(port), registry=scrape_registry())
        log.info("metrics.serving", port=int(port), multiprocess=bool(directory))


def reset_multiprocess_dir(directory: Path) -> None:
    """Empty the directory: files left by a previous run would be counted again."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def connect_worker_metrics(app: Celery) -> None:
    """Connect the hooks (once per process, whatever the number of apps) and set the gauges.

    The signals are process-wide; ``dispatch_uid`` keeps a second app from doubling counts.
    The worker's metrics port comes from ``REVIEWER_WORKER_METRICS_PORT`` (unset: no server).
    """
    signals.task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="reviewer.metrics.postrun")
    signals.worker_init.connect(_on_worker_init, weak=False, dispatch_uid="reviewer.metrics.init")
    signals.worker_process_shutdown.connect(
        _on_worker_process_shutdown, weak=False, dispatch_uid="reviewer.metrics.child_exit"
    )
    signals.worker_process_init.connect(
        _on_worker_process_init, weak=False, dispatch_uid="reviewer.metrics.child_init"
    )


def _on_worker_process_init(**_: Any) -> None:
    # The breaker's state is shared in Redis, not per process: web's scrape reads it
    # (SharedStateCollector), so workers do not export a copy that could disagree.
    reviewer_metrics()


# ---- scraping ---------------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """What a ``/metrics`` endpoint serves: every process's metrics, plus ``extra`` collectors.

    In multiprocess mode the values come from the files of all processes sharing the
    directory; otherwise from this process's default registry.
    """
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Delegate(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return registry


class _Delegate(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self):
        return self._registry.collect()


BREAKER_KEY = "reviewer:llm:breaker:default"  # reviewer.adapters.llm.breaker, name "default"


class SharedStateCollector(Collector):
    """Reads shared state at scrape time: queue depths and GitHub's budget (Redis), and the
    reviews per status and stuck ones (Postgres). A source that does not answer is skipped
    and ``reviewer_metrics_source_up`` says so; a scrape never fails over it.
    """

    def __init__(
        self,
        redis_client: Callable[[], Any],
        database: Callable[[], Any] | None = None,
        *,
        queues: Iterable[str] = QUEUES,
        stuck_after: timedelta = STUCK_AFTER,
        breaker_cooldown_s: float = 60.0,
    ) -> None:
        self._redis = redis_client
        self._database = database
        self._queues = tuple(queues)
        self._stuck_after = stuck_after
        self._breaker_cooldown_ms = int(breaker_cooldown_s * 1000)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "reviewer_metrics_source_up", "Whether a scrape-time source answered.", labels=["source"]
        )
        families: list[GaugeMetricFamily] = []
        ok = _try(lambda: families.extend(self._redis_families(self._redis())))
        up.add_metric(["redis"], 1.0 if ok else 0.0)
        if self._database is not None:
            ok = _try(lambda: families.extend(self._database_families(self._database())))
            up.add_metric(["postgres"], 1.0 if ok else 0.0)
        yield from families
        yield up

    def _redis_families(self, client: Any) -> list[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "reviewer_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        pipe = client.pipeline()
        for queue in self._queues:
            pipe.llen(queue)
            for step in PRIORITY_STEPS:
                pipe.llen(f"{queue}\x06\x16{step}")
        lengths = pipe.execute()
        per_queue = 1 + len(PRIORITY_STEPS)
        for i, queue in enumerate(self._queues):
            depth.add_metric([queue], float(sum(lengths[i * per_queue:(i + 1) * per_queue])))

        remaining = GaugeMetricFamily(
            "reviewer_github_ratelimit_remaining",
            "GitHub API requests left in the current window, per installation (or token).",
            labels=["installation"],
        )
        limit = GaugeMetricFamily(
            "reviewer_github_ratelimit_limit",
            "GitHub API requests allowed per window, per installation (or token).",
            labels=["installation"],
        )
        used = GaugeMetricFamily(
            "reviewer_github_requests_used",
            "GitHub API requests spent in the current window (limit - remaining).",
            labels=["installation"],
        )
        for key in client.scan_iter(match=RATELIMIT_KEY_PREFIX + "*", count=100):
            name = _text(key).removeprefix(RATELIMIT_KEY_PREFIX)
            values = {_text(k): _text(v) for k, v in client.hgetall(key).items()}
            if "remaining" not in values:
                continue
            remaining.add_metric([name], float(values["remaining"]))
            if "limit" in values:
                limit.add_metric([name], float(values["limit"]))
                used.add_metric([name], float(values["limit"]) - float(values["remaining"]))
        return [depth, remaining, limit, used, self._breaker_family(client)]

    def _breaker_family(self, client: Any) -> GaugeMetricFamily:
        """The LLM circuit breaker as all workers share it in Redis (reviewer.adapters.llm.
        breaker): 0 closed, 1 half-open (cool-down over, a probe may go), 2 open."""
        state = GaugeMetricFamily(
            "reviewer_circuit_breaker_state",
            "Circuit breaker per dependency: 0 closed, 1 half-open, 2 open.",
            labels=["breaker"],
        )
        opened = client.hget(BREAKER_KEY, "opened_at")
        value = 0.0
        if opened:
            now_s, now_us = client.time()
            now_ms = int(now_s) * 1000 + int(now_us) // 1000
            value = 2.0 if now_ms < int(opened) + self._breaker_cooldown_ms else 1.0
        state.add_metric(["llm"], value)
        return state

    def _database_families(self, db: Any) -> list[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from reviewer.adapters.storage import ReviewStatus
        from reviewer.adapters.storage.models import OPEN_REVIEW_STATUSES, Review

        by_status = GaugeMetricFamily(
            "reviewer_reviews", "Reviews in the database by current status.", labels=["status"]
        )
        stuck = GaugeMetricFamily(
            "reviewer_reviews_stuck",
            f"Open reviews created more than {int(self._stuck_after.total_seconds())} s ago.",
        )
        deadline = datetime.now(UTC) - self._stuck_after
        with db.session() as s:
            counts = dict(s.execute(select(Review.status, func.count()).group_by(Review.status)).all())
            stuck_count = s.scalar(
                select(func.count()).select_from(Review).where(
                    Review.status.in_(OPEN_REVIEW_STATUSES), Review.created_at < deadline
                )
            )
        for status in ReviewStatus:
            by_status.add_metric([str(status)], float(counts.get(status, 0)))
        stuck.add_metric([], float(stuck_count or 0))
        return [by_status, stuck]


def _try(action: Callable[[], Any]) -> bool:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - a scrape reports the outage, it does not fail
        log.warning("metrics.source_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return False
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


"""Prometheus metrics from a real prefork worker (multiprocess mode) and from the web app."""

from __future__ import annotations

import socket
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from reviewer.adapters.storage import Database, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from tasks.app import create_celery_app
from tasks.intake import send
from tasks.services import Services
from tests.conftest import settings_from_env
from tests.support.processes import flush_redis
from tests.support.pulls import REPO, add_sample_pull_request, wait_for
from web.app import create_app

pytestmark = pytest.mark.integration

AGENTS = {"security", "performance", "quality", "architecture"}


@pytest.fixture
def private_redis(clean_redis):
    """A Redis database of these tests' own: counts stay exact even if a worker of another
    test (or another run on this machine) listens on the shared test database."""
    url = clean_redis.rsplit("/", 1)[0] + "/13"
    flush_redis(url)
    yield url
    flush_redis(url)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples, name: str, **labels) -> float | None:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    return sum(found) if found else None


def _scrape(port: int) -> list:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return _samples(response.read().decode())


def test_worker_exports_agent_durations_and_the_posted_review(
    service_env, start_worker, fake_github, tmp_path, private_redis
):
    port = _free_port()
    multiproc = tmp_path / "prom-worker"
    multiproc.mkdir()
    (multiproc / "stale_counter_1.db").write_bytes(b"left by an earlier run")
    pr = add_sample_pull_request(fake_github)
    service_env["REVIEWER_REDIS_URL"] = private_redis
    start_worker(PROMETHEUS_MULTIPROC_DIR=str(multiproc), REVIEWER_WORKER_METRICS_PORT=str(port))
    assert not (multiproc / "stale_counter_1.db").exists(), "the worker starts from an empty dir"

    settings = settings_from_env(service_env)
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    with db.session() as s:
        review, _ = repo.get_or_create_review(
            s, source="github", repo=REPO, pr_number=pr.number, head_sha=pr.head_sha,
            base_sha=pr.base_sha, installation_id=None, trigger="pull_request.opened",
        )
        review_id = review.id
    services = Services(settings)
    send(services, create_celery_app(settings, services=services), delivery_id=None, review_id=review_id)

    def posted() -> bool:
        with db.session() as s:
            return repo.get_review(s, review_id).status == ReviewStatus.POSTED

    wait_for(posted, timeout=60, what="the review")
    # The counter is written before the task returns; the scrape reads all children's files.
    wait_for(lambda: _value(_scrape(port), "reviewer_reviews_total", status="posted") == 1,
             timeout=10, what="the posted review in the worker's metrics")
    samples = _scrape(port)

    for agent in AGENTS:
        count = _value(samples, "reviewer_agent_duration_seconds_count", agent=agent, status="ok")
        assert count == 1, f"{agent}: {count}"
        assert _value(samples, "reviewer_agent_duration_seconds_sum", agent=agent) > 0
        assert _value(samples, "reviewer_llm_tokens_total", agent=agent) == 0
    assert _value(samples, "reviewer_review_duration_seconds_count") == 1
    assert _value(samples, "reviewer_review_duration_seconds_sum") > 0
    assert _value(samples, "reviewer_review_cost_usd_count") == 1
    assert _value(samples, "reviewer_reviews_total", status="failed") is None
    assert _value(samples, "reviewer_celery_tasks_total", task="reviewer.post_review", state="SUCCESS") == 1
    # the breaker's state is shared in Redis and exported by web's scrape, not per worker
    assert _value(samples, "reviewer_circuit_breaker_state", breaker="llm") is None
    # prefork: several child processes wrote files, all of them in the one directory
    assert len(list(multiproc.glob("*.db"))) >= 2


def test_web_metrics_show_queue_depth_ratelimit_and_reviews(clean_database, private_redis, make_settings):
    settings = make_settings(redis_url=private_redis, database_url=clean_database)
    client = redis.Redis.from_url(private_redis)
    client.rpush("llm", *[b"{}"] * 3)
    client.rpush("default", b"{}")
    client.rpush("default\x06\x163", b"{}")  # a priority level of the same queue
    client.hset("reviewer:github:ratelimit:token", mapping={"remaining": 4990, "limit": 5000})
    db = Database(clean_database)
    with db.session() as s:
        repo.get_or_create_review(
            s, source="github", repo=REPO, pr_number=7, head_sha="a" * 40, base_sha="b" * 40,
            installation_id=None, trigger="pull_request.opened",
        )

    response = create_app(settings).test_client().get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = _samples(response.get_data(as_text=True))
    assert _value(samples, "reviewer_queue_depth", queue="llm") == 3
    assert _value(samples, "reviewer_queue_depth", queue="default") == 2
    assert _value(samples, "reviewer_github_ratelimit_remaining", installation="token") == 4990
    assert _value(samples, "reviewer_github_requests_used", installation="token") == 10
    assert _value(samples, "reviewer_reviews", status="pending") == 1
    assert _value(samples, "reviewer_reviews_stuck") == 0
    assert _value(samples, "reviewer_metrics_source_up", source="redis") == 1
    assert _value(samples, "reviewer_metrics_source_up", source="postgres") == 1
    assert _value(samples, "reviewer_circuit_breaker_state", breaker="llm") == 0

    # the real breaker, opened by failures the way workers record them, shows as open
    from reviewer.adapters.llm.breaker import CircuitBreaker

    breaker = CircuitBreaker(client, threshold=2, cooldown_s=settings.llm_breaker_cooldown_s)
    breaker.record_failure()
    breaker.record_failure()
    samples = _samples(create_app(settings).test_client().get("/metrics").get_data(as_text=True))
    assert _value(samples, "reviewer_circuit_breaker_state", breaker="llm") == 2
    breaker.record_success()
    samples = _samples(create_app(settings).test_client().get("/metrics").get_data(as_text=True))
    assert _value(samples, "reviewer_circuit_breaker_state", breaker="llm") == 0
    client.close()


def test_web_metrics_answer_when_redis_is_down(clean_database, make_settings):
    settings = make_settings(redis_url="redis://127.0.0.1:1/0", database_url=clean_database)

    response = create_app(settings).test_client().get("/metrics")

    assert response.status_code == 200
    samples = _samples(response.get_data(as_text=True))
    assert _value(samples, "reviewer_metrics_source_up", source="redis") == 0
    assert _value(samples, "reviewer_queue_depth") is None
    assert _value(samples, "reviewer_metrics_source_up", source="postgres") == 1

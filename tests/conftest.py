"""Shared fixtures: a real Postgres + pgvector, a real Redis, and settings pointing at them.

Unit tests of the pure core use none of these; integration and end-to-end tests do.
"""

from __future__ import annotations

import os

import pytest
import redis

from config.settings import Settings
from tests.pg import start_test_database, truncate_all
from tests.support.processes import ROOT, WorkerProcess, flush_redis

REDIS_URL = os.environ.get("REVIEWER_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """One migrated database for the whole run (embedded server unless configured)."""
    return start_test_database(tmp_path_factory.mktemp("postgres"))


@pytest.fixture
def clean_database(database_url) -> str:
    truncate_all(database_url)
    return database_url


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:  # ops/test.sh starts Redis; say so if it is gone
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); run the tests via ops/test.sh")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def clean_redis(redis_url) -> str:
    flush_redis(redis_url)
    return redis_url


@pytest.fixture
def make_settings(tmp_path):
    """Settings for a test, built from keyword overrides (not from the environment)."""

    def build(**overrides) -> Settings:
        values = {"state_dir": tmp_path / "state", "log_json": False}
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def fake_github():
    """The shared fake GitHub (real HTTP on loopback), accepting token ``test-token``."""
    from tests.fakes.github import FakeGitHub

    with FakeGitHub(tokens={TEST_TOKEN}) as fake:
        yield fake


TEST_TOKEN = "test-token"
WEBHOOK_SECRET = "webhook-secret-for-tests"


@pytest.fixture
def service_env(clean_database, clean_redis, fake_github, tmp_path) -> dict[str, str]:
    """Environment for real worker processes: real Postgres, Redis and the fake GitHub.

    Short time limits so a killed worker's task comes back within seconds in tests
    (visibility timeout 8 s, restore scan every second).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "OPENAI_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        REVIEWER_DATABASE_URL=clean_database,
        REVIEWER_REDIS_URL=clean_redis,
        REVIEWER_GITHUB_API_URL=fake_github.url,
        REVIEWER_GITHUB_TOKEN=TEST_TOKEN,
        REVIEWER_GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        REVIEWER_STATE_DIR=str(tmp_path / "state"),
        REVIEWER_AGENT_SOFT_TIME_LIMIT_S="5",
        REVIEWER_AGENT_TIME_LIMIT_S="6",
        REVIEWER_VISIBILITY_TIMEOUT_S="8",
        REVIEWER_RESTORE_INTERVAL_S="1",
        REVIEWER_LOG_JSON="true",
    )
    return env


@pytest.fixture
def start_worker(service_env, tmp_path):
    """Start real worker processes (``celery worker``, prefork); all stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(name: str = "w1", **extra_env: str) -> WorkerProcess:
        env = dict(service_env, **extra_env)
        worker = WorkerProcess(env, tmp_path / f"{name}.log", name=name).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def settings_from_env(env: dict[str, str]) -> Settings:
    """The Settings a process started with ``env`` would load."""
    values = {k.removeprefix("REVIEWER_").lower(): v for k, v in env.items() if k.startswith("REVIEWER_")}
    return Settings(**values)

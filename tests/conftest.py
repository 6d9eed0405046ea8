"""Shared fixtures: a real Postgres + pgvector, a real Redis, and settings pointing at them.

Unit tests of the pure core use none of these; integration and end-to-end tests do.
"""

from __future__ import annotations

import os

import pytest
import redis

from config.settings import Settings
from tests.pg import start_test_database, truncate_all
from tests.support.processes import flush_redis

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

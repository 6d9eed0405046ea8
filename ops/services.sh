#!/usr/bin/env bash
# Makes sure the services the integration tests use are up: Redis on 127.0.0.1:6379.
# (Postgres + pgvector is the embedded server the tests start themselves, unless
# REVIEWER_TEST_DATABASE_URL points at one.)
set -euo pipefail
redis_url="${REVIEWER_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
  if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else
      echo "Redis is not running at $redis_url and redis-server is not installed" >&2; exit 2
    fi
  fi
  mkdir -p /tmp/reviewer-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/reviewer-redis --logfile /tmp/reviewer-redis/redis.log
  for _ in $(seq 50); do redis-cli -u "$redis_url" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -u "$redis_url" ping >/dev/null
fi

"""Worker entrypoint for benchmarks: the test worker (agents replaceable by no-ops) plus
task_prerun/postrun hooks that record each task's own run time in Redis, per review."""

from __future__ import annotations

import json
import os
import time

import redis
from celery.signals import task_postrun, task_prerun

from tests.support import worker_app

_started: dict[str, float] = {}
_redis = None


def _client():
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REVIEWER_REDIS_URL"])
    return _redis


def _review_id(args, kwargs):
    if "review_id" in (kwargs or {}):
        return kwargs["review_id"]
    return args[0] if args and isinstance(args[0], int) else None


@task_prerun.connect
def _before(task_id=None, **_):
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _after(task_id=None, task=None, args=None, kwargs=None, **_):
    began = _started.pop(task_id, None)
    review_id = _review_id(args, kwargs)
    if began is None or review_id is None:
        return
    entry = {"task": task.name, "agent": (kwargs or {}).get("agent"), "s": time.perf_counter() - began}
    _client().rpush(f"bench:tasks:{review_id}", json.dumps(entry))


def __getattr__(name: str):
    if name == "app":
        return worker_app.app
    raise AttributeError(name)

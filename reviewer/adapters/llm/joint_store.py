"""Where the agents of one review meet for a joint LLM request: Redis, across worker processes.

``claim`` is ``SET NX`` with a TTL (the owner's lease; if its worker dies the lease runs out),
``publish`` stores every agent's share for a day (a redelivered agent finds it again instead
of paying twice), ``wait`` polls until the shares come or the owner's lease is gone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import redis

ANSWER_TTL_S = 24 * 3600


class RedisJointStore:
    def __init__(
        self, client: redis.Redis, *, prefix: str = "reviewer:llm:joint:", poll_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.poll_s = poll_s
        self.sleep = sleep

    def claim(self, key: str, ttl_s: float) -> bool:
        return bool(self.client.set(self.prefix + key + ":owner", "1", nx=True, ex=max(1, int(ttl_s))))

    def publish(self, key: str, shares: dict) -> None:
        self.client.set(self.prefix + key + ":answer", json.dumps(shares), ex=ANSWER_TTL_S)

    def wait(self, key: str, timeout_s: float) -> dict | None:
        deadline = time.monotonic() + timeout_s
        while True:
            raw = self.client.get(self.prefix + key + ":answer")
            if raw is not None:
                return json.loads(raw)
            if not self.client.exists(self.prefix + key + ":owner") or time.monotonic() >= deadline:
                return None  # the owner's lease ran out without an answer: go alone
            self.sleep(self.poll_s)

"""The per-PR spend ledger in Redis: agents of one review run in different processes."""

from __future__ import annotations

import redis

TTL_S = 7 * 24 * 3600


class RedisSpendLedger:
    """Dollars spent on one review, summed atomically (``INCRBYFLOAT``) by all its agents."""

    def __init__(self, client: redis.Redis, review_key: str, *, prefix: str = "reviewer:llm:spend:") -> None:
        self.client = client
        self.key = prefix + review_key

    def spent(self) -> float:
        value = self.client.get(self.key)
        return float(value) if value else 0.0

    def add(self, usd: float) -> float:
        pipe = self.client.pipeline()
        pipe.incrbyfloat(self.key, usd)
        pipe.expire(self.key, TTL_S)
        total, _ = pipe.execute()
        return float(total)

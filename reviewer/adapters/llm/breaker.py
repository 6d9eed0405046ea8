"""A circuit breaker in Redis, shared by every worker: stop calling a provider that keeps failing.

closed → (``threshold`` consecutive failed calls) → open → (``cooldown_s`` later) half-open:
exactly one caller gets a probe slot (``SET NX``); its success closes the circuit, its
failure opens it again for another cool-down. While open, agents run static-only at once
instead of each burning its retries and time limit against a dead endpoint.
"""

from __future__ import annotations

from enum import StrEnum

import redis

_ALLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
if opened == 0 then return 1 end
if now < opened + tonumber(ARGV[1]) then return 0 end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', tonumber(ARGV[2])) then return 2 end
return 0
"""

_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local probing = redis.call('GET', KEYS[2])
if failures >= tonumber(ARGV[1]) or probing then
  redis.call('HSET', KEYS[1], 'opened_at', now)
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """The circuit is open: do not call the provider now."""


class CircuitBreaker:
    def __init__(
        self,
        client: redis.Redis,
        *,
        threshold: int = 5,
        cooldown_s: float = 60.0,
        probe_timeout_s: float = 120.0,
        name: str = "default",
    ) -> None:
        self.client = client
        self.threshold = threshold
        self.cooldown_ms = int(cooldown_s * 1000)
        self.probe_ms = int(probe_timeout_s * 1000)
        self.keys = [f"reviewer:llm:breaker:{name}", f"reviewer:llm:breaker:{name}:probe"]
        self._allow = client.register_script(_ALLOW)
        self._failure = client.register_script(_FAILURE)

    def allow(self) -> bool:
        """Whether this call may go out now (closed, or the one half-open probe)."""
        return int(self._allow(keys=self.keys, args=[self.cooldown_ms, self.probe_ms, "1"])) > 0

    def record_success(self) -> None:
        self.client.delete(*self.keys)

    def record_failure(self) -> bool:
        """Count one failed call; True when this failure opened (or re-opened) the circuit."""
        return bool(int(self._failure(keys=self.keys, args=[self.threshold])))

    def state(self) -> BreakerState:
        """For metrics and the dashboard; advisory (another process may change it next)."""
        opened = self.client.hget(self.keys[0], "opened_at")
        if not opened:
            return BreakerState.CLOSED
        now_s, now_us = self.client.time()
        now_ms = now_s * 1000 + now_us // 1000
        return BreakerState.OPEN if now_ms < int(opened) + self.cooldown_ms else BreakerState.HALF_OPEN

"""Requests/minute and tokens/minute for the provider, shared by every worker process (Redis).

A sliding-window log in one sorted set, checked and appended by one Lua script, so two
processes can never both take the last slot. Members carry their token estimate
(``<id>:<tokens>``); the clock is Redis' own ``TIME``, so workers' clocks do not matter. A
429 from the provider pauses every worker until its ``retry-after`` (:meth:`pause`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import redis

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, window, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local count = #entries / 2
local used = 0
for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
local wait = 0
if count + 1 > rpm then
  wait = tonumber(entries[(count - rpm) * 2 + 2]) + window - now
end
if count > 0 and used + tokens > tpm then
  local freed = 0
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
    if used - freed + tokens <= tpm then
      local w = tonumber(entries[i + 1]) + window - now
      if w > wait then wait = w end
      break
    end
  end
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. tokens)
redis.call('PEXPIRE', KEYS[1], window * 2)
return 0
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untill = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untill > current then redis.call('SET', KEYS[1], untill, 'PX', tonumber(ARGV[1]) + 1000) end
return untill
"""


class RateLimited(Exception):
    """No slot within the caller's patience; the call is not made."""


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        *,
        requests_per_window: int,
        tokens_per_window: int,
        window_s: float = 60.0,
        name: str = "default",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.rpm = requests_per_window
        self.tpm = tokens_per_window
        self.window_ms = int(window_s * 1000)
        self.keys = [f"reviewer:llm:rate:{name}", f"reviewer:llm:pause:{name}"]
        self.sleep = sleep
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)

    def try_acquire(self, tokens: int) -> float:
        """0 when a slot was taken now, else seconds to wait before asking again."""
        args = [self.rpm, self.tpm, self.window_ms, max(int(tokens), 0), uuid.uuid4().hex]
        wait_ms = int(self._acquire(keys=self.keys, args=args))
        return wait_ms / 1000.0

    def acquire(self, tokens: int, *, max_wait_s: float) -> float:
        """Block until a slot is taken (returns seconds waited) or raise :class:`RateLimited`."""
        waited = 0.0
        while True:
            wait = self.try_acquire(tokens)
            if wait <= 0:
                return waited
            if waited + wait > max_wait_s:
                raise RateLimited(f"no provider capacity within {max_wait_s:g}s")
            wait = max(wait, 0.005)
            self.sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Every worker waits ``seconds`` (a 429's ``retry-after``) before its next request."""
        self._pause(keys=[self.keys[1]], args=[max(int(seconds * 1000), 1)])

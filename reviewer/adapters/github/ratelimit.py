"""GitHub's rate limit as every worker process sees it, shared through Redis.

GitHub counts one budget per installation (or token) across all our processes, so one
worker learning that the budget is spent must stop the others too: each response's
``x-ratelimit-*`` headers are written to ``reviewer:github:ratelimit:<installation>`` and
every request first checks that key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel

from reviewer.adapters.github.errors import TransientGitHubError

KEY_PREFIX = "reviewer:github:ratelimit:"

# GitHub's advice for a secondary limit without a retry-after: wait at least a minute.
DEFAULT_RATE_LIMIT_WAIT_S = 60.0


class RateLimitState(BaseModel):
    remaining: int
    limit: int | None = None
    reset: float | None = None  # epoch seconds


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: float, default: float = DEFAULT_RATE_LIMIT_WAIT_S
) -> float:
    """Seconds to wait, as GitHub documents it: ``retry-after`` if present; else, when the
    primary budget is spent (remaining 0), until ``x-ratelimit-reset``; else ``default``
    (a secondary limit without a retry-after: at least a minute)."""
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset is not None and headers.get("x-ratelimit-remaining") == "0":
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            pass
    return default


class RateLimitBook:
    """Records and checks the remaining budget per installation (Redis, or memory without it)."""

    def __init__(
        self, redis_client: Any | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis_client
        self._clock = clock
        self._local: dict[str, RateLimitState] = {}

    def key(self, installation: str) -> str:
        return KEY_PREFIX + installation

    def record(self, installation: str, headers: Mapping[str, str]) -> None:
        """Store what a response said about the budget; never raises (a hook must not)."""
        resource = headers.get("x-ratelimit-resource")
        if resource not in (None, "core") or "x-ratelimit-remaining" not in headers:
            return
        try:
            state = RateLimitState(
                remaining=int(headers["x-ratelimit-remaining"]),
                limit=int(headers["x-ratelimit-limit"]) if "x-ratelimit-limit" in headers else None,
                reset=float(headers["x-ratelimit-reset"])
                if "x-ratelimit-reset" in headers
                else None,
            )
        except ValueError:
            return
        if self._redis is None:
            self._local[installation] = state
            return
        mapping = {"remaining": state.remaining}
        if state.limit is not None:
            mapping["limit"] = state.limit
        if state.reset is not None:
            mapping["reset"] = state.reset
        ttl = int(max(60.0, (state.reset or 0) - self._clock() + 60))
        try:
            pipe = self._redis.pipeline()
            pipe.hset(self.key(installation), mapping=mapping)
            pipe.expire(self.key(installation), ttl)
            pipe.execute()
        except Exception:  # noqa: BLE001 - a Redis hiccup must not fail the GitHub call
            return

    def state(self, installation: str) -> RateLimitState | None:
        if self._redis is None:
            return self._local.get(installation)
        try:
            raw = self._redis.hgetall(self.key(installation))
        except Exception:  # noqa: BLE001 - unknown budget: let GitHub tell us
            return None
        if not raw:
            return None
        values = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        try:
            return RateLimitState(
                remaining=int(values["remaining"]),
                limit=int(values["limit"]) if "limit" in values else None,
                reset=float(values["reset"]) if "reset" in values else None,
            )
        except (KeyError, ValueError):
            return None

    def check(self, installation: str) -> None:
        """Raise :class:`TransientGitHubError` when the shared budget is spent until a reset."""
        state = self.state(installation)
        if state is None or state.remaining > 0 or state.reset is None:
            return
        wait = state.reset - self._clock()
        if wait > 0:
            raise TransientGitHubError(
                f"GitHub rate limit exhausted for installation {installation}",
                status=None,
                retry_after=wait,
            )

    def response_hook(self, installation: str) -> Callable[[httpx.Response], None]:
        """An httpx response event hook recording every response's budget."""

        def hook(response: httpx.Response) -> None:
            self.record(installation, response.headers)

        return hook

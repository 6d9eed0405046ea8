"""GitHub App installation tokens, minted once and shared by all worker processes via Redis.

An App signs a short JWT (RS256) with its private key and trades it for an installation
token valid for an hour. Minting one per task would waste requests and hit GitHub's limits,
so the token is cached in Redis under ``reviewer:github:token:<app>:<installation>`` with a
TTL that ends five minutes before GitHub's expiry (the refresh margin). A Redis lock keeps a
burst of workers from minting several tokens at once. Tokens are never logged.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit.auth import BaseAuthStrategy
from redis.exceptions import LockError

from reviewer.adapters.github.errors import GitHubError, PermanentGitHubError

if TYPE_CHECKING:
    from githubkit import GitHubCore

TOKEN_KEY_PREFIX = "reviewer:github:token:"
REFRESH_MARGIN_S = 300.0
#: How long a repository's installation id is kept (it changes only on reinstall).
INSTALLATION_CACHE_S = 24 * 3600


class InstallationTokens:
    """Mints and caches installation tokens for one GitHub App."""

    def __init__(
        self,
        *,
        app_id: int | str,
        private_key: str,
        client_factory: Callable[[AppAuthStrategy], GitHub[Any]],
        api_version: str,
        translate: Callable[[Exception], GitHubError],
        redis_client: Any | None = None,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_id = str(app_id)
        self._auth = AppAuthStrategy(app_id, private_key)
        self._client_factory = client_factory
        self._api_version = api_version
        self._translate = translate
        self._redis = redis_client
        self._margin = refresh_margin_s
        self._clock = clock
        self._local: dict[int, tuple[str, float]] = {}
        self._local_lock = threading.Lock()

    def __repr__(self) -> str:  # the private key must never reach a log line
        return f"InstallationTokens(app_id={self._app_id!r})"

    def key(self, installation_id: int) -> str:
        return f"{TOKEN_KEY_PREFIX}{self._app_id}:{installation_id}"

    def installation_for(self, repo: str) -> int:
        """The App's installation on ``repo`` (``GET /repos/{o}/{r}/installation``, App JWT),
        for work no webhook names an installation for (the daily report's issue). Cached a day."""
        key = f"{TOKEN_KEY_PREFIX}{self._app_id}:repo:{repo}"
        cached = self._redis.get(key) if self._redis is not None else None
        if cached is not None:
            return int(cached)
        owner, _, name = repo.partition("/")
        github = self._client_factory(self._auth)
        try:
            response = github.rest.apps.get_repo_installation(
                owner, name, headers={"X-GitHub-Api-Version": self._api_version}
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        installation_id = int(response.json()["id"])
        if self._redis is not None:
            self._redis.set(key, installation_id, ex=INSTALLATION_CACHE_S)
        return installation_id

    def token(self, installation_id: int) -> str:
        """A token valid for at least the refresh margin, from the cache or freshly minted."""
        cached = self._cached(installation_id)
        if cached is not None:
            return cached
        if self._redis is None:
            with self._local_lock:
                return self._cached(installation_id) or self._mint(installation_id)
        lock = self._redis.lock(
            self.key(installation_id) + ":lock", timeout=30, blocking_timeout=15
        )
        acquired = lock.acquire()
        try:
            return self._cached(installation_id) or self._mint(installation_id)
        finally:
            if acquired:
                with contextlib.suppress(LockError):  # expired: harmless, the token is stored
                    lock.release()

    def invalidate(self, installation_id: int) -> None:
        """Forget a token GitHub refused (revoked or expired early)."""
        self._local.pop(installation_id, None)
        if self._redis is not None:
            self._redis.delete(self.key(installation_id))

    def _cached(self, installation_id: int) -> str | None:
        if self._redis is None:
            entry = self._local.get(installation_id)
            if entry and entry[1] - self._margin > self._clock():
                return entry[0]
            return None
        value = self._redis.get(self.key(installation_id))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def _mint(self, installation_id: int) -> str:
        github = self._client_factory(self._auth)
        try:
            response = github.rest.apps.create_installation_access_token(
                installation_id, headers={"X-GitHub-Api-Version": self._api_version}
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        data = response.json()
        token = data.get("token")
        if not token:
            raise PermanentGitHubError(
                "GitHub returned no installation token", status=response.status_code
            )
        expires_at = datetime.fromisoformat(str(data["expires_at"])).timestamp()
        ttl = expires_at - self._clock() - self._margin
        if self._redis is None:
            self._local[installation_id] = (token, expires_at)
        elif ttl >= 1:
            self._redis.set(self.key(installation_id), token, px=int(ttl * 1000))
        return token


class InstallationTokenAuth(httpx.Auth):
    """Puts the cached installation token on each request; on a 401 mints a new one once."""

    def __init__(self, tokens: InstallationTokens, installation_id: int) -> None:
        self._tokens = tokens
        self._installation_id = installation_id

    def __repr__(self) -> str:
        return f"InstallationTokenAuth(installation_id={self._installation_id})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"token {self._tokens.token(self._installation_id)}"
        response = yield request
        if response.status_code == 401:
            # A token GitHub no longer accepts was not created by this request, so a
            # single replay is safe even for a POST.
            response.read()
            self._tokens.invalidate(self._installation_id)
            request.headers["Authorization"] = f"token {self._tokens.token(self._installation_id)}"
            yield request


class InstallationAuthStrategy(BaseAuthStrategy):
    """githubkit auth strategy backed by :class:`InstallationTokens`."""

    def __init__(self, tokens: InstallationTokens, installation_id: int) -> None:
        self.tokens = tokens
        self.installation_id = installation_id

    def __repr__(self) -> str:
        return f"InstallationAuthStrategy(installation_id={self.installation_id})"

    def get_auth_flow(self, github: GitHubCore[Any]) -> httpx.Auth:
        return InstallationTokenAuth(self.tokens, self.installation_id)

"""Builds a :class:`GitHubHost` per installation, with App or token auth, from explicit inputs."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from githubkit import GitHub, TokenAuthStrategy
from githubkit.auth import BaseAuthStrategy
from githubkit.cache import BaseCacheStrategy, MemCacheStrategy

from reviewer.adapters.github.host import GitHubHost
from reviewer.adapters.github.ratelimit import RateLimitBook
from reviewer.adapters.github.tokens import InstallationAuthStrategy, InstallationTokens
from reviewer.adapters.github.translate import translate

USER_AGENT = "reviewer (githubkit)"


class GitHubHostFactory:
    """One per process: holds credentials, the shared token cache and the rate-limit book.

    Exactly one of ``token`` or (``app_id`` and ``private_key``) is given. ``redis_client``
    (a ``redis.Redis``) shares installation tokens and the rate-limit budget between
    processes; without it both stay in this process.
    """

    def __init__(
        self,
        api_url: str,
        api_version: str,
        *,
        token: str | None = None,
        app_id: int | str | None = None,
        private_key: str | None = None,
        redis_client: Any | None = None,
        timeout: float = 10.0,
        max_get_retries: int = 2,
        max_retry_wait_s: float = 30.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        uses_app = app_id is not None or private_key is not None
        if uses_app == (token is not None):
            raise ValueError(
                "give either a token or an App id with its private key, not both or neither"
            )
        if uses_app and (app_id is None or not private_key):
            raise ValueError("GitHub App auth needs both app_id and private_key")
        self._api_url = api_url
        self._api_version = api_version
        self._token = token
        self._timeout = timeout
        self._host_options: dict[str, Any] = {
            "max_get_retries": max_get_retries,
            "max_retry_wait_s": max_retry_wait_s,
            "backoff_s": backoff_s,
            "sleep": sleep,
        }
        self.rate_limits = RateLimitBook(redis_client)
        self.tokens: InstallationTokens | None = None
        if uses_app:
            assert app_id is not None and private_key is not None
            # githubkit caches the App JWT in its cache strategy; its default one is a
            # process-wide global keyed by app id only, so each factory gets its own.
            jwt_cache = MemCacheStrategy()
            self.tokens = InstallationTokens(
                app_id=app_id,
                private_key=private_key,
                client_factory=lambda auth: self._client(auth, "app", cache_strategy=jwt_cache),
                api_version=api_version,
                translate=translate,
                redis_client=redis_client,
            )

    def __repr__(self) -> str:
        kind = "app" if self.tokens is not None else "token"
        return f"GitHubHostFactory(api_url={self._api_url!r}, auth={kind})"

    def for_installation(self, installation_id: int | None) -> GitHubHost:
        """A host acting as the App installation (App auth) or as the token's owner."""
        auth: BaseAuthStrategy
        if self.tokens is not None:
            if installation_id is None:
                raise ValueError("GitHub App auth needs the installation id from the webhook")
            auth = InstallationAuthStrategy(self.tokens, installation_id)
            installation = str(installation_id)
        else:
            assert self._token is not None
            auth = TokenAuthStrategy(self._token)
            installation = str(installation_id) if installation_id is not None else "token"
        return GitHubHost(
            self._client(auth, installation),
            api_version=self._api_version,
            installation=installation,
            rate_limits=self.rate_limits,
            **self._host_options,
        )

    def for_repository(self, repo: str) -> GitHubHost:
        """A host for ``repo`` when no webhook named the installation: with App auth the
        App's installation on that repository is looked up (and cached)."""
        if self.tokens is None:
            return self.for_installation(None)
        return self.for_installation(self.tokens.installation_for(repo))

    def _client(
        self,
        auth: BaseAuthStrategy,
        installation: str,
        cache_strategy: BaseCacheStrategy | None = None,
    ) -> GitHub[Any]:
        # auto_retry off: githubkit would retry POSTs too; reads are retried by GitHubHost.
        # http_cache off: responses are not cached per process; rate limits are shared instead.
        return GitHub(
            auth,
            base_url=self._api_url,
            user_agent=USER_AGENT,
            timeout=self._timeout,
            auto_retry=False,
            http_cache=False,
            cache_strategy=cache_strategy,
            event_hooks={"response": [self.rate_limits.response_hook(installation)]},
            ssl_verify=self._ssl_context,
        )

    @cached_property
    def _ssl_context(self) -> ssl.SSLContext:
        """One verifying TLS context for every client of this factory: building one loads
        the CA bundle (~50 ms), which httpx would otherwise do for every request."""
        return ssl.create_default_context()

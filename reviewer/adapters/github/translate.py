"""Turns githubkit/httpx exceptions into our error vocabulary (transient, permanent, ...)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from githubkit.exception import (
    AuthCredentialError,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)

from reviewer.adapters.github.errors import GitHubError, PermanentGitHubError, TransientGitHubError
from reviewer.adapters.github.ratelimit import retry_after_from_headers

# Failures before the request left this machine: safe to repeat even for a POST.
NOT_SENT = httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout


def github_message(response: httpx.Response) -> tuple[str, list[str]]:
    """GitHub's ``message`` and the texts of its ``errors`` list, from an error body."""
    try:
        data: Any = response.json()
    except ValueError:
        return (response.text[:200] or response.reason_phrase), []
    if not isinstance(data, dict):
        return str(data)[:200], []
    errors: list[str] = []
    for item in data.get("errors") or []:
        if isinstance(item, str):
            errors.append(item)
        elif isinstance(item, dict):
            errors.append(str(item.get("message") or item.get("code") or item))
    return str(data.get("message") or response.reason_phrase), errors


def is_rate_limited(response: httpx.Response) -> bool:
    """A primary (remaining 0) or secondary (message, 429, retry-after) rate limit answer."""
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    if response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers:
        return True
    message, _ = github_message(response)
    return "rate limit" in message.lower()


def origin(exc: BaseException) -> BaseException:
    """The exception githubkit wrapped, if any."""
    return exc.exc if isinstance(exc, RequestError) and not isinstance(exc, RequestFailed) else exc


def translate(exc: Exception, *, backoff_s: float = 1.0) -> GitHubError:
    """Map any exception from a githubkit call to a :class:`GitHubError`."""
    inner = origin(exc)
    if isinstance(inner, GitHubError):  # raised by our own auth flow inside httpx
        return inner
    if isinstance(exc, RequestFailed):
        response = exc.response.raw_response
        status = response.status_code
        message, errors = github_message(response)
        text = f"GitHub {status} on {exc.request.method} {exc.request.url.path}: {message}"
        if errors:
            text += " (" + "; ".join(errors) + ")"
        if isinstance(exc, RateLimitExceeded) or is_rate_limited(response):
            wait = retry_after_from_headers(response.headers, now=time.time())
            return TransientGitHubError(text, status=status, retry_after=wait)
        if status >= 500:
            return TransientGitHubError(text, status=status, retry_after=backoff_s)
        return PermanentGitHubError(text, status=status)
    if isinstance(exc, RequestTimeout):
        return TransientGitHubError(f"GitHub request timed out: {exc!r}", retry_after=backoff_s)
    if isinstance(exc, RequestError):
        return TransientGitHubError(
            f"GitHub request failed: {type(inner).__name__}", retry_after=backoff_s
        )
    if isinstance(exc, AuthCredentialError):
        return PermanentGitHubError(f"GitHub credentials unusable: {exc}")
    if isinstance(exc, httpx.TimeoutException | httpx.TransportError):
        return TransientGitHubError(
            f"GitHub request failed: {type(exc).__name__}", retry_after=backoff_s
        )
    return PermanentGitHubError(f"GitHub call failed: {type(exc).__name__}: {exc}")

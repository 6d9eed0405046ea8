"""Who may see the dashboard and the reports API: a token, basic auth, or loopback only.

- ``REVIEWER_DASHBOARD_TOKEN``: ``Authorization: Bearer <token>``, or ``?token=<token>`` once
  in a browser, which sets an HttpOnly cookie and redirects to the same page without it.
- ``REVIEWER_DASHBOARD_BASIC_AUTH`` (``user:password``): HTTP basic auth.
- Both may be set; either then lets a request in.
- Neither set: only requests from 127.0.0.1/::1 that did not come through a proxy (no
  ``X-Forwarded-For``/``Forwarded``/``X-Real-IP``), so a laptop works out of the box while a
  server behind a reverse proxy on the same host does not silently go public.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Request

from config.settings import Settings

COOKIE = "reviewer_dashboard"
_LOOPBACK = {"127.0.0.1", "::1"}
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


@dataclass(frozen=True)
class Denied:
    """Why a request was refused, and the challenge to answer with."""

    message: str
    challenge: str | None = None


@dataclass(frozen=True)
class Redirect:
    """A valid ``?token=``: set the cookie and go to ``location`` (the URL without the token)."""

    location: str
    cookie: str


def cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the token itself is never stored."""
    return hmac.new(token.encode(), b"reviewer-dashboard-cookie", hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check(settings: Settings, request: Request) -> None | Denied | Redirect:
    """None when the request may proceed; otherwise what to answer instead."""
    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    basic = settings.dashboard_basic_auth.get_secret_value() if settings.dashboard_basic_auth else None
    if not token and not basic:
        if request.remote_addr in _LOOPBACK and not any(h in request.headers for h in _PROXY_HEADERS):
            return None
        return Denied(
            "The dashboard is not configured for remote access. Set REVIEWER_DASHBOARD_TOKEN "
            "(then open /dashboard/?token=...) or REVIEWER_DASHBOARD_BASIC_AUTH=user:password; "
            "without either it only answers requests made directly to 127.0.0.1."
        )
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if token:
        if scheme.lower() == "bearer" and _same(credentials.strip(), token):
            return None
        if _same(request.cookies.get(COOKIE, ""), cookie_value(token)):
            return None
        offered = request.args.get("token")
        if offered is not None and _same(offered, token):
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            location = request.path + (f"?{urlencode(rest)}" if rest else "")
            return Redirect(location=location, cookie=cookie_value(token))
    if basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if decoded and _same(decoded, basic):
            return None
    ways = []
    if token:
        ways.append("a bearer token (Authorization: Bearer ..., or ?token=... once in a browser)")
    if basic:
        ways.append("basic auth")
    return Denied(
        "Authentication required: " + " or ".join(ways) + ".",
        challenge='Basic realm="reviewer dashboard", charset="UTF-8"' if basic else 'Bearer realm="reviewer dashboard"',
    )

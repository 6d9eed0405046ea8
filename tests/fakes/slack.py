"""A fake Slack-compatible incoming webhook: real HTTP on loopback, recording each message.

    with FakeSlack() as slack:
        ...  # REVIEWER_SLACK_WEBHOOK_URL=slack.url
        assert slack.messages[0]["text"].startswith("Reviewer daily summary")

Answers ``ok`` like Slack does; ``fail_next(status, times)`` scripts errors (Slack answers
e.g. 404 ``no_service`` for a revoked hook, 429 when rate limited).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeSlack:
    PATH = "/services/T000/B000/fake-secret"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{self.PATH}"

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.requests.append((self.path, dict(self.headers)))
                    failure = fake._failures.pop(0) if fake._failures else None
                if self.path != FakeSlack.PATH:
                    return self._answer(404, b"no_service")
                if failure is not None:
                    return self._answer(failure, b"rate_limited" if failure == 429 else b"failure")
                try:
                    message = json.loads(body)
                except ValueError:
                    return self._answer(400, b"invalid_payload")
                if not isinstance(message, dict) or not message.get("text"):
                    return self._answer(400, b"no_text")
                with fake._lock:
                    fake.messages.append(message)
                self._answer(200, b"ok")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

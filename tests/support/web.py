"""The Flask app served over real HTTP on loopback, in a thread, for end-to-end tests."""

from __future__ import annotations

import threading
from typing import Self

from werkzeug.serving import make_server


class WebServer:
    def __init__(self, flask_app) -> None:
        self._server = make_server("127.0.0.1", 0, flask_app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

"""Flower, as ``reviewer flower`` starts it, is behind basic auth."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_flower_requires_basic_auth(service_env, tmp_path):
    port = _free_port()
    env = dict(service_env, FLOWER_BASIC_AUTH="ops:s3cret", FLOWER_ADDRESS="127.0.0.1")
    log = open(tmp_path / "flower.log", "wb")  # noqa: SIM115 - Flower writes to it while it runs
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "flower", "--port", str(port)], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                anonymous = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "flower.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "flower did not start"
                time.sleep(0.3)
        assert anonymous.status_code == 401
        wrong = httpx.get(f"http://127.0.0.1:{port}/", auth=("ops", "nope"), timeout=5)
        assert wrong.status_code == 401
        ok = httpx.get(f"http://127.0.0.1:{port}/workers", auth=("ops", "s3cret"), timeout=10)
        assert ok.status_code == 200 and "Flower" in ok.text
        assert "s3cret" not in (tmp_path / "flower.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)

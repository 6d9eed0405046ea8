"""Real processes for integration tests: a Celery worker, started and killed like in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``celery -A tests.support.worker_app worker`` in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, *, concurrency: int = 4, name: str = "w1") -> None:
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.name = name
        self.proc: subprocess.Popen | None = None

    def start(self, *, wait_ready: float = 30.0) -> WorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the worker writes to it while it runs
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "tests.support.worker_app", "worker",
                "-Q", "default,llm", "-c", str(self.concurrency), "--pool", "prefork",
                "-n", f"{self.name}-{os.getpid()}@%h", "--without-mingle", "--without-gossip",
                "--loglevel", "INFO",
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + wait_ready
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            if b"ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in {wait_ready}s: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acks, like a lost node."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()

"""Realistic pull requests for the pipeline tests, and a helper to wait for an outcome."""

from __future__ import annotations

import time
from collections.abc import Callable

REPO = "octo-org/inventory"

BASE_REPORTS = '''"""Report generation for the inventory service."""
import sqlite3


def open_db(path="inventory.db"):
    return sqlite3.connect(path)


def count_items(conn):
    cur = conn.execute("SELECT COUNT(*) FROM items")
    return cur.fetchone()[0]
'''

HEAD_REPORTS = '''"""Report generation for the inventory service."""
import os
import sqlite3
import subprocess

from flask import Flask, request

app = Flask(__name__)


def open_db(path="inventory.db"):
    return sqlite3.connect(path)


def count_items(conn):
    cur = conn.execute("SELECT COUNT(*) FROM items")
    return cur.fetchone()[0]


@app.route("/items")
def find_items():
    name = request.args.get("name", "")
    rows = open_db().execute(f"SELECT id FROM items WHERE name = '{name}'").fetchall()
    return {"items": [r[0] for r in rows]}


@app.route("/export")
def export_report():
    target = request.args.get("target")
    subprocess.call("tar czf /tmp/report.tgz " + target, shell=True)
    return {"ok": True}


def summarise(rows, seen=[]):
    try:
        return ", ".join(r["name"] for r in rows if r["name"] not in seen)
    except:
        return ""
'''

SAMPLE_CHANGES = {
    "app/reports.py": (BASE_REPORTS, HEAD_REPORTS),
    "app/settings.py": (None, 'DEBUG = True\nSECRET_KEY = "8f1d2c9a7b3e4f5061728394a5b6c7d8"\n'),
    "docs/logo.png": (None, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
}


def add_sample_pull_request(fake, number: int = 7, **fields):
    """A PR with real problems (SQL and command injection, bare except, a binary file)."""
    return fake.add_pull_request_from_texts(REPO, number, SAMPLE_CHANGES, **fields)


def wait_for[T](probe: Callable[[], T], *, timeout: float = 60.0, interval: float = 0.1, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)

"""Worker entrypoint for the integration tests: the production app, agents faulty on request.

``REVIEWER_TEST_FAULTS`` names agents to break, e.g. ``security=raise;performance=sleep:30``
(``crash`` kills the worker's child process mid-task);
``sleep-once`` sleeps only while the marker file ``REVIEWER_TEST_FAULT_MARKER`` is absent (it
is created on the first run), so a restarted worker runs the agent normally.
``REVIEWER_TEST_AGENT_TRACE`` records when each agent ran (JSON lines), for overlap checks.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from config.logging import configure_logging
from config.settings import load_settings
from reviewer.agents.registry import run_agent
from tasks.app import create_celery_app
from tasks.services import Services


class InjectedFault(RuntimeError):
    """Raised on purpose by a test."""


def _faults() -> dict[str, str]:
    spec = os.environ.get("REVIEWER_TEST_FAULTS", "")
    return dict(item.split("=", 1) for item in spec.split(";") if "=" in item)


def faulty_runner(name, snapshot):
    """The real agent, after the fault named for it; with ``REVIEWER_TEST_AGENT_TRACE`` set,
    each run appends ``{"head", "agent", "start", "end"}`` (one JSON line) to that file."""
    trace = os.environ.get("REVIEWER_TEST_AGENT_TRACE")
    if not trace:
        return _run_with_fault(name, snapshot)
    start = time.time()
    try:
        return _run_with_fault(name, snapshot)
    finally:
        line = json.dumps({"head": snapshot.head_sha, "agent": name, "start": start, "end": time.time()})
        with open(trace, "a") as out:
            out.write(line + "\n")


def _run_with_fault(name, snapshot):
    fault = _faults().get(name)
    if fault == "raise":
        raise InjectedFault(f"{name} agent broke on purpose")
    if fault == "crash":  # the worker process dies, as on an out-of-memory kill
        os._exit(1)
    if fault and fault.startswith("sleep:"):
        time.sleep(float(fault.split(":", 1)[1]))
    if fault and fault.startswith("sleep-once:"):
        marker = Path(os.environ["REVIEWER_TEST_FAULT_MARKER"])
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(float(fault.split(":", 1)[1]))
    if fault == "noop":
        from reviewer.payloads import AgentResult, AgentStatus

        return AgentResult(agent=name, status=AgentStatus.OK)
    return run_agent(name, snapshot)


def _build():
    settings = load_settings()
    configure_logging(settings)
    return create_celery_app(settings, services=Services(settings, agent_runner=faulty_runner))


def __getattr__(name: str):
    if name == "app":
        globals()["app"] = _build()
        return globals()["app"]
    raise AttributeError(name)

"""Orchestration overhead: webhook accepted → review posted, against the tasks' own run times.

Real parts: the Flask app over HTTP, Redis as broker and result backend, a real prefork
worker, the embedded Postgres + pgvector, the fake GitHub on loopback. The agents are
replaced by no-ops (``REVIEWER_TEST_FAULTS``), so what is left is the pipeline itself:
intake, the canvas' messages, the chord join, storage, and GitHub calls to a local fake.

    .venv/bin/python -m benchmarks.orchestration --prs 200

Per review: latency = from the 202 reaching the sender to the review POST reaching the fake
GitHub (one clock, this machine's); the tasks' own run times come from task_prerun/postrun in
the worker. Overhead = latency − critical path,
where the critical path is prepare + the slowest agent + generate_fixes + post_review.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis
from sqlalchemy import select

from config.settings import Settings
from reviewer.adapters.storage import AgentRun, Database, Review, ReviewStatus
from reviewer.webhooks import sign
from tests.fakes.github import FakeGitHub
from tests.pg import start_test_database
from tests.support.processes import ROOT, WorkerProcess
from tests.support.web import WebServer
from web.app import create_app

SECRET = "bench-secret"
REPO = "bench-org/service"


def payload(pr) -> bytes:
    owner, name = REPO.split("/")
    return json.dumps({
        "action": "opened", "number": pr.number,
        "pull_request": {
            "number": pr.number, "state": "open", "draft": False,
            "head": {"sha": pr.head_sha, "ref": pr.head_ref},
            "base": {"sha": pr.base_sha, "ref": pr.base_ref},
            "user": {"login": "dev", "type": "User"},
        },
        "repository": {"full_name": REPO, "name": name, "owner": {"login": owner}},
        "sender": {"login": "dev", "type": "User"},
    }).encode()


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between webhooks")
    parser.add_argument("--concurrency", type=int, default=4, help="worker processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="reviewer-bench-"))
    database_url = start_test_database(tmp)
    redis.Redis.from_url(args.redis_url).flushdb()
    with FakeGitHub(tokens={"bench-token"}) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWER_")}
        env.update(
            PYTHONPATH=str(ROOT), REVIEWER_DATABASE_URL=database_url, REVIEWER_REDIS_URL=args.redis_url,
            REVIEWER_GITHUB_API_URL=fake.url, REVIEWER_GITHUB_TOKEN="bench-token",
            REVIEWER_GITHUB_WEBHOOK_SECRET=SECRET, REVIEWER_STATE_DIR=str(tmp / "state"),
            REVIEWER_LOG_LEVEL="WARNING",
            REVIEWER_TEST_FAULTS="security=noop;performance=noop;quality=noop;architecture=noop",
        )
        worker = WorkerProcess(env, tmp / "worker.log", concurrency=args.concurrency, name="bench")
        worker.env = env
        worker_cmd_module = "benchmarks.timed_worker"
        _start(worker, worker_cmd_module)
        settings = Settings(
            database_url=database_url, redis_url=args.redis_url, github_api_url=fake.url,
            github_token="bench-token", github_webhook_secret=SECRET, state_dir=tmp / "state",
        )
        prs = [
            fake.add_pull_request_from_texts(
                REPO, n, {f"svc/mod{n}.py": ("x = 1\n", f"x = 1\ny = {n}\n")}
            )
            for n in range(1, args.prs + 1)
        ]
        try:
            with WebServer(create_app(settings)) as web, httpx.Client(timeout=10) as client:
                accept_ms = []
                accepted_at: dict[int, float] = {}
                for pr in prs:
                    body = payload(pr)
                    t0 = time.perf_counter()
                    response = client.post(f"{web.url}/webhooks/github", content=body, headers={
                        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
                        "Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET.encode(), body),
                    })
                    accept_ms.append((time.perf_counter() - t0) * 1000)
                    accepted_at[pr.number] = time.time()
                    if response.status_code != 202:
                        print(f"unexpected {response.status_code}: {response.text}", file=sys.stderr)
                        return 1
                    time.sleep(args.interval)
                db = Database(database_url)
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    with db.session() as s:
                        rows = s.scalars(select(Review)).all()
                        runs = s.execute(select(AgentRun.review_id, AgentRun.finished_at)).all()
                    if sum(r.status == ReviewStatus.POSTED for r in rows) == args.prs:
                        break
                    time.sleep(0.5)
                else:
                    print("not every review was posted in time", file=sys.stderr)
                    return 1
        finally:
            worker.stop()

    posted_at = {
        int(r.path.split("/")[-2]): r.received_at
        for r in fake.requests_to(r"/pulls/\d+/reviews$", method="POST")
    }
    client = redis.Redis.from_url(args.redis_url)
    latency, task_sum, critical, overhead = [], [], [], []
    for review in rows:
        entries = [json.loads(e) for e in client.lrange(f"bench:tasks:{review.id}", 0, -1)]
        by_task: dict[str, list[float]] = {}
        for e in entries:
            by_task.setdefault(e["task"], []).append(e["s"])
        # accepted = the 202 reached the sender; posted = the review POST reached GitHub
        lat = posted_at[review.pr_number] - accepted_at[review.pr_number]
        path = (sum(by_task.get("reviewer.prepare", [0])) + max(by_task.get("reviewer.run_agent", [0]))
                + sum(by_task.get("reviewer.generate_fixes", [0])) + sum(by_task.get("reviewer.post_review", [0])))
        latency.append(lat * 1000)
        task_sum.append(sum(e["s"] for e in entries) * 1000)
        critical.append(path * 1000)
        overhead.append((lat - path) * 1000)
    agents_done: dict[int, object] = {}
    for review_id, finished in runs:
        if finished and (review_id not in agents_done or finished > agents_done[review_id]):
            agents_done[review_id] = finished
    stages = {"to_prepare": [], "prepare_to_agents_done": [], "agents_done_to_posted": []}
    for review in rows:
        done = agents_done.get(review.id)
        if review.started_at and done:
            stages["to_prepare"].append((review.started_at - review.created_at).total_seconds() * 1000)
            stages["prepare_to_agents_done"].append((done - review.started_at).total_seconds() * 1000)
            stages["agents_done_to_posted"].append((review.posted_at - done).total_seconds() * 1000)
    figures = {
        "prs": args.prs,
        "interval_s": args.interval,
        "worker_processes": args.concurrency,
        "accept_ms": {"median": statistics.median(accept_ms), "p95": pct(accept_ms, 95)},
        "latency_ms": {"median": statistics.median(latency), "p95": pct(latency, 95)},
        "task_sum_ms": {"median": statistics.median(task_sum), "p95": pct(task_sum, 95)},
        "critical_path_ms": {"median": statistics.median(critical), "p95": pct(critical, 95)},
        "overhead_ms": {"median": statistics.median(overhead), "p95": pct(overhead, 95)},
        "stages_median_ms": {k: statistics.median(v) for k, v in stages.items() if v},
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _start(worker: WorkerProcess, module: str) -> None:
    """Start the worker process with the timing entrypoint instead of the test one."""
    import subprocess

    log = open(worker.log_path, "ab")  # noqa: SIM115 - the worker writes to it after we return
    worker.proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", module, "worker", "-Q", "default,llm",
         "-c", str(worker.concurrency), "--pool", "prefork", "-n", f"bench-{os.getpid()}@%h",
         "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        cwd=ROOT, env=worker.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    time.sleep(0.5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(worker.log_path.read_text()[-2000:])
        if _worker_ready(worker):
            return
        time.sleep(0.2)
    raise RuntimeError("worker did not start")


def _worker_ready(worker: WorkerProcess) -> bool:
    from celery import Celery

    probe = Celery(broker=worker.env["REVIEWER_REDIS_URL"])
    try:
        return bool(probe.control.ping(timeout=0.5))
    finally:
        probe.close()


if __name__ == "__main__":
    sys.exit(main())

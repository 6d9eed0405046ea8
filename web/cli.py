"""The ``reviewer`` command: review a local change, run the services, manage the database.

Lives in the outer layer beside the web app because, like it, it wires every layer together.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from config.settings import ConfigurationError, Settings, load_settings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
SEVERITIES = ("critical", "high", "medium", "low", "info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reviewer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    review = sub.add_parser("review", help="review a local change (git range or unified diff)")
    source = review.add_mutually_exclusive_group(required=True)
    source.add_argument("--repo", type=Path, help="a git repository (with --base and --head)")
    source.add_argument("--diff", metavar="FILE|-", help="a unified diff file, or - for stdin")
    review.add_argument("--base", help="base revision (with --repo)")
    review.add_argument("--head", default="HEAD", help="head revision (with --repo; default HEAD)")
    review.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    review.add_argument("--no-llm", action="store_true", help="static analysis only")
    review.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 when a finding is this severe or worse")
    review.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    review.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the review")

    replay = sub.add_parser("replay", help="review a stored review's snapshot again, locally")
    replay.add_argument("review_id", type=int)
    replay.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    replay.add_argument("--quiet", "-q", action="store_true")
    replay.add_argument("--timeout", type=float, default=600.0)

    web = sub.add_parser("web", help="serve the webhook endpoint, health, API (gunicorn)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--workers", type=int, default=2)

    worker = sub.add_parser("worker", help="a Celery worker for the review canvas")
    worker.add_argument("--queues", default="default,llm")
    worker.add_argument("--concurrency", type=int, default=None)

    sub.add_parser("beat", help="Celery beat (run exactly one): the sweeper and scheduled jobs")
    flower = sub.add_parser("flower", help="the Flower monitoring UI")
    flower.add_argument("--port", type=int, default=5555)

    from web.eval_command import add_eval_parser

    add_eval_parser(sub)

    report = sub.add_parser("report", help="build reports by hand")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    daily = report_sub.add_parser("daily", help="build, store and deliver a daily summary")
    daily.add_argument("--date", help="the UTC day, YYYY-MM-DD (default: yesterday)")
    daily.add_argument("--no-deliver", action="store_true", help="store only; send nothing")
    daily.add_argument("--format", choices=("markdown", "json"), default="markdown")

    db = sub.add_parser("db", help="database management")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"reviewer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from config.logging import configure_logging
    from web.eval_command import run_eval

    handlers = {
        "eval": run_eval,
        "review": _review,
        "replay": _replay,
        "web": _web,
        "worker": _worker,
        "beat": _beat,
        "flower": _flower,
        "db": _db,
        "report": _report,
    }
    if args.command in ("review", "replay", "eval"):
        configure_logging(settings.model_copy(update={"log_level": "WARNING", "log_json": False}))
    else:
        configure_logging(settings)
    try:
        return handlers[args.command](args, settings)
    except UsageError as exc:
        print(f"reviewer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


class UsageError(Exception):
    """A command line that cannot be carried out; printed without a traceback."""


def _review(args, settings: Settings) -> int:
    from reviewer.adapters.local_source import snapshot_from_diff, snapshot_from_git

    if args.repo is not None:
        if not args.base:
            raise UsageError("--repo needs --base (and optionally --head)")
        if not (args.repo / ".git").exists() and not (args.repo / "HEAD").exists():
            raise UsageError(f"{args.repo} is not a git repository")
        try:
            snapshot = snapshot_from_git(args.repo, args.base, args.head)
        except Exception as exc:
            raise UsageError(f"cannot read {args.base}..{args.head} in {args.repo}: {exc}") from exc
    else:
        if args.base:
            raise UsageError("--base goes with --repo, not --diff")
        try:
            text = sys.stdin.read() if args.diff == "-" else Path(args.diff).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {args.diff}: {exc.strerror}") from exc
        snapshot = snapshot_from_diff(text, repo_label=args.diff if args.diff != "-" else "stdin")
    return _run_local(snapshot, args, settings)


def _replay(args, settings: Settings) -> int:
    from reviewer.adapters.storage import repositories as repo
    from tasks.services import Services

    services = Services(settings)
    _migrate(services)
    with services.db.session() as s:
        snapshot = repo.load_snapshot(s, args.review_id)
    if snapshot is None:
        raise UsageError(f"review {args.review_id} has no stored snapshot")
    args.fail_on = None
    return _run_local(snapshot, args, settings, services=services)


def _migrate(services) -> None:
    from reviewer.adapters.storage import upgrade

    upgrade(services.database_url)


def _run_local(snapshot, args, settings: Settings, *, services=None) -> int:
    from reviewer.adapters.storage import ReviewStatus
    from reviewer.adapters.storage import repositories as repo
    from reviewer.agents.registry import analysed_suffixes
    from reviewer.merge import review_skip_notes
    from reviewer.render import render_json, render_markdown, render_text
    from tasks.canvas import dispatch_review
    from tasks.inprocess import create_local_app, running_worker
    from tasks.services import Services

    progress = _Progress(enabled=not args.quiet)
    if getattr(args, "no_llm", False) and settings.llm_enabled:
        settings = settings.model_copy(update={"openai_api_key": None})  # --no-llm: static only
    services = services or Services(settings)
    progress.say("starting (embedded Postgres)" if settings.database_url is None else "starting")
    _migrate(services)
    app = create_local_app(settings, services)
    with services.db.session() as s:
        review, _ = repo.get_or_create_review(
            s, source="local", repo=snapshot.repo, pr_number=None, head_sha=snapshot.head_sha,
            base_sha=snapshot.base_sha, installation_id=None, trigger="cli",
        )
        review_id = review.id
        repo.save_snapshot(s, review_id, snapshot)
    llm_state = (
        "static analysis only (--no-llm)" if getattr(args, "no_llm", False)
        else "static analysis only (no LLM configured)" if not settings.llm_enabled
        else f"LLM pass on (models: {settings.llm_model_security}, {settings.llm_model_quality})"
    )
    progress.say(f"review {review_id}: {len(snapshot.files)} file(s); {llm_state}")
    deadline = time.monotonic() + args.timeout
    with running_worker(app):
        dispatch_review(app, review_id)
        shown: set[str] = set()
        while True:
            with services.db.session() as s:
                status = repo.get_review(s, review_id).status
                results = repo.load_agent_results(s, review_id)
            for name, result in sorted(results.items()):
                if name not in shown:
                    shown.add(name)
                    progress.agent(result)
            if status in (ReviewStatus.COMPLETED, ReviewStatus.FAILED, ReviewStatus.CANCELLED):
                break
            if time.monotonic() > deadline:
                print(f"reviewer: review {review_id} did not finish in {args.timeout:g}s", file=sys.stderr)
                return EXIT_FAILED
            time.sleep(0.05)
    with services.db.session() as s:
        review = repo.get_review(s, review_id)
        results = repo.load_agent_results(s, review_id)
        findings = repo.load_findings(s, review_id)
        error = review.error
    if status == ReviewStatus.FAILED:
        print(f"reviewer: review {review_id} failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    skipped = review_skip_notes(snapshot, results.values(), analysed_suffixes())
    usage = {
        "review_id": review_id,
        "llm": any(r.mode == "llm" for r in results.values()),
        "tokens": sum(r.tokens for r in results.values()),
        "cost_usd": round(sum(r.cost_usd for r in results.values()), 6),
    }
    if args.format == "json":
        print(json.dumps(render_json(findings, results, usage, skipped=skipped), indent=2))
    elif args.format == "markdown":
        print(render_markdown(findings, results, skipped))
    else:
        print(render_text(findings, results, skipped))
    if getattr(args, "fail_on", None):
        from reviewer.findings import Severity

        threshold = Severity(args.fail_on).rank
        if any(f.severity.rank >= threshold for f in findings):
            return EXIT_FINDINGS
    return EXIT_OK


class _Progress:
    """One line per step on stderr, so stdout stays machine-readable."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"[{time.monotonic() - self.started:5.1f}s] {text}", file=sys.stderr, flush=True)

    def agent(self, result) -> None:
        mark = {"ok": "done", "failed": "FAILED", "timeout": "TIMED OUT"}.get(str(result.status), str(result.status))
        detail = f"{len(result.findings)} finding(s)" if str(result.status) == "ok" else (result.error or "")
        self.say(f"{result.agent:<13} {mark:<9} {result.duration_s:6.2f}s  {detail}")


def _web(args, settings: Settings) -> int:
    from gunicorn.app.base import BaseApplication

    from web.app import create_app

    flask_app = create_app(settings)

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("accesslog", "-")

        def load(self):
            return flask_app

    _Server().run()
    return EXIT_OK


def _celery(settings: Settings):
    from tasks.app import create_celery_app

    return create_celery_app(settings)


def _worker(args, settings: Settings) -> int:
    argv = ["worker", "--queues", args.queues, "--loglevel", settings.log_level]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    _celery(settings).worker_main(argv)
    return EXIT_OK


def _beat(args, settings: Settings) -> int:
    app = _celery(settings)
    schedule = Path(settings.state_dir) / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel", settings.log_level, "--schedule", str(schedule)])
    return EXIT_OK


def _flower(args, settings: Settings) -> int:
    _celery(settings).start(["flower", f"--port={args.port}"])
    return EXIT_OK


def _db(args, settings: Settings) -> int:
    from tasks.services import Services

    services = Services(settings)
    _migrate(services)
    print("database is at the latest migration", file=sys.stderr)
    return EXIT_OK


def _report(args, settings: Settings) -> int:
    from datetime import date

    from tasks.reports import report_day, run_daily_report
    from tasks.services import Services

    try:
        day = date.fromisoformat(args.date) if args.date else report_day()
    except ValueError:
        raise UsageError(f"--date {args.date!r} is not a date (YYYY-MM-DD)") from None
    services = Services(settings)
    _migrate(services)
    outcome = run_daily_report(services, day, deliver=not args.no_deliver)
    if args.format == "json":
        print(json.dumps({**outcome.report.model_dump(mode="json"), "delivery": outcome.delivery}, indent=2))
    else:
        from reviewer.reports import render_markdown

        print(render_markdown(outcome.report), end="")
    for channel, result in outcome.delivery.items():
        print(f"reviewer: {channel}: {result}", file=sys.stderr)
    return EXIT_FAILED if outcome.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

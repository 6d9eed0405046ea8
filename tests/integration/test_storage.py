"""Storage against a real Postgres + pgvector: migrations, idempotent writes, sweeper queries."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, pool, select, text, update
from sqlalchemy.orm import Session

from reviewer.adapters.storage import (
    Base,
    Database,
    Delivery,
    DeliveryStatus,
    PostedKind,
    Review,
    ReviewSource,
    ReviewStatus,
    current_revision,
    head_revision,
    resolve_database_url,
    upgrade,
)
from reviewer.adapters.storage import repositories as repo
from reviewer.adapters.storage.embedded import stop_embedded
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import AgentResult, AgentStatus, SkipNote
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot
from tests.pg import fresh_database, start_test_database, truncate_all

pytestmark = pytest.mark.integration

THREADS = 8


@pytest.fixture(scope="module")
def storage_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return start_test_database(tmp_path_factory.mktemp("pg"))


@pytest.fixture
def db(storage_url: str) -> Iterator[Database]:
    truncate_all(storage_url)
    database = Database(storage_url, pool_size=THREADS + 2)
    yield database
    database.dispose()


def github_review(s: Session, *, head_sha: str = "a" * 40, pr_number: int = 7, **kw: Any) -> Review:
    review, _ = repo.get_or_create_review(
        s,
        source=ReviewSource.GITHUB,
        repo=kw.pop("repo", "octo/app"),
        pr_number=pr_number,
        head_sha=head_sha,
        base_sha="b" * 40,
        installation_id=42,
        trigger="pull_request.opened",
    )
    return review


def race(fn: Callable[[], Any], n: int = THREADS) -> list[Any]:
    """Run ``fn`` in ``n`` threads released together; their results."""
    barrier = threading.Barrier(n)

    def run() -> Any:
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(n) as pool_:
        futures = [pool_.submit(run) for _ in range(n)]
        return [f.result(timeout=30) for f in futures]


def db_now(s: Session) -> datetime:
    return s.scalar(select(func.now()))


def age_review(s: Session, review_id: int, seconds: int) -> None:
    s.execute(
        update(Review)
        .where(Review.id == review_id)
        .values(updated_at=func.now() - timedelta(seconds=seconds))
    )


# --- migrations ---------------------------------------------------------------------------


def test_migrations_bring_a_fresh_database_to_head_with_pgvector(tmp_path: Path) -> None:
    url = fresh_database(tmp_path)
    assert current_revision(url) is None

    upgrade(url)

    assert head_revision() is not None
    assert current_revision(url) == head_revision()
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            assert (
                connection.scalar(
                    text("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
                )
                == 1
            )
            assert connection.scalar(text("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector")) == 2.0
            # The hand-written migration and the models describe the same schema.
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


def test_concurrent_upgrades_serialise_and_a_second_upgrade_is_a_no_op(tmp_path: Path) -> None:
    """Web and worker processes starting together both migrate; neither may fail."""
    url = fresh_database(tmp_path)
    script = "import sys; from reviewer.adapters.storage import upgrade; upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=60)[1] for p in processes]

    assert [p.returncode for p in processes] == [0, 0, 0], errors
    race(lambda: upgrade(url), n=3)  # and threads of one process
    assert current_revision(url) == head_revision()


# --- database handle ----------------------------------------------------------------------


def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with db.session() as s:
        repo.record_delivery(
            s,
            delivery_id="kept",
            event="ping",
            action=None,
            repo=None,
            pr_number=None,
            installation_id=None,
        )
    with pytest.raises(RuntimeError), db.session() as s:
        repo.record_delivery(
            s,
            delivery_id="lost",
            event="ping",
            action=None,
            repo=None,
            pr_number=None,
            installation_id=None,
        )
        raise RuntimeError("boom")

    with db.session() as s:
        assert set(s.scalars(select(Delivery.id))) == {"kept"}


def test_ping_tells_a_live_database_from_a_dead_one(db: Database, tmp_path: Path) -> None:
    assert db.ping() is True
    dead = Database(f"postgresql+psycopg://postgres@/postgres?host={tmp_path}", connect_timeout_s=1)
    try:
        assert dead.ping() is False
    finally:
        dead.dispose()


def test_resolve_database_url_normalises_a_given_url_without_starting_anything(
    tmp_path: Path,
) -> None:
    url = resolve_database_url("postgres://u:p%40ss@db.example:5432/reviewer", tmp_path)

    assert url == "postgresql+psycopg://u:p%40ss@db.example:5432/reviewer"
    assert not (tmp_path / "pgdata").exists()


def test_resolve_database_url_starts_the_embedded_server_once() -> None:
    # Not under tmp_path: pytest may prune that directory while the server runs in it.
    state_dir = Path(tempfile.mkdtemp(prefix="reviewer-state-"))
    try:
        url = resolve_database_url(None, state_dir)
        embedded = Database(url)
        try:
            assert url.startswith("postgresql+psycopg://")
            assert (state_dir / "pgdata" / "PG_VERSION").read_text().strip() == "18"
            assert resolve_database_url(None, state_dir) == url
            assert embedded.ping()
        finally:
            embedded.dispose()
            stop_embedded(state_dir)
        assert not embedded.ping()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


# --- deliveries ---------------------------------------------------------------------------


def record(s: Session, delivery_id: str = "d-1") -> tuple[Delivery, bool]:
    return repo.record_delivery(
        s,
        delivery_id=delivery_id,
        event="pull_request",
        action="opened",
        repo="octo/app",
        pr_number=7,
        installation_id=42,
    )


def test_a_redelivered_webhook_is_recorded_once(db: Database) -> None:
    with db.session() as s:
        first, created_first = record(s)
        repo.mark_delivery(s, "d-1", DeliveryStatus.IGNORED, reason="draft")
    with db.session() as s:
        again, created_again = record(s)

    assert (created_first, created_again) == (True, False)
    assert again.id == first.id == "d-1"
    assert again.status is DeliveryStatus.IGNORED and again.reason == "draft"


def test_concurrent_duplicate_deliveries_create_one_row(db: Database) -> None:
    def deliver() -> bool:
        with db.session() as s:
            return record(s, "racing")[1]

    created = race(deliver)

    assert sorted(created) == [False] * (THREADS - 1) + [True]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1


def test_mark_delivery_enqueued_stamps_time_and_counts_attempts(db: Database) -> None:
    with db.session() as s:
        review = github_review(s)
        delivery, _ = record(s)
        repo.mark_delivery(s, "d-1", DeliveryStatus.ENQUEUED, review_id=review.id)
        repo.mark_delivery(s, "d-1", DeliveryStatus.ENQUEUED)

    assert delivery.status is DeliveryStatus.ENQUEUED
    assert delivery.review_id == review.id
    assert delivery.attempts == 2
    assert delivery.enqueued_at is not None


def test_deliveries_to_resend_are_old_unenqueued_ones_with_a_review_and_budget(
    db: Database,
) -> None:
    with db.session() as s:
        review = github_review(s)
        for name in ("due", "fresh", "enqueued", "no-review", "spent", "due-later"):
            record(s, name)
        for name in ("due", "fresh", "enqueued", "spent", "due-later"):
            repo.mark_delivery(s, name, DeliveryStatus.RECEIVED, review_id=review.id)
        repo.mark_delivery(s, "enqueued", DeliveryStatus.ENQUEUED)
        for _ in range(3):
            repo.note_delivery_attempt(s, "spent", reason="broker down")
        ages = {"due": 600, "enqueued": 600, "no-review": 600, "spent": 600, "due-later": 300}
        for name, seconds in ages.items():
            s.execute(
                update(Delivery)
                .where(Delivery.id == name)
                .values(received_at=func.now() - timedelta(seconds=seconds))
            )
        cutoff = db_now(s) - timedelta(seconds=60)

    with db.session() as s:
        due = repo.deliveries_to_resend(s, older_than=cutoff, max_attempts=3)
        limited = repo.deliveries_to_resend(s, older_than=cutoff, max_attempts=3, limit=1)

    assert [d.id for d in due] == ["due", "due-later"]
    assert [d.id for d in limited] == ["due"]


# --- reviews ------------------------------------------------------------------------------


def test_one_github_review_per_head_sha_and_local_reviews_always_new(db: Database) -> None:
    with db.session() as s:
        first = github_review(s)
        same, created = repo.get_or_create_review(
            s,
            source="github",
            repo="octo/app",
            pr_number=7,
            head_sha="a" * 40,
            base_sha=None,
            installation_id=None,
            trigger="pull_request.synchronize",
        )
        newer = github_review(s, head_sha="c" * 40)
        local = [
            repo.get_or_create_review(
                s,
                source=ReviewSource.LOCAL,
                repo="/src/app",
                pr_number=None,
                head_sha="a" * 40,
                base_sha=None,
                installation_id=None,
                trigger="cli",
            )
            for _ in range(2)
        ]

    assert (same.id, created, same.trigger) == (first.id, False, "pull_request.opened")
    assert newer.id != first.id
    assert [created for _, created in local] == [True, True]
    assert len({first.id, newer.id, *(review.id for review, _ in local)}) == 4


def test_a_github_review_needs_a_head_sha(db: Database) -> None:
    with db.session() as s, pytest.raises(ValueError, match="head_sha"):
        repo.get_or_create_review(
            s,
            source="github",
            repo="octo/app",
            pr_number=7,
            head_sha=None,
            base_sha=None,
            installation_id=None,
            trigger="pull_request.opened",
        )


def test_concurrent_webhooks_for_one_head_sha_make_one_review(db: Database) -> None:
    def create() -> tuple[int, bool]:
        with db.session() as s:
            review, created = repo.get_or_create_review(
                s,
                source="github",
                repo="octo/app",
                pr_number=9,
                head_sha="f" * 40,
                base_sha=None,
                installation_id=1,
                trigger="pull_request.opened",
            )
            return review.id, created

    results = race(create)

    assert len({review_id for review_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (THREADS - 1) + [True]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 1


def test_a_review_insert_racing_an_uncommitted_one_returns_the_winner(db: Database) -> None:
    """The loser waits on the unique index, then finds the committed row, not an error."""
    pool_ = ThreadPoolExecutor(1)
    try:
        with db.session() as first_session:
            winner = github_review(first_session)
            loser = pool_.submit(_get_or_create_in_new_session, db)
            with pytest.raises(TimeoutError):
                loser.result(timeout=0.5)  # blocked until the first transaction ends
        assert loser.result(timeout=10) == (winner.id, False)
    finally:
        pool_.shutdown(wait=False, cancel_futures=True)


def _get_or_create_in_new_session(db: Database) -> tuple[int, bool]:
    with db.session() as s:
        review, created = repo.get_or_create_review(
            s,
            source="github",
            repo="octo/app",
            pr_number=7,
            head_sha="a" * 40,
            base_sha=None,
            installation_id=None,
            trigger="pull_request.synchronize",
        )
        return review.id, created


def test_status_changes_stamp_their_timestamps_and_stay_readable(db: Database) -> None:
    with db.session() as s:
        review = github_review(s)
        repo.note_dispatch(s, review.id)
        repo.set_review_status(s, review.id, ReviewStatus.RUNNING)
        repo.set_review_status(s, review.id, ReviewStatus.POSTED)
        repo.record_github_review(s, review.id, 987654321012)
        repo.set_review_status(s, review.id, ReviewStatus.FAILED, error="github said no")
        repo.set_review_status(s, review.id, ReviewStatus.COMPLETED)
        repo.save_summary(s, review.id, {"findings": 3, "skipped": ["quality"]})

    # Read after the session closed: refreshed values, not expired attributes.
    assert review.status is ReviewStatus.COMPLETED
    assert review.dispatch_attempts == 1
    assert None not in (review.queued_at, review.started_at, review.posted_at, review.finished_at)
    assert review.error == "github said no"
    assert review.github_review_id == 987654321012
    assert review.summary == {"findings": 3, "skipped": ["quality"]}
    with db.session() as s:
        locked = repo.lock_review(s, review.id)
        assert locked is not None and locked.status is ReviewStatus.COMPLETED
        assert repo.get_review(s, review.id + 1000) is None


def test_stuck_reviews_are_old_in_flight_github_reviews_with_budget(db: Database) -> None:
    with db.session() as s:
        expected = []
        for n, status in enumerate(
            (ReviewStatus.QUEUED, ReviewStatus.RUNNING, ReviewStatus.POSTING), start=1
        ):
            review = github_review(s, pr_number=n)
            repo.set_review_status(s, review.id, status)
            age_review(s, review.id, 3600 - n)  # oldest first: pr 1
            expected.append(review.id)
        decoys = []
        for n, status in enumerate(
            (
                ReviewStatus.PENDING,
                ReviewStatus.POSTED,
                ReviewStatus.COMPLETED,
                ReviewStatus.FAILED,
                ReviewStatus.CANCELLED,
            ),
            start=10,
        ):
            review = github_review(s, pr_number=n)
            repo.set_review_status(s, review.id, status)
            age_review(s, review.id, 3600)
            decoys.append(review.id)
        fresh = github_review(s, pr_number=20)
        repo.set_review_status(s, fresh.id, ReviewStatus.RUNNING)
        spent = github_review(s, pr_number=21)
        for _ in range(3):
            repo.note_dispatch(s, spent.id)
        age_review(s, spent.id, 3600)
        local, _ = repo.get_or_create_review(
            s,
            source="local",
            repo="/src",
            pr_number=None,
            head_sha=None,
            base_sha=None,
            installation_id=None,
            trigger="cli",
        )
        repo.set_review_status(s, local.id, ReviewStatus.RUNNING)
        age_review(s, local.id, 3600)
        cutoff = db_now(s) - timedelta(seconds=900)

    def stuck_ids(s: Session, **kw: Any) -> list[int]:
        return [r.id for r in repo.stuck_reviews(s, older_than=cutoff, max_attempts=3, **kw)]

    with db.session() as s:
        assert stuck_ids(s) == expected
        assert stuck_ids(s, limit=2) == expected[:2]
        # A re-dispatch counts against the budget and restarts the clock.
        repo.note_dispatch(s, expected[0])
        assert stuck_ids(s) == expected[1:]


def test_cancel_open_reviews_cancels_only_this_prs_unfinished_reviews(db: Database) -> None:
    with db.session() as s:
        pending = github_review(s, head_sha="1" * 40)
        running = github_review(s, head_sha="2" * 40)
        repo.set_review_status(s, running.id, ReviewStatus.RUNNING)
        posted = github_review(s, head_sha="3" * 40)
        repo.set_review_status(s, posted.id, ReviewStatus.POSTED)
        other_pr = github_review(s, head_sha="1" * 40, pr_number=8)

        assert repo.cancel_open_reviews(s, "octo/app", 7) == 2
        assert repo.cancel_open_reviews(s, "octo/app", 7) == 0

    assert pending.status is running.status is ReviewStatus.CANCELLED
    assert pending.finished_at is not None
    assert posted.status is ReviewStatus.POSTED
    assert other_pr.status is ReviewStatus.PENDING
    with db.session() as s:
        latest = repo.latest_review(s, "octo/app", 7)
        assert latest is not None and latest.id == posted.id


# --- content round trips ------------------------------------------------------------------


def test_snapshot_round_trips_and_is_replaced_on_save(db: Database) -> None:
    snapshot = PullRequestSnapshot(
        repo="octo/app",
        number=7,
        head_sha="a" * 40,
        title="Add the thing — with ünïcode",
        files=[
            ChangedFile(path="app/db.py", patch="@@ -1 +1 @@\n-a\n+b", head_content="b\n"),
            ChangedFile(path="logo.png", status=FileStatus.ADDED, skip_reason="binary"),
        ],
    )
    with db.session() as s:
        review = github_review(s)
        repo.save_snapshot(s, review.id, snapshot.model_copy(update={"title": "old"}))
        repo.save_snapshot(s, review.id, snapshot)
    with db.session() as s:
        assert repo.load_snapshot(s, review.id) == snapshot
        assert repo.load_snapshot(s, review.id + 1) is None


def finding(n: int, **changes: Any) -> Finding:
    data: dict[str, Any] = {
        "path": "app/db.py",
        "line": 10 + n,
        "end_line": 12 + n,
        "category": Category.SECURITY,
        "severity": Severity.HIGH,
        "rule": "sql-injection",
        "cwe": "CWE-89",
        "message": f"query {n} is built from user input",
        "confidence": 0.9,
        "suggestion": "cursor.execute(sql, params)",
        "source": "static:bandit",
        "fingerprint": f"fp-{n}",
    }
    data.update(changes)
    return Finding(**data)


def test_agent_results_round_trip_and_a_late_failure_never_replaces_a_success(
    db: Database,
) -> None:
    ok = AgentResult(
        agent="security",
        status=AgentStatus.OK,
        findings=[finding(1)],
        skipped=[SkipNote(path="logo.png", reason="binary")],
        duration_s=1.25,
        tokens=1200,
        cost_usd=0.0123,
        cache_hits=2,
        mode="llm",
    )
    failed = AgentResult(agent="security", status=AgentStatus.TIMEOUT, error="soft time limit")
    with db.session() as s:
        review = github_review(s)
        started = db_now(s)
        repo.save_agent_result(s, review.id, failed, started_at=started)
        repo.save_agent_result(s, review.id, ok)  # the retry succeeds: replaces the failure
        repo.save_agent_result(s, review.id, failed)  # a stale redelivery fails: ignored
        quality_failed = AgentResult(agent="quality", status=AgentStatus.FAILED, error="boom")
        repo.save_agent_result(s, review.id, quality_failed)

    with db.session() as s:
        assert repo.load_agent_results(s, review.id) == {"quality": quality_failed, "security": ok}
        assert repo.agent_statuses(s, review.id) == {"quality": "failed", "security": "ok"}
        run_started = s.scalar(text("SELECT started_at FROM agent_runs WHERE agent = 'security'"))
        assert run_started == started  # kept when a later save gives none


def test_findings_are_saved_once_per_fingerprint_and_load_in_order(db: Database) -> None:
    unfingerprinted = finding(3, fingerprint="", category=Category.PERFORMANCE, cwe=None)
    findings = [finding(2), finding(1), finding(1), unfingerprinted]
    with db.session() as s:
        review = github_review(s)
        other = github_review(s, head_sha="c" * 40)
        assert repo.save_findings(s, review.id, findings, agent_of={"fp-1": "quality"}) == 3
        assert repo.save_findings(s, review.id, findings) == 0
        assert repo.save_findings(s, other.id, [finding(1)]) == 1
        assert repo.save_findings(s, other.id, []) == 0

    with db.session() as s:
        loaded = repo.load_findings(s, review.id)
        agents = dict(
            s.execute(
                text("SELECT fingerprint, agent FROM findings WHERE review_id = :r"),
                {"r": review.id},
            ).all()
        )

    derived = repo.stored_fingerprint(unfingerprinted)
    assert loaded == [
        finding(2),
        finding(1),
        unfingerprinted.model_copy(update={"fingerprint": derived}),
    ]
    assert derived and repo.stored_fingerprint(loaded[2]) == derived
    assert agents == {"fp-2": "security", "fp-1": "quality", derived: "performance"}


def test_record_posted_is_idempotent_per_pr_kind_and_fingerprint(db: Database) -> None:
    with db.session() as s:
        review = github_review(s)
        for _ in range(2):
            repo.record_posted(
                s,
                review_id=review.id,
                repo="octo/app",
                pr_number=7,
                kind=PostedKind.INLINE,
                fingerprint="fp-1",
                github_id=111,
                path="app/db.py",
                line=11,
            )
        repo.record_posted(
            s,
            review_id=review.id,
            repo="octo/app",
            pr_number=7,
            kind="summary",
            fingerprint="fp-1",
            github_id=222,
        )
        repo.record_posted(
            s,
            review_id=review.id,
            repo="octo/app",
            pr_number=8,
            kind="inline",
            fingerprint="fp-2",
        )

    def record_again() -> None:
        with db.session() as s:
            repo.record_posted(
                s,
                review_id=review.id,
                repo="octo/app",
                pr_number=7,
                kind="inline",
                fingerprint="fp-3",
            )

    race(record_again)
    with db.session() as s:
        assert repo.posted_fingerprints(s, "octo/app", 7) == {"fp-1", "fp-3"}
        assert repo.posted_fingerprints(s, "octo/app", 7, kind="summary") == {"fp-1"}
        assert repo.posted_fingerprints(s, "octo/app", 8) == {"fp-2"}
        assert s.scalar(text("SELECT count(*) FROM posted_comments")) == 4

"""The learning loop's storage: feedback recorded once per GitHub object, counted per rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reviewer.adapters.storage import Database, LearningOverrideAction
from reviewer.adapters.storage import feedback as fb
from reviewer.adapters.storage import repositories as repo
from reviewer.feedback import FeedbackItem, Signal, Verdict
from tests.integration.test_storage import finding, github_review
from tests.pg import truncate_all

pytestmark = pytest.mark.integration


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    truncate_all(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def posted(s, review_id: int, n: int, **changes) -> None:
    """Save finding ``n`` on the review and record it as posted inline on PR 7."""
    repo.save_findings(s, review_id, [finding(n, **changes)])
    repo.record_posted(
        s, review_id=review_id, repo="octo/app", pr_number=7, kind="inline", fingerprint=f"fp-{n}"
    )


def item(n: int, verdict: Verdict, key: str, actor: str = "dev", **changes) -> FeedbackItem:
    return FeedbackItem(
        repo="octo/app", pr_number=7, fingerprint=f"fp-{n}", signal=changes.pop("signal", Signal.REACTION),
        verdict=verdict, source_key=key, actor=actor, **changes,
    )


def test_feedback_is_about_a_posted_finding_and_recorded_once_per_source(db: Database) -> None:
    with db.session() as s:
        review = github_review(s)
        posted(s, review.id, 1)
        repo.save_findings(s, review.id, [finding(2)])  # found, never posted
        assert fb.posted_finding(s, "octo/app", 7, "fp-2") is None
        assert fb.posted_finding(s, "octo/app", 8, "fp-1") is None
        row = fb.posted_finding(s, "octo/app", 7, "fp-1")
        assert row is not None and row.rule == "sql-injection"
        assert fb.record_feedback(s, item(1, Verdict.REJECTED, "reaction:1"), row, team="core", code="x = 1",
                                  embedding=[0.1] * 384)
        assert not fb.record_feedback(s, item(1, Verdict.REJECTED, "reaction:1"), row)

    with db.session() as s:
        [counts] = fb.rule_verdicts(s, repo="octo/app")
    assert (counts.rule, counts.rejected, counts.accepted, counts.dismissed) == ("sql-injection", 1, 0, 0)


def test_rule_verdicts_count_one_vote_per_person_finding_and_verdict_and_skip_retracted(db: Database) -> None:
    with db.session() as s:
        review = github_review(s)
        posted(s, review.id, 1)
        posted(s, review.id, 2)
        posted(s, review.id, 3, rule="yaml-load")
        one, two, three = (fb.posted_finding(s, "octo/app", 7, f"fp-{n}") for n in (1, 2, 3))
        # The same developer rejects fp-1 twice (reaction and reply): one rejection.
        fb.record_feedback(s, item(1, Verdict.REJECTED, "reaction:1"), one)
        fb.record_feedback(s, item(1, Verdict.REJECTED, "reply:9", signal=Signal.REPLY_COMMAND), one)
        fb.record_feedback(s, item(1, Verdict.REJECTED, "reaction:2", actor="other"), one)
        fb.record_feedback(s, item(2, Verdict.DISMISSED, "thread:5:resolved",
                                   signal=Signal.THREAD_RESOLVED_UNCHANGED), two)
        fb.record_feedback(s, item(3, Verdict.ACCEPTED, "applied:1:fp-3",
                                   signal=Signal.SUGGESTION_APPLIED, actor=None), three)
        fb.record_feedback(s, item(2, Verdict.REJECTED, "reaction:3"), two)
        assert fb.retract_feedback(s, "reaction:3")
        assert not fb.retract_feedback(s, "reaction:3")

    with db.session() as s:
        counts = {c.rule: c for c in fb.rule_verdicts(s)}
    assert (counts["sql-injection"].rejected, counts["sql-injection"].dismissed) == (2, 1)
    assert counts["sql-injection"].accepted == 0
    assert (counts["yaml-load"].accepted, counts["yaml-load"].rejected) == (1, 0)


def test_overrides_are_set_replaced_and_cleared(db: Database) -> None:
    with db.session() as s:
        fb.set_override(s, "octo/app", "sql-injection", LearningOverrideAction.SUPPRESS, by="lead")
        fb.set_override(s, "octo/app", "sql-injection", LearningOverrideAction.KEEP, by="lead", reason="real bugs")
    with db.session() as s:
        [override] = fb.overrides(s, "octo/app").values()
        assert (override.action, override.reason) == (LearningOverrideAction.KEEP, "real bugs")
        assert fb.clear_override(s, "octo/app", "sql-injection")
        assert not fb.clear_override(s, "octo/app", "sql-injection")
        assert fb.overrides(s, "octo/app") == {}

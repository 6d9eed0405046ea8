"""Incremental re-review: which earlier findings a push touched, fixed, or left open."""

from __future__ import annotations

from reviewer.findings import Category, Finding, Severity
from reviewer.incremental import fresh, plan_scope, resolved, restrict, still_open, touched_by_push
from reviewer.ports import PullRequestFile
from reviewer.snapshot import ChangedFile, PullRequestSnapshot


def _f(path: str, line: int, fp: str, end: int | None = None) -> Finding:
    return Finding(
        path=path, line=line, end_line=end, category=Category.SECURITY, severity=Severity.HIGH,
        rule="r", message="m", confidence=0.9, source="static:t", fingerprint=fp,
    )


# line 3 of the earlier head rewritten; a line added after line 8
PATCH = "@@ -1,4 +1,4 @@\n a\n b\n-c\n+C\n d\n@@ -8,1 +8,2 @@\n h\n+i"


def test_only_findings_on_rewritten_lines_or_removed_files_are_touched():
    earlier = [_f("a.py", 3, "on-c"), _f("a.py", 8, "on-h"), _f("a.py", 2, "span", end=4),
               _f("gone.py", 1, "gone"), _f("other.py", 1, "other")]
    compared = [
        PullRequestFile(filename="a.py", status="modified", patch=PATCH),
        PullRequestFile(filename="gone.py", status="removed"),
    ]
    assert touched_by_push(earlier, compared) == {"on-c", "span", "gone"}


def test_resolved_needs_touched_lines_and_absence_the_rest_stays_open():
    earlier = [_f("a.py", 3, "fixed"), _f("a.py", 2, "still-there", end=4), _f("b.py", 1, "elsewhere")]
    scope = plan_scope(
        since_sha="1" * 40, since_review_id=1, earlier_open=earlier,
        compared=[PullRequestFile(filename="a.py", status="modified", patch=PATCH)],
    )
    assert scope.paths == ["a.py"]
    now = [_f("a.py", 2, "still-there", end=4), _f("a.py", 9, "new")]
    assert [f.fingerprint for f in resolved(scope, now)] == ["fixed"]
    assert {f.fingerprint for f in still_open(scope, now)} == {"still-there", "new", "elsewhere"}
    assert resolved(None, now) == [] and still_open(None, now) == now


def test_fresh_drops_posted_fingerprints_and_restrict_keeps_scope_files():
    assert [f.fingerprint for f in fresh([_f("a.py", 1, "x"), _f("a.py", 2, "y")], {"x"})] == ["y"]
    snapshot = PullRequestSnapshot(repo="o/r", files=[ChangedFile(path="a.py"), ChangedFile(path="b.py")])
    scope = plan_scope(since_sha="1" * 40, since_review_id=1, earlier_open=[],
                       compared=[PullRequestFile(filename="a.py", status="modified", patch=PATCH)])
    assert [f.path for f in restrict(snapshot, scope).files] == ["a.py"]

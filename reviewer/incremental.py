"""Incremental re-review after a push: what to look at again, and which earlier findings it fixed.

A push to a reviewed pull request is reviewed only where it changed something since the last
reviewed head (GitHub's compare of the two SHAs), so developers are not shown the same
comments again. The agents see only those files; anchors still use the PR's own diff (the
snapshot keeps the PR's patches for the files it keeps). An earlier finding counts as fixed
("resolved") only when the push changed its lines AND it is no longer reported; any other
earlier finding keeps its state (open). Pure: callers fetch and store.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from reviewer.diff import parse_file_patch
from reviewer.findings import Finding
from reviewer.ports import PullRequestFile
from reviewer.snapshot import PullRequestSnapshot


class IncrementalScope(BaseModel):
    """What ``prepare`` decided for an incremental run (stored with the review).

    ``earlier_open`` are the PR's open findings before this run; ``touched`` the fingerprints
    of those whose lines the push changed (removed or rewrote), the only ones that may
    become resolved.
    """

    model_config = ConfigDict(extra="forbid")

    since_sha: str
    since_review_id: int
    paths: list[str] = []
    touched: list[str] = []
    earlier_open: list[Finding] = []
    # Head lines the push added or rewrote, per path (None: the whole file). The LLM looks
    # again only at code around these lines; a path missing here counts as wholly changed.
    changed: dict[str, list[int] | None] = {}


def changed_lines(entry: PullRequestFile) -> set[int] | None:
    """Lines of the earlier head (LEFT side) the push removed or rewrote; None = whole file
    (removed, renamed, or a change GitHub sends no patch for)."""
    if entry.status in ("removed", "renamed") or entry.patch is None:
        return None
    return parse_file_patch(entry.filename, entry.patch).removed_lines


def pushed_lines(entry: PullRequestFile) -> list[int] | None:
    """Head lines the push added, plus the head line where it removed lines without adding
    any (so the code around a pure deletion is looked at again); None = the whole file."""
    if entry.status in ("added", "renamed") or entry.patch is None:
        return None
    lines: set[int] = set()
    for hunk in parse_file_patch(entry.filename, entry.patch).hunks:
        after_removal, last = False, None
        for ln in hunk.lines:
            if ln.kind == "-":
                after_removal = True
                continue
            if ln.target_line and (ln.kind == "+" or after_removal):
                lines.add(ln.target_line)
            last, after_removal = ln.target_line or last, False
        if after_removal and last:  # removed at the end of the hunk
            lines.add(last)
    return sorted(lines)


def touched_by_push(earlier: Iterable[Finding], compared: list[PullRequestFile]) -> set[str]:
    """Fingerprints of earlier findings whose lines the push changed."""
    by_path: dict[str, set[int] | None] = {}
    for entry in compared:
        by_path[entry.filename] = changed_lines(entry)
        if entry.previous_filename:
            by_path[entry.previous_filename] = None  # renamed away: all of the old path changed
    touched: set[str] = set()
    for finding in earlier:
        if finding.path not in by_path:
            continue
        lines = by_path[finding.path]
        span = set(range(finding.line, finding.last_line + 1))
        if lines is None or span & lines:
            touched.add(finding.fingerprint)
    return touched


def plan_scope(
    *,
    since_sha: str,
    since_review_id: int,
    compared: list[PullRequestFile],
    earlier_open: list[Finding],
) -> IncrementalScope:
    """The scope of an incremental run from the compare of the last reviewed head and now."""
    paths = sorted({e.filename for e in compared if e.status != "removed"})
    return IncrementalScope(
        since_sha=since_sha,
        since_review_id=since_review_id,
        paths=paths,
        touched=sorted(touched_by_push(earlier_open, compared)),
        earlier_open=earlier_open,
        changed={e.filename: pushed_lines(e) for e in compared if e.status != "removed"},
    )


def restrict(snapshot: PullRequestSnapshot, scope: IncrementalScope) -> PullRequestSnapshot:
    """The snapshot with only the files the push changed (each with the PR's own patch)."""
    keep = set(scope.paths)
    return snapshot.model_copy(update={"files": [f for f in snapshot.files if f.path in keep]})


def resolved(scope: IncrementalScope | None, findings: Iterable[Finding]) -> list[Finding]:
    """Earlier findings this push fixed: lines changed, and not reported any more."""
    if scope is None:
        return []
    now = {f.fingerprint for f in findings}
    touched = set(scope.touched)
    return [f for f in scope.earlier_open if f.fingerprint in touched and f.fingerprint not in now]


def still_open(scope: IncrementalScope | None, findings: Iterable[Finding]) -> list[Finding]:
    """The PR's open findings after a run: this run's, plus earlier ones not resolved."""
    current = list(findings)
    if scope is None:
        return current
    gone = {f.fingerprint for f in resolved(scope, current)}
    seen = {f.fingerprint for f in current}
    carried = [f for f in scope.earlier_open if f.fingerprint not in gone | seen]
    return current + carried


def fresh(findings: Iterable[Finding], posted: set[str]) -> list[Finding]:
    """Findings not already posted inline on this PR (a fingerprint is posted at most once)."""
    return [f for f in findings if not f.fingerprint or f.fingerprint not in posted]

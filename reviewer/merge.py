"""Merges the agents' results: one list of findings, deduplicated across agents and ranked."""

from __future__ import annotations

from collections.abc import Iterable

from reviewer.findings import Finding
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus, SkipNote
from reviewer.snapshot import FileStatus, PullRequestSnapshot


def complete_results(
    received: Iterable[AgentResult], stored: dict[str, AgentResult]
) -> dict[str, AgentResult]:
    """One result per agent: the chord's (first wins, a redelivered duplicate is dropped),
    else what the agent stored, else a failed result saying none arrived."""
    results: dict[str, AgentResult] = {}
    for result in received:
        results.setdefault(result.agent, result)
    for name in AGENT_NAMES:
        if name not in results:
            results[name] = stored.get(name) or AgentResult(
                agent=name, status=AgentStatus.FAILED, error="no result reached the review"
            )
    return results


def merge_findings(results: Iterable[AgentResult]) -> list[Finding]:
    """All findings, worst first, one per fingerprint and one per (place, rule) across agents."""
    best: dict[tuple, Finding] = {}
    for result in results:
        for finding in result.findings:
            key = (finding.path, finding.line, finding.rule)
            kept = best.get(key)
            if kept is None or finding.sort_key() < kept.sort_key():
                best[key] = finding
    seen: set[str] = set()
    merged = []
    for finding in sorted(best.values(), key=Finding.sort_key):
        if finding.fingerprint and finding.fingerprint in seen:
            continue
        seen.add(finding.fingerprint)
        merged.append(finding)
    return merged


def skip_notes(results: Iterable[AgentResult], extra: Iterable[SkipNote] = ()) -> list[SkipNote]:
    """Every file something could not analyse, once per (path, reason)."""
    notes: dict[tuple[str, str], SkipNote] = {}
    for note in extra:
        notes.setdefault((note.path, note.reason), note)
    for result in results:
        for note in result.skipped:
            notes.setdefault((note.path, note.reason), note)
    return sorted(notes.values(), key=lambda n: (n.path, n.reason))


# Source code a reader would expect a code review to look at; docs, data and config files
# are not listed as "not analysed" (that would be noise on every PR that touches a README).
SOURCE_SUFFIXES = frozenset(
    [".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".go", ".java", ".kt", ".kts", ".scala", ".rb", ".php", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".swift", ".m", ".mm", ".sh", ".bash", ".lua", ".pl", ".ex", ".exs", ".erl", ".hs", ".clj", ".dart", ".r", ".sql", ".vue", ".svelte"]
)


def review_skip_notes(
    snapshot: PullRequestSnapshot, results: Iterable[AgentResult], analysed: frozenset[str]
) -> list[SkipNote]:
    """What the review must say it did not look at: files that could not be read, what the
    agents skipped, and files in a language no analyzer handles (``analysed`` = suffixes)."""
    notes = [SkipNote(path=f.path, reason=f.skip_reason) for f in snapshot.files if f.skip_reason]
    for changed in snapshot.files:
        if changed.skip_reason or changed.status == FileStatus.REMOVED:
            continue
        suffix = "." + changed.path.rsplit("/", 1)[-1].rpartition(".")[2].lower()
        if suffix in SOURCE_SUFFIXES and suffix not in analysed:
            notes.append(SkipNote(path=changed.path, reason="not analysed: no analyzer for this file type"))
    return skip_notes(results, notes)

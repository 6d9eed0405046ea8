"""Turns analyzers' raw hits into an agent's findings: filtered, deduplicated, fingerprinted, capped.

Pure functions over plain data, so each step is tested on its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from reviewer.analyzers.base import Hit, SourceFile
from reviewer.findings import Category, Finding, fingerprint_for, normalise_code
from reviewer.payloads import SkipNote


def on_changed_lines(hits: Iterable[Hit], sources: Mapping[str, SourceFile]) -> list[Hit]:
    """Hits whose ``line..end_line`` range contains a line the pull request adds or changes."""
    kept = []
    for hit in hits:
        source = sources.get(hit.finding.path)
        if source is not None and source.touches(hit.finding.line, hit.finding.last_line):
            kept.append(hit)
    return kept


def recategorise(hits: Iterable[Hit], category: Category) -> list[Hit]:
    """The agent owns its findings' category, whatever the engine's natural one."""
    return [
        hit
        if hit.finding.category == category
        else Hit(hit.finding.model_copy(update={"category": category}), hit.anchor)
        for hit in hits
    ]


def _same_problem(a: Finding, b: Finding) -> bool:
    if a.path != b.path or a.line > b.last_line or b.line > a.last_line:
        return False
    if a.source == b.source and a.rule == b.rule and a.message != b.message:
        return False  # one tool, one rule, two distinct things on a line (two unused imports)
    return a.rule == b.rule or (a.cwe is not None and a.cwe == b.cwe)


def _strength(finding: Finding) -> tuple[float, int]:
    return (finding.confidence, finding.severity.rank)


def deduplicate(hits: Iterable[Hit]) -> list[Hit]:
    """One hit per problem: same path, overlapping lines, same rule or CWE; the surer one wins."""
    by_path: dict[str, list[Hit]] = {}
    for hit in sorted(hits, key=lambda h: (h.finding.path, h.finding.line)):
        kept = by_path.setdefault(hit.finding.path, [])
        for index, other in enumerate(kept):
            if _same_problem(hit.finding, other.finding):
                if _strength(hit.finding) > _strength(other.finding):
                    kept[index] = hit
                break
        else:
            kept.append(hit)
    return [hit for kept in by_path.values() for hit in kept]


def fingerprint(hits: Iterable[Hit], sources: Mapping[str, SourceFile]) -> list[Finding]:
    """Findings with stable fingerprints: path, rule, category and the flagged code's text.

    The line number is not part of it, so inserting lines above a finding keeps its
    fingerprint; identical code flagged twice in a file is told apart by occurrence order.
    """
    lines_of = {path: source.lines() for path, source in sources.items()}
    seen: Counter[tuple[str, str, str]] = Counter()
    result = []
    for hit in sorted(hits, key=lambda h: (h.finding.path, h.finding.line, h.finding.rule)):
        finding = hit.finding
        if hit.anchor is not None:
            code = hit.anchor
        else:
            lines = lines_of.get(finding.path, [])
            code = "\n".join(lines[finding.line - 1 : finding.last_line])
        key = (finding.path, finding.rule, normalise_code(code))
        occurrence = seen[key]
        seen[key] += 1
        stamp = fingerprint_for(
            path=finding.path,
            rule=finding.rule,
            category=str(finding.category),
            code=code,
            occurrence=occurrence,
        )
        result.append(finding.model_copy(update={"fingerprint": stamp}))
    return result


def rank_and_cap(
    findings: Iterable[Finding], *, per_file: int, per_pr: int, agent: str
) -> tuple[list[Finding], list[SkipNote]]:
    """Worst first; at most ``per_file`` per file and ``per_pr`` in all; a note per trimmed file."""
    kept: list[Finding] = []
    per_path: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for finding in sorted(findings, key=Finding.sort_key):
        if per_path[finding.path] >= per_file or len(kept) >= per_pr:
            dropped[finding.path] += 1
            continue
        per_path[finding.path] += 1
        kept.append(finding)
    notes = [
        SkipNote(
            path=path,
            reason=f"{count} more {agent} finding(s) not shown "
            f"(limits: {per_file} per file, {per_pr} per pull request)",
        )
        for path, count in sorted(dropped.items())
    ]
    return kept, notes

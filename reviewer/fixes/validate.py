"""Checks a fix before it is offered: the fixed file parses, and the linters see nothing new.

The linters are the ruff rules the agents run. Each candidate is linted before and after
(all in one ruff process) and the problems on the touched lines are compared: a fix may
remove problems there, never add one. A linter that cannot run fails every candidate:
without the check, a fix is not offered.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reviewer.analyzers.base import SourceFile
from reviewer.fixes.source import Fix, apply_fix

#: ``[(path, text), ...]`` → per text, the ``(first line, last line, rule)`` of each problem,
#: or None for a text the linter could not check.
Linter = Callable[[Sequence[tuple[str, str]]], list[list[tuple[int, int, str]] | None]]


@dataclass(frozen=True)
class Candidate:
    path: str
    text: str  # the head file before the fix
    fix: Fix


def ruff_linter(binary: str | None = None) -> Linter:
    """The quality and performance agents' ruff rules as a :data:`Linter`."""
    from reviewer.analyzers.ruff_check import RuffAnalyzer
    from reviewer.analyzers.ruff_rules import PERFORMANCE_RULES, QUALITY_IGNORE, QUALITY_RULES
    from reviewer.findings import Category

    analyzer = RuffAnalyzer(
        "ruff-fix-check",
        category=Category.QUALITY,
        rules={**QUALITY_RULES, **PERFORMANCE_RULES},
        ignore=QUALITY_IGNORE,
        binary=binary,
    )

    def lint(texts: Sequence[tuple[str, str]]) -> list[list[tuple[int, int, str]] | None]:
        # Each text under its own label (same basename: some rules care about it).
        sources = [
            SourceFile(path=f"{i}/{path}", text=text, changed_lines=frozenset())
            for i, (path, text) in enumerate(texts)
        ]
        output = analyzer.analyze_all(sources)
        failed = {note.path for note in output.skipped}
        found: dict[str, list[tuple[int, int, str]]] = {s.path: [] for s in sources}
        for hit in output.hits:
            f = hit.finding
            found.setdefault(f.path, []).append((f.line, f.last_line, f.rule))
        return [None if s.path in failed else found[s.path] for s in sources]

    return lint


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _on(problems: list[tuple[int, int, str]], first: int, last: int) -> Counter[str]:
    return Counter(rule for a, b, rule in problems if a <= last and b >= first)


def validate(candidates: Sequence[Candidate], linter: Linter) -> list[bool]:
    """Whether each candidate fix may be offered as a committable suggestion."""
    results = [False] * len(candidates)
    fixed = [apply_fix(c.text, c.fix) for c in candidates]
    checkable = [i for i, c in enumerate(candidates) if parses(fixed[i])]
    if not checkable:
        return results
    befores = sorted({(candidates[i].path, candidates[i].text) for i in checkable})
    texts = befores + [(candidates[i].path, fixed[i]) for i in checkable]
    try:
        linted = linter(texts)
    except Exception:  # noqa: BLE001 - a linter that breaks offers nothing: the fixes stay advice
        return results
    before_of = dict(zip(befores, linted[: len(befores)], strict=True))
    for i, after in zip(checkable, linted[len(befores) :], strict=True):
        c = candidates[i]
        before = before_of[(c.path, c.text)]
        if before is None or after is None:
            continue
        new_last = c.fix.line + max(c.fix.new_line_count, 1) - 1
        first_after = c.fix.line if c.fix.new_line_count else max(c.fix.line - 1, 1)
        added = _on(after, first_after, new_last) - _on(before, c.fix.line, c.fix.end_line)
        results[i] = not added
    return results

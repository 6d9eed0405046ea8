"""LLM findings → core Findings, on head lines validated against what the model was shown.

The model's output is untrusted: a path must be one of the chunk's files, the line must be a
line the PR added inside a unit the model saw (or a range containing one), a CWE must look
like one. Anything else is dropped and counted, never "fixed up" into a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reviewer.findings import Category, Finding, Severity, fingerprint_for
from reviewer.llm.schema import LLMFinding
from reviewer.llm.selection import Unit

_CWE = re.compile(r"CWE-\d+")
_RULE = re.compile(r"[^a-z0-9]+")


def _rule(text: str) -> str:
    return _RULE.sub("-", text.lower()).strip("-")[:60] or "llm-finding"


def map_findings(
    answers: Sequence[LLMFinding],
    units: Sequence[Unit],
    *,
    category: Category,
    model: str,
    static: Sequence[Finding] = (),
) -> tuple[list[Finding], int]:
    """``(findings, dropped)``: those anchored on added lines the model saw, not already known."""
    by_path: dict[str, list[Unit]] = {}
    for unit in units:
        by_path.setdefault(unit.path, []).append(unit)
    out: list[Finding] = []
    dropped = 0
    seen: dict[tuple[str, str, str], int] = {}
    for answer in answers:
        unit_list = by_path.get(answer.path)
        placed = _place(answer, unit_list) if unit_list else None
        if placed is None:
            dropped += 1
            continue
        unit, line, end_line = placed
        rule = _rule(answer.rule)
        if _already_known(answer.path, line, end_line, rule, answer.cwe, static):
            dropped += 1
            continue
        code = unit.lines[line - unit.start]
        occurrence_key = (answer.path, rule, code.strip())
        occurrence = seen.get(occurrence_key, 0)
        seen[occurrence_key] = occurrence + 1
        cwe = answer.cwe.strip().upper() if answer.cwe else None
        out.append(
            Finding(
                path=answer.path,
                line=line,
                end_line=end_line,
                category=category,
                severity=Severity(answer.severity),
                rule=rule,
                cwe=cwe if cwe and _CWE.fullmatch(cwe) else None,
                message=answer.message.strip() or rule,
                confidence=round(answer.confidence, 3),
                suggestion=answer.suggestion if end_line is None or end_line <= unit.end else None,
                source=f"llm:{model}",
                fingerprint=fingerprint_for(
                    path=answer.path, rule=rule, category=category.value, code=code, occurrence=occurrence
                ),
            )
        )
    return out, dropped


def _place(answer: LLMFinding, units: list[Unit]) -> tuple[Unit, int, int | None] | None:
    last = answer.end_line if answer.end_line and answer.end_line >= answer.line else answer.line
    for unit in units:
        in_range = [n for n in sorted(unit.added) if answer.line <= n <= last]
        if not in_range:
            continue
        line = answer.line if answer.line in unit.added else in_range[0]
        end_line = min(last, unit.end) if last > line else None
        return unit, line, end_line
    return None


def _already_known(
    path: str, line: int, end_line: int | None, rule: str, cwe: str | None, static: Sequence[Finding]
) -> bool:
    """A static finding on overlapping lines with the same rule or CWE says the same thing."""
    last = end_line or line
    for f in static:
        if f.path != path or f.last_line < line or f.line > last:
            continue
        if f.rule == rule or (cwe and f.cwe and f.cwe == cwe.upper()):
            return True
    return False

"""The matching rule: which findings are true positives, false positives, duplicates, unjudged.

The rule (``shared/eval/README.md``), implemented here independently:

1. only findings on lines the pull request added or changed count;
2. a finding of the case's category on a label's path within the label's tolerance (3 lines,
   1 around regions) is a true positive; each label takes at most one finding, pairs are
   taken nearest first (ties: label order, then finding order);
3. any other finding of the case's category is a duplicate when near a (necessarily already
   matched) label, a false positive on a known-clean line (±1) or anywhere in an exhaustive
   case, else unjudged. Findings of other categories are not scored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self

from reviewer.evaluation.truth import CATEGORIES, CLEAN_TOLERANCE, DEFAULT_TOLERANCE, CaseTruth

# A finding claiming a span longer than this is judged by its first line only, so one huge
# range cannot touch every changed line of a file.
MAX_SPAN = 500

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class Verdict(StrEnum):
    TP = "tp"
    FP = "fp"
    DUPLICATE = "dup"
    UNJUDGED = "unjudged"


@dataclass(frozen=True)
class ScoredFinding:
    """The part of a finding the rule looks at."""

    path: str
    line: int
    category: str
    end_line: int | None = None
    cwe: str | None = None

    @property
    def last_line(self) -> int:
        return (
            self.end_line if self.end_line is not None and self.end_line >= self.line else self.line
        )

    @classmethod
    def from_json(cls, item: Mapping) -> ScoredFinding:
        """From a DESIGN §3 finding object (extra keys ignored)."""
        path = str(item.get("path") or "").replace("\\", "/")
        while path.startswith("./"):
            path = path[2:]
        end = item.get("end_line")
        return cls(
            path=path,
            line=int(item["line"]),
            category=str(item.get("category", "")).strip().lower(),
            end_line=int(end) if end not in (None, "") else None,
            cwe=item.get("cwe"),
        )


@dataclass
class Counts:
    """Tallies for one case or one aggregate; ``fn`` is labels left unmatched."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    dup: int = 0
    unjudged: int = 0
    other_category: int = 0

    @property
    def labels(self) -> int:
        return self.tp + self.fn

    def __iadd__(self, other: Counts) -> Self:
        for name in ("tp", "fn", "fp", "dup", "unjudged", "other_category"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def as_dict(self) -> dict[str, int]:
        return {
            "tp": self.tp,
            "fn": self.fn,
            "fp": self.fp,
            "dup": self.dup,
            "unjudged": self.unjudged,
            "other_category": self.other_category,
        }


@dataclass
class CaseScore:
    """The counts of one case and the verdict on each finding of its category (in order)."""

    counts: Counts
    verdicts: list[tuple[ScoredFinding, Verdict]] = field(default_factory=list)


def parse_added_lines(diff_text: str) -> dict[str, frozenset[int]]:
    """Head-side line numbers each file gained, from ``git diff -U0`` output.

    Files with no added line (pure deletions) map to an empty set; deleted files are absent.
    Only a ``+++`` line directly after a ``---`` line is a header, so an added line that
    happens to start with ``++`` is not mistaken for one.
    """
    lines: dict[str, set[int]] = {}
    path: str | None = None
    previous = ""
    for text in diff_text.splitlines():
        if text.startswith("+++ ") and previous.startswith("--- "):
            name = text[4:].strip()
            path = None if name == "/dev/null" else name.removeprefix("b/")
            if path is not None:
                lines.setdefault(path, set())
        elif text.startswith("@@") and path is not None:
            match = _HUNK.match(text)
            if match:
                start = int(match.group(1))
                count = 1 if match.group(2) is None else int(match.group(2))
                lines[path].update(range(start, start + count))
        previous = text
    return {name: frozenset(numbers) for name, numbers in lines.items()}


def touches_changed(finding: ScoredFinding, changed: Mapping[str, Iterable[int]]) -> bool:
    """True when any line of the finding's span is one the pull request added or changed."""
    lines = changed.get(finding.path)
    if not lines:
        return False
    first, last = finding.line, finding.last_line
    if last - first > MAX_SPAN:
        last = first
    lines = lines if isinstance(lines, (set, frozenset)) else set(lines)
    return any(n in lines for n in range(first, last + 1))


def filter_on_changed(
    findings: Iterable[ScoredFinding], changed: Mapping[str, Iterable[int]]
) -> list[ScoredFinding]:
    return [f for f in findings if touches_changed(f, changed)]


def gap(first: int, last: int, other_first: int, other_last: int, tolerance: int) -> int | None:
    """Lines between two spans (0 when they overlap), or None when farther than ``tolerance``."""
    if last < other_first - tolerance or first > other_last + tolerance:
        return None
    if last < other_first:
        return other_first - last
    if first > other_last:
        return first - other_last
    return 0


def judge_case(
    truth: CaseTruth,
    findings: Iterable[ScoredFinding],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    max_tolerance: int | None = None,
) -> CaseScore:
    """Judge a case's findings (already limited to changed lines) against its truth.

    ``tolerance`` applies to labels without their own; ``max_tolerance`` caps every label's
    (1 gives the strict variant).
    """
    findings = list(findings)
    mine = [f for f in findings if f.category == truth.category]
    labels = truth.labels

    def window(index: int) -> int:
        own = labels[index].tolerance(tolerance)
        return own if max_tolerance is None else min(own, max_tolerance)

    def distance(finding: ScoredFinding, index: int) -> int | None:
        label = labels[index]
        if finding.path != label.path:
            return None
        return gap(finding.line, finding.last_line, label.line, label.last_line, window(index))

    candidates = sorted(
        (d, li, fi)
        for li in range(len(labels))
        for fi, finding in enumerate(mine)
        if (d := distance(finding, li)) is not None
    )
    matched_labels: set[int] = set()
    matched_findings: set[int] = set()
    for _, li, fi in candidates:
        if li not in matched_labels and fi not in matched_findings:
            matched_labels.add(li)
            matched_findings.add(fi)

    counts = Counts(
        tp=len(matched_labels),
        fn=len(labels) - len(matched_labels),
        other_category=sum(1 for f in findings if f.category in CATEGORIES) - len(mine),
    )
    verdicts = []
    for fi, finding in enumerate(mine):
        verdict = _verdict(truth, finding, fi in matched_findings, distance)
        if verdict is Verdict.FP:
            counts.fp += 1
        elif verdict is Verdict.DUPLICATE:
            counts.dup += 1
        elif verdict is Verdict.UNJUDGED:
            counts.unjudged += 1
        verdicts.append((finding, verdict))
    return CaseScore(counts=counts, verdicts=verdicts)


def _verdict(truth: CaseTruth, finding: ScoredFinding, matched: bool, distance) -> Verdict:
    if matched:
        return Verdict.TP
    # Unmatched yet within a label's window: the greedy pass gave that label a nearer finding.
    if any(distance(finding, li) is not None for li in range(len(truth.labels))):
        return Verdict.DUPLICATE
    on_clean_line = any(
        clean.path == finding.path
        and gap(finding.line, finding.last_line, clean.line, clean.last_line, CLEAN_TOLERANCE)
        is not None
        for clean in truth.negatives
    )
    if on_clean_line or truth.exhaustive:
        return Verdict.FP
    return Verdict.UNJUDGED

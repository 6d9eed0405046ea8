"""What every analyzer takes and returns, and the interface it implements."""

from __future__ import annotations

import ast
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import SkipNote


@dataclass(frozen=True)
class SourceFile:
    """One head-side file ready for analysis: decoded text that parses, and its changed lines.

    ``tree`` is the module's AST when the caller already parsed it (the agents parse each file
    once and share the tree between analyzers; analyzers must not mutate it).
    """

    path: str
    text: str
    changed_lines: frozenset[int]
    tree: ast.Module | None = field(default=None, compare=False, repr=False)

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix.lower()

    def syntax_tree(self) -> ast.Module:
        """The parsed module (raises SyntaxError; the agents check parsing before analyzers run)."""
        return self.tree if self.tree is not None else ast.parse(self.text, filename=self.path)

    def lines(self) -> list[str]:
        """The text split the way git and the ast module number lines (on ``\\n``)."""
        return split_lines(self.text)

    def touches(self, first: int, last: int) -> bool:
        """Whether any line in ``first..last`` is one the pull request adds or changes."""
        if last - first < len(self.changed_lines):
            return any(n in self.changed_lines for n in range(first, last + 1))
        return any(first <= n <= last for n in self.changed_lines)


def split_lines(text: str) -> list[str]:
    """Lines numbered like git does: split on LF only, a CR before it dropped.

    ``str.splitlines`` would also split on form feeds and Unicode separators and shift every
    line number after them.
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


@dataclass(frozen=True)
class Hit:
    """A finding as an analyzer reports it, before the agent filters and fingerprints it.

    ``anchor`` is the code the fingerprint is built from when the flagged range is not the
    finding's identity (e.g. a whole function for a complexity finding: editing its body must
    not make it a "new" finding); None means the text of ``line..end_line``.
    """

    finding: Finding
    anchor: str | None = None


@dataclass
class AnalyzerOutput:
    """Findings plus notes on what could not be analysed; analyzers return this, never raise."""

    hits: list[Hit] = field(default_factory=list)
    skipped: list[SkipNote] = field(default_factory=list)

    def extend(self, other: AnalyzerOutput) -> None:
        self.hits.extend(other.hits)
        self.skipped.extend(other.skipped)

    @property
    def findings(self) -> list[Finding]:
        return [hit.finding for hit in self.hits]


class Analyzer(ABC):
    """One static engine. Subclasses set ``name``/``languages``/``tool`` and implement ``analyze``.

    ``analyze_all`` exists so that engines with a costly start (a subprocess, a plugin manager)
    pay it once per agent run rather than once per file; the default just loops and stops at
    the deadline, leaving a skip note for each file it did not reach.
    """

    name: str
    tool: str
    languages: frozenset[str] = frozenset({".py", ".pyi"})

    @property
    def source(self) -> str:
        """The ``source`` field of this analyzer's findings."""
        return f"static:{self.tool}"

    def handles(self, path: str) -> bool:
        return PurePosixPath(path).suffix.lower() in self.languages

    def quality_finding(
        self,
        source: SourceFile,
        first: int,
        last: int,
        rule: str,
        severity: Severity,
        confidence: float,
        message: str,
    ) -> Finding:
        """A quality finding of this analyzer on ``first``..``last`` of ``source`` (the one
        place the quality engines build their findings)."""
        return Finding(
            path=source.path,
            line=first,
            end_line=last if last > first else None,
            category=Category.QUALITY,
            severity=severity,
            rule=rule,
            message=message,
            confidence=confidence,
            source=self.source,
        )

    @abstractmethod
    def analyze(self, source: SourceFile) -> AnalyzerOutput: ...

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        """Analyse several files; ``deadline`` is a ``time.monotonic()`` value."""
        output = AnalyzerOutput()
        for index, source in enumerate(sources):
            if deadline is not None and time.monotonic() > deadline:
                output.skipped.extend(self.timed_out(sources[index:]))
                break
            output.extend(self.analyze(source))
        return output

    def timed_out(self, sources: Sequence[SourceFile]) -> list[SkipNote]:
        return [
            SkipNote(path=source.path, reason=f"{self.name}: stopped at its time limit")
            for source in sources
        ]

"""Quality findings from radon: functions the pull request touches that are too complex or long.

Only functions overlapping a changed line are reported: a PR that edits one line of a legacy
function is told about it (it chose to work there), a PR elsewhere in the file is not.
The finding spans the whole function; its fingerprint is the function's qualified name, so
editing the body does not turn it into a new finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Severity

COMPLEXITY_MEDIUM = 10  # above this: medium (McCabe's own suggested limit)
COMPLEXITY_HIGH = 20  # above this: high
MAX_FUNCTION_LINES = 60


class RadonAnalyzer(Analyzer):
    name = "radon"
    tool = "radon"

    def __init__(
        self,
        *,
        complexity_medium: int = COMPLEXITY_MEDIUM,
        complexity_high: int = COMPLEXITY_HIGH,
        max_lines: int = MAX_FUNCTION_LINES,
    ) -> None:
        self.complexity_medium = complexity_medium
        self.complexity_high = complexity_high
        self.max_lines = max_lines

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        from radon.complexity import cc_visit_ast

        output = AnalyzerOutput()
        blocks = cc_visit_ast(source.syntax_tree())
        for function in _functions(blocks):
            first, last = function.lineno, max(function.endline, function.lineno)
            if not source.touches(first, last):
                continue
            name = function.fullname
            if function.complexity > self.complexity_medium:
                severity = (
                    Severity.HIGH if function.complexity > self.complexity_high else Severity.MEDIUM
                )
                output.hits.append(
                    self._hit(
                        source,
                        first,
                        last,
                        "high-complexity",
                        severity,
                        0.7,
                        name,
                        f"`{name}` has a cyclomatic complexity of {function.complexity} "
                        f"(limit {self.complexity_medium}); split it so each part can be "
                        "understood and tested on its own.",
                    )
                )
            length = last - first + 1
            if length > self.max_lines:
                output.hits.append(
                    self._hit(
                        source,
                        first,
                        last,
                        "long-function",
                        Severity.LOW,
                        0.6,
                        name,
                        f"`{name}` is {length} lines long (limit {self.max_lines}).",
                    )
                )
        return output

    def _hit(
        self,
        source: SourceFile,
        first: int,
        last: int,
        rule: str,
        severity: Severity,
        confidence: float,
        name: str,
        message: str,
    ) -> Hit:
        finding = self.quality_finding(source, first, last, rule, severity, confidence, message)
        return Hit(finding, anchor=f"function {name}")


def _functions(blocks) -> Iterator:
    """radon's functions and methods, closures included (classes themselves are skipped)."""
    from radon.visitors import Function

    pending = [block for block in blocks if isinstance(block, Function)]
    while pending:
        function = pending.pop()
        yield function
        pending.extend(function.closures)

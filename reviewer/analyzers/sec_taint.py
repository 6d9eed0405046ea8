"""Injection findings from the project's own taint tracker (request data reaching a dangerous call).

Runs ``sec_flow.FunctionWalk`` over every function and the module body. Confidence follows
what was proven: data traced from a request source to the sink is reported at 0.85-0.95; SQL
built by formatting from values of unknown origin is reported as a pattern at 0.6; sinks fed
only constants or sanitised values are not reported, and ``safe_sink_lines`` hands them to the
security agent so it can silence pattern tools (bandit) that flag the same line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.sec_flow import Flow, FunctionWalk, import_aliases
from reviewer.analyzers.sec_sinks import FAMILY, SQL_INJECTION
from reviewer.analyzers.sec_values import Val, const
from reviewer.findings import Category, Finding, Severity

_LOWER = {
    Severity.CRITICAL: Severity.HIGH,
    Severity.HIGH: Severity.MEDIUM,
    Severity.MEDIUM: Severity.LOW,
    Severity.LOW: Severity.LOW,
    Severity.INFO: Severity.INFO,
}
PATTERN_CONFIDENCE = 0.6


def module_flows(tree: ast.Module) -> list[Flow]:
    """Every sink reached in the module, with the state of the data that reaches it."""
    imports: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.update(import_aliases(node))
    modules = frozenset(name.split(".")[0] for name in imports.values())
    consts = _module_constants(tree)
    flows: list[Flow] = []
    walk = FunctionWalk(dict(imports), consts, modules)
    walk.run_module(tree.body)
    flows.extend(walk.flows)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            walk = FunctionWalk(dict(imports), consts, modules)
            walk.run_function(node)
            flows.extend(walk.flows)
    return flows


def _module_constants(tree: ast.Module) -> dict[str, Val]:
    """Module-level names bound exactly once to a literal (so a function can fold them)."""
    counts: dict[str, int] = {}
    values: dict[str, Val] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    counts[target.id] = counts.get(target.id, 0) + 1
                    if isinstance(node.value, ast.Constant):
                        values[target.id] = const(node.value.value)
    return {name: value for name, value in values.items() if counts[name] == 1}


def safe_sink_lines(flows: Iterable[Flow]) -> dict[int, set[str]]:
    """Line -> CWE families of sinks that only constant or sanitised data reaches."""
    safe: dict[int, set[str]] = {}
    risky: dict[int, set[str]] = {}
    for flow in flows:
        family = FAMILY.get(flow.sink.cwe, flow.sink.cwe)
        (safe if flow.state == "safe" else risky).setdefault(flow.line, set()).add(family)
    return {
        line: families - risky.get(line, set())
        for line, families in safe.items()
        if families - risky.get(line, set())
    }


def flow_finding(path: str, flow: Flow) -> Finding | None:
    sink = flow.sink
    severity = Severity(sink.severity)
    if flow.state == "tainted":
        confidence = min(0.95, max(0.5, flow.strength + 0.03))
        origin = f"request data (line {flow.origin})" if flow.origin else "request data"
        if flow.strength < 0.8:
            origin = f"user-controlled input (line {flow.origin})"
            severity = _LOWER[severity] if flow.strength < 0.65 else severity
    elif flow.state == "unknown" and sink is SQL_INJECTION:
        confidence = PATTERN_CONFIDENCE
        origin = "string formatting of values whose origin is not checked here"
        severity = _LOWER[severity]
    else:
        return None
    return Finding(
        path=path,
        line=flow.line,
        category=Category.SECURITY,
        severity=severity,
        rule=sink.rule,
        cwe=sink.cwe,
        message=sink.message.format(what=origin, call=flow.call),
        confidence=round(confidence, 2),
        source="static:reviewer-taint",
    )


class TaintAnalyzer(Analyzer):
    name = "taint"
    tool = "reviewer-taint"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        output = AnalyzerOutput()
        seen: set[tuple[int, str]] = set()
        for flow in module_flows(source.syntax_tree()):
            finding = flow_finding(source.path, flow)
            if finding is None or (finding.line, finding.rule) in seen:
                continue
            seen.add((finding.line, finding.rule))
            output.hits.append(Hit(finding))
        return output

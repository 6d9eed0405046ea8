"""The base of the JavaScript/TypeScript analyzers: rule table, eslint-disable comments, value kinds.

Each JS analyzer parses a file once (tree-sitter, see js_parser), runs its rules over the
tree and turns their matches into Hits. Rules are switched off where the developer said so
with an eslint directive naming the equivalent eslint rule (``// eslint-disable-next-line
no-eval``): like ``# nosec`` for bandit, that is a documented decision, not something to
argue about in every review.
"""

from __future__ import annotations

import re
import time
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.js_parser import (
    SUFFIXES,
    JsTree,
    callee_name,
    callee_object,
    end_line_of,
    line_of,
    parse,
    strip_wrappers,
)
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import SkipNote


@dataclass(frozen=True)
class JsRule:
    """How much one rule matters, and the eslint rule names that switch it off."""

    severity: Severity
    confidence: float
    cwe: str | None = None
    eslint: tuple[str, ...] = ()


class JsAnalyzer(Analyzer):
    """Parses each JS/TS file and runs ``check``; subclasses set ``rules`` and ``category``."""

    languages = SUFFIXES
    category: Category
    rules: dict[str, JsRule]

    @abstractmethod
    def check(self, tree: JsTree) -> Iterable[Hit]: ...

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        tree = parse(source)
        if tree is None:
            return AnalyzerOutput()
        directives = Directives.read(tree)
        hits = [
            hit
            for hit in self.check(tree)
            if not directives.disables(self.rules[hit.finding.rule].eslint, hit.finding.line)
        ]
        return AnalyzerOutput(hits=hits)

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        output = AnalyzerOutput()
        try:
            import tree_sitter  # noqa: F401 - an optional dependency until it is locked
        except ImportError:
            output.skipped.extend(
                SkipNote(path=source.path, reason=f"{self.name}: tree-sitter is not installed")
                for source in sources
            )
            return output
        for index, source in enumerate(sources):
            if deadline is not None and time.monotonic() > deadline:
                output.skipped.extend(self.timed_out(sources[index:]))
                break
            output.extend(self.analyze(source))
        return output

    def hit(
        self,
        tree: JsTree,
        node,
        rule: str,
        message: str,
        *,
        severity: Severity | None = None,
        confidence: float | None = None,
        anchor: str | None = None,
        suggestion: str | None = None,
        single_line: bool = False,
    ) -> Hit:
        spec = self.rules[rule]
        first = line_of(node)
        last = first if single_line else end_line_of(node)
        finding = Finding(
            path=tree.source.path,
            line=first,
            end_line=last if last > first else None,
            category=self.category,
            severity=severity or spec.severity,
            rule=rule,
            cwe=spec.cwe,
            message=message,
            confidence=spec.confidence if confidence is None else confidence,
            suggestion=suggestion,
            source=self.source,
        )
        return Hit(finding, anchor=anchor)


# --- eslint directives -------------------------------------------------------------------------

_DIRECTIVE = re.compile(
    r"^\s*eslint-disable(?P<kind>-next-line|-line)?(?:\s+(?P<rules>[^*]*?))?\s*(?:--.*)?$",
    re.DOTALL,
)


@dataclass(frozen=True)
class Directives:
    """The eslint-disable comments of a file: whole-file and per-line, with their rule lists.

    An empty rule list disables every rule. ``eslint-disable`` without a matching
    ``eslint-enable`` is treated as file-wide (the common use at the top of a file).
    """

    file_rules: frozenset[str] | None  # None: no file-wide directive; empty: all rules
    line_rules: dict[int, frozenset[str]]

    @classmethod
    def read(cls, tree: JsTree) -> Directives:
        file_rules: set[str] | None = None
        line_rules: dict[int, set[str]] = {}
        for comment in tree.comments():
            body = tree.text(comment)
            body = body[2:-2] if body.startswith("/*") else body[2:]
            match = _DIRECTIVE.match(body)
            if match is None:
                continue
            names = {n.strip() for n in (match["rules"] or "").split(",") if n.strip()}
            kind = match["kind"]
            if kind is None:
                if not names:
                    file_rules = set()  # every rule
                elif file_rules is None:
                    file_rules = names
                elif file_rules:
                    file_rules |= names
                continue
            line = line_of(comment) + (1 if kind == "-next-line" else 0)
            line_rules.setdefault(line, set()).update(names or {"*"})
        return cls(
            file_rules=frozenset(file_rules) if file_rules is not None else None,
            line_rules={line: frozenset(names) for line, names in line_rules.items()},
        )

    def disables(self, eslint_names: tuple[str, ...], line: int) -> bool:
        if self.file_rules is not None and (
            not self.file_rules or self.file_rules.intersection(eslint_names)
        ):
            return True
        names = self.line_rules.get(line)
        return names is not None and ("*" in names or bool(names.intersection(eslint_names)))


# --- what kind of value an expression is -------------------------------------------------------

_LITERAL_TYPES = frozenset(
    {"string", "number", "true", "false", "null", "undefined", "regex", "template_string"}
)


def is_constant(node) -> bool:
    """Whether the expression's value is fixed in the source (no input can reach it)."""

    node = strip_wrappers(node)
    if node is None:
        return False
    if node.type == "template_string":
        return all(
            is_constant(child.named_children[0]) if child.named_children else True
            for child in node.named_children
            if child.type == "template_substitution"
        )
    if node.type in _LITERAL_TYPES:
        return True
    if node.type == "identifier" and node.text == b"undefined":
        return True
    if node.type == "binary_expression":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        return left is not None and right is not None and is_constant(left) and is_constant(right)
    if node.type == "unary_expression":
        argument = node.child_by_field_name("argument")
        return argument is not None and is_constant(argument)
    return False


def is_built_string(node) -> bool:
    """Whether the expression builds a string from a variable part: a template with a
    non-constant substitution, ``+`` joining a string to a non-constant, or ``.concat(x)``."""

    node = strip_wrappers(node)
    if node is None or is_constant(node):
        return False
    if node.type == "template_string":
        return True
    if node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        if operator is None or operator.type != "+":
            return False
        parts = _plus_operands(node)
        return any(_is_stringish(part) for part in parts) and not all(map(is_constant, parts))
    return node.type == "call_expression" and callee_name(node) == "concat"


def literal_text(node) -> str:
    """The literal text pieces of a string expression (template fragments, ``+`` operands)."""

    node = strip_wrappers(node)
    if node is None:
        return ""
    if node.type in {"string", "template_string"}:
        return " ".join(
            child.text.decode("utf-8", "replace")
            for child in node.named_children
            if child.type == "string_fragment"
        )
    if node.type == "binary_expression":
        return " ".join(literal_text(part) for part in _plus_operands(node))
    if node.type == "call_expression":
        obj = callee_object(node)
        return literal_text(obj) if obj is not None else ""
    return ""


def _plus_operands(node) -> list:

    operands, pending = [], [node]
    while pending:
        current = strip_wrappers(pending.pop())
        operator = current.child_by_field_name("operator") if current is not None else None
        if (
            current is not None
            and current.type == "binary_expression"
            and operator is not None
            and operator.type == "+"
        ):
            pending.append(current.child_by_field_name("right"))
            pending.append(current.child_by_field_name("left"))
            continue
        if current is not None:
            operands.append(current)
    return operands


def _is_stringish(node) -> bool:
    return node.type in {"string", "template_string"}

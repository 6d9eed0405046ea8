"""Shared AST plumbing of the performance rules: import aliases, dotted names, loops, hits.

The performance analyzers read code the way a reviewer does, from names: ``httpx.Client``,
``Model.objects.filter``, ``session.query``. Names are resolved through the module's own
imports when there are any (``from httpx import Client`` makes ``Client`` mean
``httpx.Client``) and taken literally otherwise, because a diff often shows a function
without the imports at the top of its file.
"""

from __future__ import annotations

import ast
from abc import abstractmethod
from collections.abc import Iterator

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the qualified name it stands for, from every import in the module."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def qualified(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The dotted name with its first part resolved through the imports."""
    name = dotted(node)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    resolved = aliases.get(head, head)
    return f"{resolved}.{rest}" if rest else resolved


def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` that runs in the same scope (nested defs and lambdas skipped)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, SCOPES):
            stack.extend(ast.iter_child_nodes(current))


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def repeated_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a loop or comprehension that run once per iteration."""
    if isinstance(node, ast.For | ast.AsyncFor):
        return [*node.body]
    if isinstance(node, ast.While):
        return [node.test, *node.body]
    if isinstance(node, ast.DictComp):
        parts: list[ast.AST] = [node.key, node.value]
    elif isinstance(node, COMPREHENSIONS):
        parts = [node.elt]
    else:
        return []
    for index, generator in enumerate(node.generators):
        if index:
            parts.append(generator.iter)  # only the first iterable is evaluated once
        parts.extend(generator.ifs)
    return parts


def in_loop_nodes(scope: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
    """``(node, innermost loop)`` for every node of ``scope`` that runs once per iteration."""
    seen: set[int] = set()
    loops = [n for n in walk_scope(scope) if isinstance(n, LOOPS + COMPREHENSIONS)]
    # Innermost loops first, so each node is attributed to the loop closest to it.
    loops.sort(key=lambda n: (n.lineno, n.col_offset), reverse=True)
    for loop in loops:
        for part in repeated_parts(loop):
            for node in [part, *walk_scope(part)]:
                if id(node) not in seen:
                    seen.add(id(node))
                    yield node, loop


def annotation_name(annotation: ast.AST | None, aliases: dict[str, str]) -> str | None:
    """The one class an annotation names, seeing through ``Optional[X]`` and ``X | None``."""
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        members = _union_members(annotation)
        real = [m for m in members if not _is_none(m)]
        return annotation_name(real[0], aliases) if len(real) == 1 else None
    if isinstance(annotation, ast.Subscript):
        outer = qualified(annotation.value, aliases) or ""
        if outer.rsplit(".", 1)[-1] == "Optional":
            return annotation_name(annotation.slice, aliases)
        if outer.rsplit(".", 1)[-1] == "Union" and isinstance(annotation.slice, ast.Tuple):
            real = [m for m in annotation.slice.elts if not _is_none(m)]
            return annotation_name(real[0], aliases) if len(real) == 1 else None
        return None
    return qualified(annotation, aliases)


def _union_members(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union_members(node.left) + _union_members(node.right)
    return [node]


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


class PerfRuleAnalyzer(Analyzer):
    """An in-process AST analyzer of the performance agent; subclasses implement ``check``."""

    tool = "reviewer-perf"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        output = AnalyzerOutput()
        output.hits.extend(self.check(source, source.syntax_tree()))
        return output

    @abstractmethod
    def check(self, source: SourceFile, tree: ast.Module) -> list[Hit]:
        """The rule's hits in one parsed file."""

    def hit(
        self,
        source: SourceFile,
        node: ast.AST,
        *,
        rule: str,
        severity: Severity,
        confidence: float,
        message: str,
        cwe: str | None = None,
        anchor: str | None = None,
    ) -> Hit:
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        return Hit(
            Finding(
                path=source.path,
                line=line,
                end_line=end_line if end_line > line else None,
                category=Category.PERFORMANCE,
                severity=severity,
                rule=rule,
                cwe=cwe,
                message=message,
                confidence=confidence,
                source=self.source,
            ),
            anchor,
        )

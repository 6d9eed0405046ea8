"""Quality checks ruff does not have: unreachable code, unused private members, too many attributes.

Each is a pylint check (``unreachable``, ``unused-private-member``,
``too-many-instance-attributes``) rewritten on the standard ``ast`` module, because running
pylint itself costs seconds per PR (astroid inference) for three checks. They are written to
be certain rather than clever: a statement after ``return``/``raise``/``break``/``continue`` in
the same block can never run; a name-mangled ``__member`` can only be used inside its class,
so if the class never reads it nothing does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.qual_lint_config import LintSettings
from reviewer.findings import Severity

_TERMINAL = (ast.Return, ast.Raise, ast.Continue, ast.Break)
_BLOCK_FIELDS = ("body", "orelse", "finalbody")


class QualityAstAnalyzer(Analyzer):
    name = "quality-ast"
    tool = "quality-ast"

    def __init__(self, settings: LintSettings | None = None) -> None:
        self.settings = settings or LintSettings()

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        tree = source.syntax_tree()
        output = AnalyzerOutput()
        enabled = lambda name: not self.settings.is_disabled(name)
        if enabled("unreachable"):
            output.hits.extend(self._unreachable(source, tree))
        for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
            if enabled("unused-private-member"):
                output.hits.extend(self._unused_private(source, cls))
            if enabled("too-many-instance-attributes"):
                output.hits.extend(self._too_many_attributes(source, cls))
        return output

    def _unreachable(self, source: SourceFile, tree: ast.Module) -> Iterator[Hit]:
        for block in _blocks(tree):
            for index, statement in enumerate(block[:-1]):
                if isinstance(statement, _TERMINAL):
                    dead = block[index + 1 :]
                    first, last = dead[0].lineno, dead[-1].end_lineno or dead[-1].lineno
                    keyword = type(statement).__name__.lower()
                    yield self._hit(
                        source,
                        first,
                        last,
                        "unreachable",
                        Severity.MEDIUM,
                        0.9,
                        f"This code can never run: it follows a `{keyword}` in the same block. "
                        "Remove it, or move it before the jump if it was meant to run.",
                    )
                    break

    def _unused_private(self, source: SourceFile, cls: ast.ClassDef) -> Iterator[Hit]:
        defined: dict[str, ast.AST] = {}
        for statement in cls.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                if _is_private(statement.name):
                    defined.setdefault(statement.name, statement)
            else:
                for target in _assigned_names(statement):
                    if _is_private(target.id):
                        defined.setdefault(target.id, target)
        for node in ast.walk(cls):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and _is_private(node.attr)
            ):
                defined.setdefault(node.attr, node)
        if not defined:
            return
        used = _read_names(cls)
        for name, node in defined.items():
            if name in used:
                continue
            line = getattr(node, "lineno", cls.lineno)
            yield self._hit(
                source,
                line,
                line,
                "unused-private-member",
                Severity.LOW,
                0.85,
                f"`{cls.name}.{name}` is private (name-mangled) and never used inside the "
                "class, so nothing can use it: remove it or use it.",
            )

    def _too_many_attributes(self, source: SourceFile, cls: ast.ClassDef) -> Iterator[Hit]:
        attributes = {
            node.attr
            for method in cls.body
            if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in ast.walk(method)
            if isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        }
        limit = self.settings.max_attributes
        if len(attributes) > limit:
            yield Hit(
                self.quality_finding(
                    source,
                    cls.lineno,
                    cls.lineno,
                    "too-many-instance-attributes",
                    Severity.LOW,
                    0.7,
                    f"`{cls.name}` keeps {len(attributes)} instance attributes (limit {limit}); "
                    "group related ones into their own objects.",
                ),
                anchor=f"class {cls.name}",
            )

    def _hit(self, source: SourceFile, first: int, last: int, *args) -> Hit:
        return Hit(self.quality_finding(source, first, last, *args))


def _blocks(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    """Every statement list in the tree (bodies, else/finally blocks, handlers, match cases)."""
    for node in ast.walk(tree):
        for field in _BLOCK_FIELDS:
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _is_private(name: str) -> bool:
    return name.startswith("__") and not name.endswith("__")


def _assigned_names(statement: ast.stmt) -> Iterator[ast.Name]:
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                yield node


def _read_names(cls: ast.ClassDef) -> set[str]:
    """Names and attributes the class reads anywhere (a string mention counts, for getattr)."""
    used: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
            used.add(node.attr)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            used.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.update(
                word for word in node.value.replace(".", " ").split() if word.startswith("__")
            )
    return used

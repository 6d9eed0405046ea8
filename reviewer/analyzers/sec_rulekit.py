"""Shared plumbing for the security pattern rules: qualified call names, constants in scope.

The pattern rules (``sec_web``, ``sec_audit``) look at one call or assignment at a time; they
need the import-resolved name of a call and, for a variable argument, the string it was
assigned in the same function (or module) when that assignment is unambiguous.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from reviewer.analyzers.sec_ast import dotted, import_aliases
from reviewer.findings import Category, Finding, Severity


@dataclass(frozen=True)
class Rule:
    """One pattern rule's report: rule id, CWE, severity, confidence and message."""

    rule: str
    cwe: str
    severity: Severity
    confidence: float
    message: str


@dataclass
class Scope:
    """Import aliases of the module and simple constants per function (module ones as fallback)."""

    imports: dict[str, str]
    module_consts: dict[str, object]
    local_consts: dict[int, dict[str, object]] = field(default_factory=dict)
    tree: ast.Module | None = None

    def qualify(self, name: str) -> str:
        head, _, rest = name.partition(".")
        base = self.imports.get(head)
        if base is None:
            return name
        return f"{base}.{rest}" if rest else base

    def call_name(self, call: ast.Call) -> str:
        return self.qualify(dotted(call.func) or "")

    def constant(self, node: ast.expr | None, function: ast.AST | None) -> object:
        """The constant ``node`` stands for (a literal or a once-assigned name), else None."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.constant(e, function) for e in node.elts]
        if isinstance(node, ast.Name):
            local = self.local_consts.get(id(function), {}) if function is not None else {}
            if node.id in local:
                return local[node.id]
            return self.module_consts.get(node.id)
        return None


def constants_of(body: list[ast.stmt]) -> dict[str, object]:
    """Names assigned exactly once in ``body`` (not nested functions) to a literal."""
    values: dict[str, object] = {}
    counts: dict[str, int] = {}
    for node in _own_nodes(body):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            targets = [getattr(node, "target", None)] if hasattr(node, "target") else []
        for target in targets:
            if isinstance(target, ast.Name):
                counts[target.id] = counts.get(target.id, 0) + 1
                if isinstance(node, ast.Assign):
                    values[target.id] = literal(node.value)
    return {name: values.get(name) for name, n in counts.items() if n == 1 and values.get(name)}


def literal(node: ast.expr | None) -> object:
    try:
        return ast.literal_eval(node) if node is not None else None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                stack.append(child)


def build_scope(tree: ast.Module) -> Scope:
    imports: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.update(import_aliases(node))
    scope = Scope(imports=imports, module_consts=constants_of(tree.body), tree=tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope.local_consts[id(node)] = constants_of(node.body)
    return scope


def walk_with_function(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """Every node with the innermost function that holds it (None at module level)."""
    stack: list[tuple[ast.AST, ast.AST | None]] = [(tree, None)]
    while stack:
        node, function = stack.pop()
        yield node, function
        inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_const(node: ast.expr | None, value: object) -> bool:
    return (
        isinstance(node, ast.Constant) and type(node.value) is type(value) and node.value == value
    )


def finding(path: str, line: int, rule: Rule, source: str, **fmt: str) -> Finding:
    return Finding(
        path=path,
        line=line,
        category=Category.SECURITY,
        severity=rule.severity,
        rule=rule.rule,
        cwe=rule.cwe,
        message=rule.message.format(**fmt),
        confidence=rule.confidence,
        source=source,
    )


def is_test_path(path: str) -> bool:
    parts = path.lower().split("/")
    name = parts[-1]
    return (
        any(p in ("tests", "test", "testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )

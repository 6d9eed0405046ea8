"""Correctness checks on the ``ast`` that ruff lacks: shared defaults, dict mutation, branch slips.

Each rule names a mistake that changes behaviour, not taste, and is written to be certain on
the code it sees (one module, no inference):

- ``mutable-global-default``: a default that is a module-level list/dict/set is shared by every
  call exactly like a ``[]`` literal default, but ruff's B006 only sees literals.
- ``mutated-default-argument``: the line where a mutable default is changed in place; that
  mutation is the bug B006 warns about, and it is the line a reviewer points at.
- ``dict-changed-during-iteration``: ``del d[k]`` / ``d.pop(k)`` inside ``for k in d`` raises
  ``RuntimeError`` on the next step (unless the loop stops right after).
- ``confusing-consecutive-elif``: an ``if`` whose body ends in an ``if`` without ``else``,
  followed by ``elif``: the ``elif`` reads as belonging to the inner ``if``.
- ``identical-branches`` / ``duplicate-condition``: ``if``/``else`` doing the same thing, or an
  ``elif`` testing what an earlier branch already tested (its body can never run).
- ``manual-defaultdict``: ``if k not in d: d[k] = []`` then ``d[k].append(...)`` in a loop is
  ``collections.defaultdict``/``Counter``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.qual_lint_config import LintSettings
from reviewer.findings import Severity

_MUTABLE_CALLS = frozenset(
    {"list", "dict", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque"}
)
_MUTATORS = frozenset(
    {
        "append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem",
        "remove", "discard", "clear", "sort", "reverse", "appendleft", "extendleft",
    }
)  # fmt: skip
_DICT_SHRINKERS = frozenset({"pop", "popitem", "clear"})
_DICT_VIEWS = frozenset({"keys", "items", "values"})
_EMPTY_FACTORIES = {"list": "list", "dict": "dict", "set": "set"}


class QualityCorrectnessAnalyzer(Analyzer):
    name = "quality-correctness"
    tool = "quality-ast"

    def __init__(self, settings: LintSettings | None = None) -> None:
        self.settings = settings or LintSettings()

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        tree = source.syntax_tree()
        mutable_globals = _module_mutables(tree)
        hits: list[Hit] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                hits.extend(self._defaults(source, node, mutable_globals))
            elif isinstance(node, ast.For | ast.AsyncFor):
                hits.extend(self._dict_iteration(source, node))
            elif isinstance(node, ast.If):
                hits.extend(self._branches(source, node))
        for block in _blocks(tree):
            hits.extend(self._manual_defaultdict(source, block))
        return AnalyzerOutput(
            hits=[hit for hit in hits if not self.settings.is_disabled(hit.finding.rule)]
        )

    # --- defaults -------------------------------------------------------------------------

    def _defaults(
        self,
        source: SourceFile,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        mutable_globals: set[str],
    ) -> Iterator[Hit]:
        mutable_params: list[str] = []
        for param, default in _parameters_with_defaults(func.args):
            if _is_mutable_value(default):
                mutable_params.append(param)
            elif isinstance(default, ast.Name) and default.id in mutable_globals:
                mutable_params.append(param)
                yield self._hit(
                    source, func.lineno, "mutable-global-default", Severity.MEDIUM, 0.8,
                    f"`{param}` defaults to the module-level mutable `{default.id}`: every call "
                    "shares (and can change) that one object. Default to None and build or copy "
                    "the value inside the function.",
                    anchor=f"def {func.name}({param}={default.id})",
                )  # fmt: skip
        for param in mutable_params:
            line = _first_mutation(func, param)
            if line is not None:
                yield self._hit(
                    source, line, "mutated-default-argument", Severity.MEDIUM, 0.85,
                    f"This changes `{param}`'s default value in place; the default is created "
                    "once, so the change leaks into every later call. Default to None and create "
                    "a fresh object per call.",
                )  # fmt: skip

    # --- dict mutated while iterated -------------------------------------------------------

    def _dict_iteration(self, source: SourceFile, loop: ast.For | ast.AsyncFor) -> Iterator[Hit]:
        name = _iterated_dict(loop.iter)
        if name is None:
            return
        for statement, stops in _statements_with_exit(loop.body):
            if stops:
                continue
            for node in ast.walk(statement):
                if _shrinks_dict(node, name):
                    yield self._hit(
                        source, loop.lineno, "dict-changed-during-iteration", Severity.HIGH, 0.85,
                        f"`{name}` loses keys while this loop iterates over it: Python raises "
                        "`RuntimeError: dictionary changed size during iteration`. Iterate over "
                        f"`list({name})` or build a new dict.",
                    )  # fmt: skip
                    return

    # --- if/elif chains --------------------------------------------------------------------

    def _branches(self, source: SourceFile, node: ast.If) -> Iterator[Hit]:
        if node.orelse and len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            elif_node = node.orelse[0]
            inner = node.body[-1]
            if isinstance(inner, ast.If) and _ends_without_else(inner):
                yield self._hit(
                    source, elif_node.lineno, "confusing-consecutive-elif", Severity.LOW, 0.7,
                    "This `elif` follows an `if` block that itself ends with an `if` without "
                    "`else`, so it reads as part of the inner chain. Add an explicit `else` to "
                    "the inner `if`, or restructure.",
                )  # fmt: skip
        if node.orelse and not _is_elif(node) and _same_code(node.body, node.orelse):
            yield self._hit(
                source, node.lineno, "identical-branches", Severity.MEDIUM, 0.85,
                "Both branches of this `if` do the same thing, so the condition has no effect: "
                "one of them is probably meant to differ.",
            )  # fmt: skip
        seen = [ast.dump(node.test)]
        current = node
        while len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
            current = current.orelse[0]
            test = ast.dump(current.test)
            if test in seen and not _has_call(current.test):
                yield self._hit(
                    source, current.lineno, "duplicate-condition", Severity.MEDIUM, 0.85,
                    "This `elif` tests the same condition as an earlier branch of the chain, so "
                    "its body can never run.",
                )  # fmt: skip
            seen.append(test)

    # --- manual defaultdict ----------------------------------------------------------------

    def _manual_defaultdict(self, source: SourceFile, block: list[ast.stmt]) -> Iterator[Hit]:
        for index, statement in enumerate(block[:-1]):
            match = _missing_key_init(statement)
            if match is None:
                continue
            dict_name, key_dump, kind = match
            following = block[index + 1]
            if _updates_entry(following, dict_name, key_dump, kind):
                replacement = "collections.Counter" if kind == "int" else "collections.defaultdict"
                yield self._hit(
                    source, statement.lineno, "manual-defaultdict", Severity.INFO, 0.7,
                    f"This initialises `{dict_name}[key]` by hand before updating it; "
                    f"`{replacement}` does that for you and reads as intent.",
                )  # fmt: skip

    def _hit(
        self,
        source: SourceFile,
        line: int,
        rule: str,
        severity: Severity,
        confidence: float,
        message: str,
        anchor: str | None = None,
    ) -> Hit:
        finding = self.quality_finding(source, line, line, rule, severity, confidence, message)
        return Hit(finding, anchor=anchor)


def _blocks(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _module_mutables(tree: ast.Module) -> set[str]:
    """Module-level names bound exactly once, to a mutable container."""
    bound: dict[str, int] = {}
    mutable: set[str] = set()
    for statement in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    bound[name.id] = bound.get(name.id, 0) + 1
                    if isinstance(target, ast.Name) and value is not None and _is_mutable_value(value):
                        mutable.add(name.id)
    return {name for name in mutable if bound[name] == 1}


def _is_mutable_value(node: ast.expr) -> bool:
    if isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in _MUTABLE_CALLS
    return False


def _parameters_with_defaults(args: ast.arguments) -> Iterator[tuple[str, ast.expr]]:
    positional = [*args.posonlyargs, *args.args]
    for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults):
        yield arg.arg, default
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        if kw_default is not None:
            yield arg.arg, kw_default


def _first_mutation(func: ast.FunctionDef | ast.AsyncFunctionDef, param: str) -> int | None:
    """The first line that mutates ``param``'s default in place (or an alias of it).

    Gives up (None) as soon as the parameter is rebound anywhere in the function: whether the
    mutation then touches the default depends on the path taken, and a rebinding
    (``x = list(x)``, ``x = x or []``) is the usual fix.
    """
    aliases = {param}
    nodes = sorted(
        (n for n in ast.walk(func) if hasattr(n, "lineno") and n is not func),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == param:
            return None
    for node in nodes:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MUTATORS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in aliases
        ):
            return node.lineno
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store | ast.Del)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            return node.lineno
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id in aliases
            and isinstance(node.op, ast.Add | ast.BitOr)
        ):
            return None  # `x += [..]` mutates lists but rebinds others: not certain
    return None


def _iterated_dict(node: ast.expr) -> str | None:
    """``d`` when the loop iterates ``d`` itself or one of its live views."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _DICT_VIEWS
        and not node.args
        and isinstance(node.func.value, ast.Name)
    ):
        return node.func.value.id
    return None


def _statements_with_exit(body: list[ast.stmt]) -> Iterator[tuple[ast.stmt, bool]]:
    """Each statement, and whether the loop certainly stops right after it."""
    for index, statement in enumerate(body):
        rest = body[index + 1 :]
        stops = bool(rest) and isinstance(rest[0], ast.Break | ast.Return | ast.Raise)
        if isinstance(statement, ast.If):
            for branch in (statement.body, statement.orelse):
                yield from _statements_with_exit(branch)
            continue
        yield statement, stops


def _shrinks_dict(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.Delete):
        return any(
            isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name
            for t in node.targets
        )
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _DICT_SHRINKERS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == name
    )


def _ends_without_else(node: ast.If) -> bool:
    """Whether an ``if``/``elif`` chain ends with no ``else``."""
    while node.orelse:
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            node = node.orelse[0]
        else:
            return False
    return True


def _is_elif(node: ast.If) -> bool:
    return len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)


def _same_code(first: list[ast.stmt], second: list[ast.stmt]) -> bool:
    if len(first) != len(second):
        return False
    if all(isinstance(s, ast.Pass) for s in first):
        return False
    return all(ast.dump(a) == ast.dump(b) for a, b in zip(first, second))


def _has_call(node: ast.expr) -> bool:
    """A condition with a call may change between tests (``next(it)``, ``queue.empty()``)."""
    return any(isinstance(child, ast.Call | ast.NamedExpr | ast.Await) for child in ast.walk(node))


def _missing_key_init(statement: ast.stmt) -> tuple[str, str, str] | None:
    """``(dict, key, kind)`` for ``if key not in d: d[key] = <empty>`` with no else."""
    if not isinstance(statement, ast.If) or statement.orelse or len(statement.body) != 1:
        return None
    test = statement.test
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.NotIn)
        and isinstance(test.comparators[0], ast.Name)
    ):
        return None
    dict_name = test.comparators[0].id
    assign = statement.body[0]
    if not (
        isinstance(assign, ast.Assign)
        and len(assign.targets) == 1
        and isinstance(assign.targets[0], ast.Subscript)
        and isinstance(assign.targets[0].value, ast.Name)
        and assign.targets[0].value.id == dict_name
        and ast.dump(assign.targets[0].slice) == ast.dump(test.left)
    ):
        return None
    kind = _empty_kind(assign.value)
    return (dict_name, ast.dump(test.left), kind) if kind else None


def _empty_kind(value: ast.expr) -> str | None:
    if isinstance(value, ast.List) and not value.elts:
        return "list"
    if isinstance(value, ast.Dict) and not value.keys:
        return "dict"
    if isinstance(value, ast.Constant) and value.value == 0 and type(value.value) is int:
        return "int"
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in _EMPTY_FACTORIES
        and not value.args
        and not value.keywords
    ):
        return _EMPTY_FACTORIES[value.func.id]
    return None


def _updates_entry(statement: ast.stmt, dict_name: str, key_dump: str, kind: str) -> bool:
    def is_entry(node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == dict_name
            and ast.dump(node.slice) == key_dump
        )

    if kind == "int":
        return isinstance(statement, ast.AugAssign) and is_entry(statement.target)
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr in _MUTATORS
        and is_entry(statement.value.func.value)
    )

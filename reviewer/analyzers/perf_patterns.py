"""Wasteful patterns ruff does not cover: quadratic loops, materialised lists, leaks, no timeouts.

- ``string-concat-in-loop`` (pylint consider-using-join): ``s += ...`` on a string inside a
  loop copies the whole string each time; collect parts and ``"".join`` them.
- ``list-membership-in-loop``: ``x in items`` in a loop, where ``items`` is a list the
  function builds (unknown size): a linear scan per iteration; a set makes it constant.
- ``list-front-operation-in-loop``: ``insert(0, x)`` / ``pop(0)`` on a list in a loop shifts
  every element each time; ``collections.deque`` does both in O(1).
- ``consider-using-generator`` (pylint): ``sum/min/max/tuple/list([... for ...])`` builds a
  list only to consume it once (``any``/``all`` are ruff's C419, already run).
- ``consider-using-with`` (pylint): a file opened into a local name that is never closed,
  returned or handed on: the descriptor lives until garbage collection.
- ``request-without-timeout`` (CWE-400): HTTP calls bandit's B113 does not see (a
  ``requests.Session``'s methods, ``requests.request``, ``urllib.request.urlopen``) without
  a timeout wait forever on a stalled server, holding a worker.
"""

from __future__ import annotations

import ast

from reviewer.analyzers.base import Hit, SourceFile
from reviewer.analyzers.perf_ast import (
    LOOPS,
    PerfRuleAnalyzer,
    dotted,
    functions,
    import_aliases,
    in_loop_nodes,
    qualified,
    repeated_parts,
    walk_scope,
)
from reviewer.findings import Severity

_CONSUMERS = frozenset({"sum", "min", "max", "tuple", "list"})
_SESSION_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
_NO_TIMEOUT_CALLS = frozenset({"requests.request", "urllib.request.urlopen"})
_SESSION_FACTORIES = frozenset(
    {"requests.Session", "requests.session", "requests.sessions.Session"}
)
_OPENERS = frozenset({"open", "io.open", "codecs.open"})
# What a name holding an open file may do to escape our "never closed" verdict.
_HANDED_ON = (ast.Return, ast.Yield, ast.YieldFrom)


class PatternAnalyzer(PerfRuleAnalyzer):
    name = "perf-patterns"

    def check(self, source: SourceFile, tree: ast.Module) -> list[Hit]:
        aliases = import_aliases(tree)
        hits: list[Hit] = []
        for function in functions(tree):
            hits.extend(self._loops(source, function))
            hits.extend(self._unclosed_files(source, function, aliases))
            hits.extend(self._timeouts(source, function, aliases))
        hits.extend(self._generators(source, tree))
        return hits

    # --- loops ---------------------------------------------------------------------------

    def _loops(self, source: SourceFile, function: ast.AST) -> list[Hit]:
        strings, lists = _local_kinds(function)
        hits: list[Hit] = []
        seen: set[tuple[str, str]] = set()
        for node, loop in in_loop_nodes(function):
            if (
                isinstance(node, ast.AugAssign)
                and isinstance(node.op, ast.Add)
                and isinstance(node.target, ast.Name)
                and node.target.id in strings
                and isinstance(loop, LOOPS)
                and ("concat", node.target.id) not in seen
                and node.target.id not in _reset_in(loop)
            ):
                seen.add(("concat", node.target.id))
                hits.append(
                    self.hit(
                        source,
                        node,
                        rule="string-concat-in-loop",
                        severity=Severity.LOW,
                        confidence=0.6,
                        message=f"`{node.target.id} += ...` in a loop copies the whole string "
                        "each time (quadratic in the output size); append the parts to a list "
                        'and `"".join()` them once.',
                    )
                )
            elif isinstance(node, ast.Compare) and len(node.ops) == 1:
                target = node.comparators[0]
                if (
                    isinstance(node.ops[0], ast.In | ast.NotIn)
                    and isinstance(target, ast.Name)
                    and target.id in lists
                    and ("in", target.id) not in seen
                ):
                    seen.add(("in", target.id))
                    hits.append(
                        self.hit(
                            source,
                            node,
                            rule="list-membership-in-loop",
                            severity=Severity.LOW,
                            confidence=0.6,
                            message=f"`in {target.id}` scans the whole list on every iteration "
                            f"(quadratic overall); build a set from `{target.id}` before the "
                            "loop for constant-time lookups.",
                        )
                    )
            elif isinstance(node, ast.Call) and _front_operation(node, lists):
                name = node.func.value.id  # type: ignore[union-attr]
                shown = "insert(0, ...)" if node.func.attr == "insert" else "pop(0)"  # type: ignore[union-attr]
                hits.append(
                    self.hit(
                        source,
                        node,
                        rule="list-front-operation-in-loop",
                        severity=Severity.LOW,
                        confidence=0.65,
                        message=f"`{name}.{shown}` in a loop shifts every "
                        "element of the list each time; use `collections.deque` "
                        "(`appendleft`/`popleft`).",
                    )
                )
        return hits

    # --- generators ----------------------------------------------------------------------

    def _generators(self, source: SourceFile, tree: ast.Module) -> list[Hit]:
        hits = []
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _CONSUMERS
                and len(node.args) == 1
                and isinstance(node.args[0], ast.ListComp)
            ):
                continue
            comprehension = node.args[0]
            if _awaits_per_item(comprehension):
                continue  # an async comprehension cannot become a plain generator
            hits.append(
                self.hit(
                    source,
                    node,
                    rule="consider-using-generator",
                    severity=Severity.LOW,
                    confidence=0.6,
                    message=f"`{node.func.id}([...])` builds a whole list only to consume it "
                    f"once; pass a generator instead: `{node.func.id}(... for ...)`.",
                )
            )
        return hits

    # --- files ---------------------------------------------------------------------------

    def _unclosed_files(self, source: SourceFile, function: ast.AST, aliases) -> list[Hit]:
        opened: dict[str, ast.Assign] = {}
        for node in walk_scope(function):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and qualified(node.value.func, aliases) in _OPENERS
            ):
                opened.setdefault(node.targets[0].id, node)
        if not opened:
            return []
        escaped = _escaping_names(function)
        return [
            self.hit(
                source,
                node,
                rule="consider-using-with",
                severity=Severity.LOW,
                confidence=0.7,
                message=f"`{name}` is opened but never closed: the file stays open until "
                "garbage collection (and longer on PyPy); open it in a `with` block.",
            )
            for name, node in opened.items()
            if name not in escaped
        ]

    # --- timeouts ------------------------------------------------------------------------

    def _timeouts(self, source: SourceFile, function: ast.AST, aliases) -> list[Hit]:
        sessions: set[str] = set()
        for node in walk_scope(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                pairs = [(node.value, node.targets[0])]
            elif isinstance(node, ast.With):
                pairs = [(item.context_expr, item.optional_vars) for item in node.items]
            else:
                continue
            for value, target in pairs:
                if (
                    isinstance(target, ast.Name)
                    and isinstance(value, ast.Call)
                    and qualified(value.func, aliases) in _SESSION_FACTORIES
                ):
                    sessions.add(target.id)
        hits = []
        for node in walk_scope(function):
            if not isinstance(node, ast.Call) or _has_timeout(node):
                continue
            func = node.func
            name = qualified(func, aliases)
            on_session = (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in sessions
                and func.attr in _SESSION_VERBS
            )
            if name in _NO_TIMEOUT_CALLS or on_session:
                hits.append(
                    self.hit(
                        source,
                        node,
                        rule="request-without-timeout",
                        severity=Severity.MEDIUM,
                        confidence=0.75,
                        cwe="CWE-400",
                        message=f"`{dotted(func)}()` has no timeout: a server that stops "
                        "answering holds this worker forever; pass `timeout=` (seconds).",
                    )
                )
        return hits


def _reset_in(loop: ast.AST) -> set[str]:
    """Names a loop assigns afresh each iteration: ``+=`` on them does not accumulate."""
    return {
        target.id
        for part in repeated_parts(loop)
        for node in [part, *walk_scope(part)]
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def _local_kinds(function: ast.AST) -> tuple[set[str], set[str]]:
    """Names the function binds only to strings, and only to lists of unknown size."""
    strings: dict[str, bool] = {}
    lists: dict[str, bool] = {}
    for node in walk_scope(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        value = node.value
        is_string = isinstance(value, ast.JoinedStr) or (
            isinstance(value, ast.Constant) and isinstance(value.value, str)
        )
        strings[target.id] = strings.get(target.id, True) and is_string
        lists[target.id] = lists.get(target.id, True) and _unbounded_list(value)
    return {n for n, ok in strings.items() if ok}, {n for n, ok in lists.items() if ok}


def _unbounded_list(value: ast.AST | None) -> bool:
    if isinstance(value, ast.ListComp):
        return True
    if isinstance(value, ast.List):
        return not value.elts  # [] grown later; a literal list of items is small and fixed
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("list", "sorted")
        and bool(value.args)
    )


def _front_operation(node: ast.Call, lists: set[str]) -> bool:
    func = node.func
    if not (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in lists
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == 0
    ):
        return False
    return (func.attr == "insert" and len(node.args) == 2) or (
        func.attr == "pop" and len(node.args) == 1
    )


def _awaits_per_item(comprehension: ast.ListComp) -> bool:
    if any(generator.is_async for generator in comprehension.generators):
        return True
    per_item: list[ast.AST] = [comprehension.elt]
    for index, generator in enumerate(comprehension.generators):
        per_item.extend(generator.ifs)
        if index:
            per_item.append(generator.iter)
    return any(isinstance(n, ast.Await) for part in per_item for n in ast.walk(part))


def _has_timeout(call: ast.Call) -> bool:
    return any(k.arg == "timeout" or k.arg is None for k in call.keywords)


def _escaping_names(function: ast.AST) -> set[str]:
    """Names closed, used as context managers, returned, stored elsewhere or passed on."""
    names: set[str] = set()
    for node in walk_scope(function):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.attr in ("close", "__exit__", "detach")
            ):
                names.add(func.value.id)
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Name) and _hands_on(func):
                    names.add(arg.id)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                names |= {n.id for n in ast.walk(item.context_expr) if isinstance(n, ast.Name)}
        elif isinstance(node, _HANDED_ON) and node.value is not None:
            value = node.value
            items = value.elts if isinstance(value, ast.Tuple | ast.List) else [value]
            names |= {item.id for item in items if isinstance(item, ast.Name)}
        elif isinstance(node, ast.Assign) and not all(
            isinstance(t, ast.Name) for t in node.targets
        ):
            names |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            names.add(node.value.id)  # an alias: followed no further
    for inner in ast.walk(function):
        if (
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            and inner is not function
        ):
            names |= {n.id for n in ast.walk(inner) if isinstance(n, ast.Name)}
    return names


def _hands_on(func: ast.AST) -> bool:
    """Passing a file to these keeps it alive elsewhere (``closing``, ``ExitStack``, a wrapper)."""
    name = (dotted(func) or "").rsplit(".", 1)[-1]
    return name in ("closing", "enter_context", "callback", "push", "append", "add") or (
        name[:1].isupper()  # a constructor that takes ownership (TextIOWrapper(f), Reader(f))
    )

"""N+1 queries: ORM queries and lazy relation loads once per loop iteration.

Two rules, the ones a reviewer applies to Django and SQLAlchemy code:

- ``n-plus-one``: a loop over a query's results reads a relation of each row that the query
  did not eager-load (``select_related``/``prefetch_related``, ``joinedload``/
  ``selectinload``/``subqueryload``), so each iteration runs one more query. An attribute is
  a relation when a model in the pull request declares it (lazily), or when the code uses it
  as one (``row.tags.all()``, ``row.comment_set``, iterating a SQLAlchemy attribute); model
  files the PR does not touch are not visible, hence the moderate confidence of the latter.
- ``query-in-loop``: a query (``Model.objects...``, ``session.query/execute/scalars/get``, a
  DB-API ``cursor.execute``) or an HTTP request issued inside a ``for`` loop or a
  comprehension. ``while`` loops are left alone: they are usually polling or batching loops
  whose per-iteration query is the point.

A single lazy load outside a loop is not reported: it costs one query, not N.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Sequence

from reviewer.analyzers.base import AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.perf_ast import (
    COMPREHENSIONS,
    PerfRuleAnalyzer,
    dotted,
    functions,
    import_aliases,
    in_loop_nodes,
    qualified,
    walk_scope,
)
from reviewer.analyzers.perf_orm import (
    DJANGO_READS,
    DJANGO_WRITES,
    MANAGER_METHODS,
    SESSION_QUERIES,
    Query,
    Relations,
    is_session,
    model_relations,
    query_of,
)
from reviewer.findings import Severity

_NO_ARG_MANAGER_CALLS = frozenset({"all", "count", "exists", "first", "last"})
_HTTP_MODULES = frozenset({"requests", "httpx"})
_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
_ROUTE_DECORATORS = frozenset(
    {"route", "get", "post", "put", "patch", "delete", "api_view", "action", "require_http_methods"}
)
_SMALL_LOOP = 5


class QueryLoopAnalyzer(PerfRuleAnalyzer):
    name = "perf-queries"

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        """Models declared anywhere in the pull request inform every file's relation checks.

        The relations travel as an argument, not as state on this (shared) instance.
        """
        relations = Relations()
        for source in sources:
            found = model_relations(source.syntax_tree())
            relations.lazy |= found.lazy
            relations.eager |= found.eager
        relations.lazy -= relations.eager
        output = AnalyzerOutput()
        for index, source in enumerate(sources):
            if deadline is not None and time.monotonic() > deadline:
                output.skipped.extend(self.timed_out(sources[index:]))
                break
            output.hits.extend(self.check(source, source.syntax_tree(), relations))
        return output

    def check(
        self, source: SourceFile, tree: ast.Module, relations: Relations | None = None
    ) -> list[Hit]:
        relations = relations or model_relations(tree)
        aliases = import_aliases(tree)
        hits: list[Hit] = []
        for function in functions(tree):
            checker = _FunctionCheck(self, source, function, relations, aliases)
            hits.extend(checker.lazy_loads())
            hits.extend(checker.queries_in_loops())
        return hits


class _FunctionCheck:
    def __init__(self, analyzer, source, function, relations: Relations, aliases: dict):
        self.analyzer = analyzer
        self.source = source
        self.function = function
        self.relations = relations
        self.aliases = aliases
        self.request_path = _is_request_handler(function)
        self.queries = self._bound_queries()

    def _bound_queries(self) -> dict[str, Query]:
        known: dict[str, Query] = {}
        assigns = [n for n in walk_scope(self.function) if isinstance(n, ast.Assign)]
        for node in sorted(assigns, key=lambda n: n.lineno):
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                query = query_of(node.value, known)
                if query is None:
                    known.pop(node.targets[0].id, None)
                else:
                    known[node.targets[0].id] = query
        return known

    # --- n-plus-one ----------------------------------------------------------------------

    def lazy_loads(self) -> list[Hit]:
        hits = []
        for iterable, target, parts in _loops(self.function):
            query = query_of(iterable, self.queries)
            name = _loop_variable(target)
            if query is None or not query.instances or name is None:
                continue
            parents = {}
            for part in parts:
                for node in [part, *walk_scope(part)]:
                    for child in ast.iter_child_nodes(node):
                        parents[id(child)] = node
            reported: set[str] = set()
            for part in parts:
                for node in [part, *walk_scope(part)]:
                    if not (
                        isinstance(node, ast.Attribute)
                        and isinstance(node.value, ast.Name)
                        and node.value.id == name
                        and isinstance(node.ctx, ast.Load)
                    ):
                        continue
                    relation = node.attr
                    if relation in reported or query.loads(relation):
                        continue
                    confidence = self._relation_evidence(node, query, parents)
                    if confidence:
                        reported.add(relation)
                        hits.append(self._n_plus_one(node, query, name, relation, confidence))
        return hits

    def _relation_evidence(self, node: ast.Attribute, query: Query, parents: dict) -> float:
        relation = node.attr
        if relation in self.relations.eager:
            return 0.0
        if relation in self.relations.lazy:
            return 0.8
        parent = parents.get(id(node))
        if query.orm == "django":
            if relation.endswith("_set"):
                return 0.75
            grandparent = parents.get(id(parent)) if parent is not None else None
            if (
                isinstance(parent, ast.Attribute)
                and parent.attr in MANAGER_METHODS
                and isinstance(grandparent, ast.Call)
                and grandparent.func is parent
                and (parent.attr not in _NO_ARG_MANAGER_CALLS or not grandparent.args)
            ):
                return 0.75
        else:
            iterated = isinstance(parent, ast.For | ast.comprehension) and parent.iter is node
            counted = (
                isinstance(parent, ast.Call)
                and isinstance(parent.func, ast.Name)
                and parent.func.id == "len"
            )
            if iterated or counted:
                return 0.65
        return 0.0

    def _n_plus_one(self, node, query: Query, name: str, relation: str, confidence: float) -> Hit:
        if query.orm == "django":
            fix = f"`select_related('{relation}')` (to-one) or `prefetch_related('{relation}')`"
        else:
            fix = f"`.options(selectinload(<Model>.{relation}))` (or `joinedload` for to-one)"
        where = " in a request handler" if self.request_path else ""
        return self.analyzer.hit(
            self.source,
            node,
            rule="n-plus-one",
            severity=Severity.HIGH if self.request_path else Severity.MEDIUM,
            confidence=min(confidence + (0.05 if self.request_path else 0.0), 0.85),
            message=f"N+1 queries{where}: `{name}.{relation}` is loaded lazily for every row "
            f"of the loop, one query each, because the query does not eager-load it; add {fix}.",
        )

    # --- query-in-loop -------------------------------------------------------------------

    def queries_in_loops(self) -> list[Hit]:
        hits = []
        for node, loop in in_loop_nodes(self.function):
            if not isinstance(node, ast.Call) or isinstance(loop, ast.While) or _small(loop):
                continue
            found = self._query_call(node)
            if found is not None:
                hits.append(self._query_hit(node, *found))
        return hits

    def _query_call(self, node: ast.Call) -> tuple[str, str, Severity, float] | None:
        """``(what, advice, severity, confidence)`` when ``node`` runs a query or a request."""
        func = node.func
        if not isinstance(func, ast.Attribute):
            return None
        receiver, verb = func.value, func.attr
        if isinstance(receiver, ast.Attribute) and receiver.attr in ("objects", "_default_manager"):
            manager = f"{dotted(receiver) or 'Model.objects'}.{verb}()"
            if verb in DJANGO_WRITES:
                return (
                    manager,
                    "batch it (`bulk_create`/`bulk_update`, one `filter().update()`)",
                    Severity.LOW,
                    0.6,
                )
            if verb in DJANGO_READS:
                return manager, _READ_ADVICE, Severity.MEDIUM, 0.75
        if isinstance(receiver, ast.Name) and receiver.id in self.queries and verb in DJANGO_READS:
            return f"{receiver.id}.{verb}()", _READ_ADVICE, Severity.MEDIUM, 0.7
        if verb in SESSION_QUERIES and is_session(receiver):
            return f"{dotted(receiver)}.{verb}()", _READ_ADVICE, Severity.MEDIUM, 0.75
        if verb == "execute" and _is_cursor(receiver):
            return (
                f"{dotted(receiver)}.execute()",
                "use one set-based statement (`WHERE id IN (...)`, a join) or `executemany`",
                Severity.LOW,
                0.55,
            )
        name = qualified(func, self.aliases) or ""
        module, _, call = name.rpartition(".")
        if module in _HTTP_MODULES and call in _HTTP_VERBS:
            return (
                f"{name}()",
                "fetch in bulk if the API allows it, or concurrently, and reuse one client",
                Severity.LOW,
                0.5,
            )
        return None

    def _query_hit(self, node, what: str, advice: str, severity: Severity, confidence: float):
        is_http = what.startswith(("requests.", "httpx."))
        return self.analyzer.hit(
            self.source,
            node,
            rule="http-call-in-loop" if is_http else "query-in-loop",
            severity=severity,
            confidence=confidence,
            message=f"`{what}` runs once per loop iteration"
            + (" (a network round trip each)" if is_http else " (one database query each)")
            + f"; {advice}.",
        )


_READ_ADVICE = (
    "fetch everything before the loop in one query (`filter(pk__in=...)`/`in_bulk`, "
    "`where(Model.id.in_(...))`) and look rows up in a dict"
)


def _loops(function: ast.AST):
    """``(iterable, target, per-iteration parts)`` of every for loop and comprehension."""
    for node in walk_scope(function):
        if isinstance(node, ast.For | ast.AsyncFor):
            yield node.iter, node.target, node.body
        elif isinstance(node, COMPREHENSIONS):
            element = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for index, generator in enumerate(node.generators):
                later = node.generators[index + 1 :]
                parts = [*generator.ifs, *element]
                for other in later:
                    parts += [other.iter, *other.ifs]
                yield generator.iter, generator.target, parts


def _loop_variable(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[-1], ast.Name):
        return target.elts[-1].id  # for index, row in enumerate(rows)
    return None


def _small(loop: ast.AST) -> bool:
    """A loop over a handful of literal items or ``range(<= 5)``: not an N+1."""
    iterable = getattr(loop, "iter", None)
    if iterable is None and isinstance(loop, COMPREHENSIONS):
        iterable = loop.generators[0].iter
    if isinstance(iterable, ast.Tuple | ast.List | ast.Set):
        return len(iterable.elts) <= _SMALL_LOOP
    if (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Name)
        and iterable.func.id == "range"
        and len(iterable.args) == 1
        and isinstance(iterable.args[0], ast.Constant)
        and isinstance(iterable.args[0].value, int)
    ):
        return iterable.args[0].value <= _SMALL_LOOP
    return False


def _is_cursor(node: ast.AST) -> bool:
    name = (dotted(node) or "").rsplit(".", 1)[-1].lower()
    return "cursor" in name or name in ("cur", "conn", "connection", "db")


def _is_request_handler(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    if "request" in names[:2]:
        return True
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (dotted(target) or "").rsplit(".", 1)[-1] in _ROUTE_DECORATORS:
            return True
    return False

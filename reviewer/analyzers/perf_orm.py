"""How ORM code reads: which expressions are queries, what they eager-load, which names are relations.

Django (``Model.objects...``, querysets bound to names) and SQLAlchemy (``session.query``,
``session.execute(select(...))``, ``session.scalars``, Flask-SQLAlchemy's ``Model.query``).
Pure helpers for ``perf_queries``; nothing here reports anything.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from reviewer.analyzers.perf_ast import dotted

ALL = "*"  # eager-loads every relation: select_related() without arguments, '*' options

DJANGO_EAGER = frozenset({"select_related", "prefetch_related"})
SQLA_EAGER = frozenset(
    {"joinedload", "selectinload", "subqueryload", "immediateload", "contains_eager", "raiseload"}
)
SQLA_EAGER_STRATEGIES = frozenset({"joined", "selectin", "subquery", "immediate", "raise"})
# Results that are not model instances, so they have no relations to load lazily.
NOT_INSTANCES = frozenset(
    {"values", "values_list", "count", "exists", "aggregate", "scalar", "delete", "update"}
)
DJANGO_READS = frozenset(
    {
        "get", "filter", "exclude", "all", "first", "last", "count", "exists", "aggregate",
        "annotate", "values", "values_list", "order_by", "get_or_create", "update_or_create",
        "in_bulk", "latest", "earliest", "distinct", "select_related", "prefetch_related",
        "only", "defer", "raw", "iterator",
    }
)  # fmt: skip
DJANGO_WRITES = frozenset({"create", "update", "delete", "bulk_create", "bulk_update"})
SESSION_QUERIES = frozenset({"query", "execute", "scalars", "scalar", "get"})
# Methods only a Django related manager has (or that mean the same on one): evidence that
# ``obj.attr`` is a relation even when the model definition is not in the pull request.
MANAGER_METHODS = frozenset(
    {
        "all", "filter", "exclude", "count", "exists", "first", "last", "order_by", "values",
        "values_list", "aggregate", "annotate", "select_related", "prefetch_related", "only",
        "defer", "latest", "earliest",
    }
)  # fmt: skip
DJANGO_RELATION_FIELDS = frozenset({"ForeignKey", "OneToOneField", "ManyToManyField"})


@dataclass(frozen=True)
class Query:
    """A query expression: which ORM, what it eager-loads, whether it yields model instances."""

    orm: str  # "django" | "sqlalchemy"
    eager: frozenset[str]
    instances: bool

    def loads(self, relation: str) -> bool:
        return ALL in self.eager or relation in self.eager


@dataclass
class Relations:
    """Relation attribute names declared by the models in the analysed files."""

    lazy: set[str] = field(default_factory=set)
    eager: set[str] = field(default_factory=set)  # lazy="joined"/"selectin"/... by default


def chain(node: ast.AST) -> tuple[ast.AST, list[ast.Call]]:
    """The root of a method chain and its calls, innermost first: ``a.b(x).c(y)``."""
    calls: list[ast.Call] = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        calls.append(node)
        node = node.func.value
    return node, list(reversed(calls))


def method(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def is_session(node: ast.AST) -> bool:
    """``session``, ``db.session``, ``self.session``, ``self._db_session``: an ORM session."""
    name = dotted(node)
    return name is not None and name.rsplit(".", 1)[-1].lower().lstrip("_").endswith("session")


def query_of(node: ast.AST, known: dict[str, Query]) -> Query | None:
    """The query ``node`` evaluates to, or None. ``known`` holds names bound to queries."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in ("list", "tuple", "sorted", "enumerate", "reversed") and node.args:
            return query_of(node.args[0], known)
        return None
    root, calls = chain(node)
    base: Query | None = None
    rest = calls
    if isinstance(root, ast.Attribute) and root.attr in ("objects", "_default_manager"):
        base = Query("django", frozenset(), True)
    elif isinstance(root, ast.Attribute) and root.attr == "query" and _is_model(root.value):
        base = Query("sqlalchemy", frozenset(), True)  # Flask-SQLAlchemy Model.query
    elif isinstance(root, ast.Name) and root.id in known:
        base = known[root.id]
    elif calls and method(calls[0]) in SESSION_QUERIES and is_session(root):
        first = calls[0]
        if method(first) == "get":
            return None  # session.get(Model, pk): one object, and not a chainable query
        base = Query("sqlalchemy", _statement_eager(first, known), _selects_instances(first))
        rest = calls[1:]
    if base is None:
        return None
    eager, instances = set(base.eager), base.instances
    for call in rest:
        name = method(call)
        if name in DJANGO_EAGER:
            eager |= _django_eager(call)
        elif name == "options":
            eager |= _sqla_eager(call)
        elif name in NOT_INSTANCES:
            instances = False
    return Query(base.orm, frozenset(eager), instances)


def _is_model(node: ast.AST) -> bool:
    name = dotted(node)
    return name is not None and name.rsplit(".", 1)[-1][:1].isupper()


def _selects_instances(call: ast.Call) -> bool:
    """``session.query(User)`` yields instances; ``session.query(User.id)`` yields rows."""
    args = call.args
    if args and isinstance(args[0], ast.Call):
        root, calls = chain(args[0])  # session.execute(select(User).where(...))
        for part in [root, *calls]:
            if isinstance(part, ast.Call) and (dotted(part.func) or "").endswith("select"):
                args = part.args
                break
    return bool(args) and all(_is_model(arg) for arg in args[:1])


def _statement_eager(call: ast.Call, known: dict[str, Query]) -> frozenset[str]:
    eager: set[str] = set()
    for arg in call.args[:1]:
        for node in ast.walk(arg):
            if isinstance(node, ast.Call) and method(node) == "options":
                eager |= _sqla_eager(node)
    return frozenset(eager)


def _relation_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split("__")[0].split(".")[0]
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and node.args:  # Prefetch("rel", queryset=...)
        return _relation_name(node.args[0])
    return None


def _django_eager(call: ast.Call) -> set[str]:
    if not call.args and method(call) == "select_related":
        return {ALL}
    return {name for arg in call.args if (name := _relation_name(arg))}


def _sqla_eager(options: ast.Call) -> set[str]:
    eager: set[str] = set()
    for node in ast.walk(options):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func) or ""
        if name.rsplit(".", 1)[-1] in SQLA_EAGER and node.args:
            first = _relation_name(node.args[0])
            if first:
                eager.add(first)
    return eager


def model_relations(tree: ast.Module) -> Relations:
    """Relation names declared in a module's Django or SQLAlchemy models (and their reverses)."""
    relations = Relations()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            target, value = _class_field(statement)
            if target is None or not isinstance(value, ast.Call):
                continue
            kind = (dotted(value.func) or "").rsplit(".", 1)[-1]
            keywords = {k.arg: k.value for k in value.keywords if k.arg}
            if kind in DJANGO_RELATION_FIELDS:
                relations.lazy.add(target)
                reverse = keywords.get("related_name")
                if isinstance(reverse, ast.Constant) and isinstance(reverse.value, str):
                    if not reverse.value.endswith("+"):
                        relations.lazy.add(reverse.value)
                else:
                    relations.lazy.add(f"{node.name.lower()}_set")
            elif kind == "relationship":
                lazy = keywords.get("lazy")
                strategy = lazy.value if isinstance(lazy, ast.Constant) else "select"
                bucket = relations.eager if strategy in SQLA_EAGER_STRATEGIES else relations.lazy
                bucket.add(target)
                for key in ("backref", "back_populates"):
                    other = keywords.get(key)
                    if key == "backref" and isinstance(other, ast.Constant):
                        relations.lazy.add(str(other.value))
    relations.lazy -= relations.eager
    return relations


def _class_field(statement: ast.stmt) -> tuple[str | None, ast.AST | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if isinstance(target, ast.Name):
            return target.id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None

"""AST and environment helpers for the taint walk: names, imports, branch merges, validations.

Kept apart from ``sec_flow`` so the walk itself reads as control flow only; these functions
are pure and know nothing of sinks except the secret-name words.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from reviewer.analyzers import sec_sinks as S
from reviewer.analyzers.sec_values import INJECTION_KINDS, NOTHING, UNKNOWN, Val, combine, join

REQUEST_NAMES = frozenset({"request", "req"})
ROUTE_DECORATORS = frozenset(
    {
        "route",
        "get",
        "post",
        "put",
        "delete",
        "patch",
        "api_route",
        "websocket",
        "api_view",
        "view_config",
        "expose",
    }
)


def dotted(node: ast.expr | None) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def import_aliases(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    aliases = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                aliases[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                aliases[head] = head
    elif node.module and not node.level:
        for alias in node.names:
            aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def merge_into(env: dict[str, Val], a: dict[str, Val], b: dict[str, Val]) -> None:
    merged = {}
    for name in {*a, *b}:
        if name in a and name in b:
            merged[name] = a[name] if a[name] is b[name] else join(a[name], b[name])
        else:
            merged[name] = join(a.get(name, NOTHING), b.get(name, NOTHING))
    env.clear()
    env.update(merged)


def store_key(container: Val, key, value: Val) -> Val:
    if container.keys is not None and key is not UNKNOWN:
        keys = dict(container.keys)
        keys[key] = value
        return replace(container, keys=tuple(keys.items()))
    if container.items is not None and isinstance(key, int):
        items = list(container.items)
        if -len(items) <= key < len(items):
            items[key] = value
            return replace(container, items=tuple(items))
    return replace(combine(container, value), tag=container.tag)


def clean(env: dict[str, Val], names: set[str]) -> None:
    for name in names:
        if name in env and env[name].tainted:
            env[name] = env[name].without(INJECTION_KINDS)


VALIDATION_METHODS = frozenset(
    {
        "isdigit",
        "isnumeric",
        "isdecimal",
        "isalnum",
        "isalpha",
        "isidentifier",
        "match",
        "fullmatch",
        "startswith",
        "endswith",
        "is_safe_url",
        "url_has_allowed_host_and_scheme",
        "search",
    }
)


def validated_names(test: ast.expr) -> tuple[set[str], bool]:
    """Names an ``if`` test validates, and whether the test passes for valid values.

    ``if "'" in name: return`` rejects bad values (negative); ``if name in ALLOWED:`` and
    ``if re.fullmatch(..., name):`` accept good ones (positive). Truthiness, ``None`` and length
    checks validate nothing.
    """
    negated = False
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        negated = not negated
        test = test.operand
    if isinstance(test, ast.BoolOp):
        names: set[str] = set()
        signs = set()
        for value in test.values:
            found, positive = validated_names(value)
            if found:
                names |= found
                signs.add(positive)
        if len(signs) != 1:
            return set(), False
        positive = signs.pop()
        if isinstance(test.op, ast.Or) and positive:
            return set(), False  # any one passing check lets a value through
        return names, positive != negated
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op = test.ops[0]
        left, right = test.left, test.comparators[0]
        if isinstance(op, (ast.In, ast.NotIn)):
            if isinstance(left, ast.Constant):  # "'" in value: a blacklist probe
                return names_in(right), isinstance(op, ast.NotIn) != negated
            return names_in(left), isinstance(op, ast.In) != negated
        if (
            isinstance(op, (ast.Eq, ast.NotEq))
            and not is_none(left)
            and not is_none(right)
            and (isinstance(right, ast.Constant) or isinstance(left, ast.Constant))
        ):
            return names_in(left) | names_in(right), isinstance(op, ast.Eq) != negated
    if isinstance(test, ast.Call):
        func = test.func
        method = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if method in VALIDATION_METHODS:
            names = set()
            if isinstance(func, ast.Attribute) and not (
                isinstance(func.value, ast.Name) and func.value.id == "re"
            ):
                names |= names_in(func.value)
            for arg in test.args:
                names |= names_in(arg)
            return names, not negated
    return set(), False


def names_in(node: ast.expr) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            name = dotted(sub)
            if name:
                found.add(name)
    return found


def is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def pattern_matches(pattern: ast.pattern, value) -> bool | None:
    if value is UNKNOWN:
        return None
    if isinstance(pattern, ast.MatchValue) and isinstance(pattern.value, ast.Constant):
        return pattern.value.value == value
    if isinstance(pattern, ast.MatchSingleton):
        return pattern.value is value
    if isinstance(pattern, ast.MatchOr):
        verdicts = [pattern_matches(p, value) for p in pattern.patterns]
        if any(v is True for v in verdicts):
            return True
        return False if all(v is False for v in verdicts) else None
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is None:
        return True
    return None


def is_route_handler(node: ast.FunctionDef | ast.AsyncFunctionDef, imports: dict[str, str]) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = dotted(target) or ""
        if name.rsplit(".", 1)[-1] in ROUTE_DECORATORS and "." in name:
            return True
        if name in ("api_view", "require_http_methods", "require_GET", "require_POST"):
            return True
    return False


def secretish(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in S.SECRET_NAME_WORDS)

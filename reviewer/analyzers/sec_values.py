"""Abstract values for the security taint tracker: what a variable may hold, and constant folding.

A value is either *tainted* (it may carry attacker-controlled data, with the kinds of attack it
is still dangerous for), *safe* (built only from literals and sanitisers, so proven harmless),
or neither (unknown origin: a plain parameter, the result of an unknown call). The difference
between "safe" and "unknown" is what lets the analyzer both report pattern findings on unknown
data at a low confidence and stay quiet where a value is provably constant (dead branches,
overwritten variables), which is most of what separates real flaws from false alarms.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field, replace
from typing import Any

# The attack kinds a tainted value can still carry; sanitisers remove some of them.
SQL, CMD, PATH, XSS, CODE, REDIRECT, SSRF, XPATH, LDAP, DESER, XXE, TRUST, RAND = (
    "sql",
    "cmd",
    "path",
    "xss",
    "code",
    "redirect",
    "ssrf",
    "xpath",
    "ldap",
    "deser",
    "xxe",
    "trust",
    "rand",
)
INJECTION_KINDS = frozenset(
    {SQL, CMD, PATH, XSS, CODE, REDIRECT, SSRF, XPATH, LDAP, DESER, XXE, TRUST}
)
# The environment and argv are controlled by whoever starts the process: dangerous for what
# runs commands or code, not a web-style injection source.
ENVIRONMENT_KINDS = frozenset({CMD, CODE})


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Val:
    """What an expression may evaluate to, as far as the tracker knows.

    ``taint``: attack kinds still open; ``origin``: line of the source it came from;
    ``const``: the value when it is a known literal; ``safe``: derived only from literals or
    sanitisers; ``items``/``keys``: element values of a list or mapping built in view;
    ``tag``: what kind of object it is when that matters to a sink ("path", "xmlparser-xxe",
    "xmldoc", "request", "module:...").
    """

    taint: frozenset[str] = frozenset()
    origin: int | None = None
    const: Any = UNKNOWN
    safe: bool = False
    items: tuple[Val, ...] | None = None
    keys: tuple[tuple[Any, Val], ...] | None = None
    tag: str | None = None
    text: bool = False  # built as a string (formatting, concatenation): matters for XSS returns
    strength: float = 0.9  # how sure the source is attacker-controlled
    members: frozenset[Any] = field(default=frozenset(), compare=False)

    @property
    def tainted(self) -> bool:
        return bool(self.taint)

    def without(self, kinds: frozenset[str]) -> Val:
        remaining = self.taint - kinds
        return replace(
            self, taint=remaining, safe=self.safe or not remaining, items=None, keys=None
        )

    def flat(self) -> Val:
        """The value without its known structure (an element of it, a copy of it)."""
        taint = self.taint
        safe = self.safe
        origin = self.origin
        strength = self.strength
        for part in self.parts():
            taint |= part.taint
            safe = safe and part.safe
            if part.tainted and origin is None:
                origin, strength = part.origin, part.strength
        return Val(
            taint=taint, origin=origin, safe=safe and not taint, strength=strength, text=self.text
        )

    def parts(self) -> list[Val]:
        found = list(self.items or ())
        found.extend(value for _, value in self.keys or ())
        return found


SAFE = Val(safe=True)
NOTHING = Val()


def const(value: Any) -> Val:
    return Val(const=value, safe=True, text=isinstance(value, str))


def source(kinds: frozenset[str], line: int, *, strength: float = 0.9, text: bool = True) -> Val:
    return Val(taint=kinds, origin=line, strength=strength, text=text)


def join(*values: Val) -> Val:
    """A value that may be any of ``values`` (both branches of an ``if``, say)."""
    values = tuple(v for v in values if v is not None)
    if not values:
        return NOTHING
    if len(values) == 1:
        return values[0]
    first = values[0]
    taint = frozenset().union(*(v.taint for v in values))
    origin, strength = None, 0.0
    for v in values:
        if v.tainted and v.strength > strength:
            origin, strength = v.origin, v.strength
    same_const = all(v.const is not UNKNOWN and v.const == first.const for v in values)
    items = None
    if all(v.items is not None for v in values) and len({len(v.items) for v in values}) == 1:
        items = tuple(join(*column) for column in zip(*(v.items for v in values)))
    keys = None
    if all(v.keys is not None for v in values):
        names = dict.fromkeys(k for v in values for k, _ in v.keys)
        keys = tuple((k, join(*(dict(v.keys).get(k, NOTHING) for v in values))) for k in names)
    tags = {v.tag for v in values}
    return Val(
        taint=taint,
        origin=origin,
        const=first.const if same_const else UNKNOWN,
        safe=all(v.safe for v in values) and not taint,
        items=items,
        keys=keys,
        tag=tags.pop() if len(tags) == 1 else None,
        text=any(v.text for v in values),
        strength=strength or 0.9,
    )


def combine(*values: Val, text: bool = False) -> Val:
    """A value computed from all of ``values`` (a concatenation, a call's result)."""
    flat = [v.flat() for v in values]
    joined = join(*flat) if flat else SAFE
    return replace(
        joined,
        const=UNKNOWN,
        safe=all(v.safe for v in flat),
        text=text or joined.text,
        tag=None,
        items=None,
        keys=None,
    )


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_FOLDABLE = (str, int, float, bool, bytes, type(None), tuple, frozenset)


def fold_binop(op: ast.operator, left: Any, right: Any) -> Any:
    """``left op right`` for small literals, UNKNOWN when not computable cheaply and safely."""
    fn = _BINOPS.get(type(op))
    if fn is None or left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    if isinstance(left, str) and isinstance(right, (tuple, dict)) and isinstance(op, ast.Mod):
        return UNKNOWN
    if isinstance(op, ast.Mult) and (
        isinstance(left, (str, bytes)) or isinstance(right, (str, bytes))
    ):
        return UNKNOWN  # "x" * 10**9
    try:
        result = fn(left, right)
    except Exception:  # noqa: BLE001 - folding is best effort
        return UNKNOWN
    if isinstance(result, (str, bytes)) and len(result) > 10_000:
        return UNKNOWN
    return result if isinstance(result, _FOLDABLE) else UNKNOWN


def fold_compare(ops: list[ast.cmpop], operands: list[Any]) -> Any:
    if any(o is UNKNOWN for o in operands):
        return UNKNOWN
    try:
        for op, left, right in zip(ops, operands, operands[1:]):
            fn = _COMPARE.get(type(op))
            if fn is None or not fn(left, right):
                return False if fn is not None else UNKNOWN
        return True
    except Exception:  # noqa: BLE001
        return UNKNOWN


def fold_subscript(base: Any, index: Any) -> Any:
    if base is UNKNOWN or index is UNKNOWN or not isinstance(base, (str, bytes, tuple)):
        return UNKNOWN
    try:
        return base[index]
    except Exception:  # noqa: BLE001
        return UNKNOWN


def truth(value: Val) -> bool | None:
    """Whether a condition is known to be true or false (None when it depends on data)."""
    if value.const is UNKNOWN:
        return None
    try:
        return bool(value.const)
    except Exception:  # noqa: BLE001
        return None

"""Where a JS/TS value comes from: local declarations, and whether input can shape a string part.

The security rules ask one question of each variable part of a built string: could a request
put text there? Constants, numbers, SCREAMING_CASE configuration names and placeholder lists
built from a count (``ids.map(() => '?').join(',')``) cannot; anything else is assumed to.
Resolution is deliberately local (same function or module, declared before use): a reviewer
reads the code around the line, not the whole program.
"""

from __future__ import annotations

import re
from collections import defaultdict

from reviewer.analyzers.js_base import is_constant
from reviewer.analyzers.js_parser import (
    FUNCTION_TYPES,
    JsTree,
    callee_name,
    callee_object,
    enclosing_function,
    strip_wrappers,
)

_CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_NUMERIC_CALLS = frozenset({"parseInt", "parseFloat", "Number", "toFixed", "getTime", "now"})
_NUMERIC_OPERATORS = frozenset({"-", "*", "/", "%", "**", "|", "&", "<<", ">>"})
_SANITIZER = re.compile(r"sanitiz|escape|purify|encode|xss|clean|quote", re.IGNORECASE)


class Scope:
    """The file's variable declarations and ``+=`` assignments by name, for local look-ups."""

    def __init__(self, tree: JsTree) -> None:
        self.tree = tree
        self.declarations: dict[str, list] = defaultdict(list)
        self.appends: dict[str, list] = defaultdict(list)
        for node in tree.nodes("variable_declarator", "augmented_assignment_expression"):
            if node.type == "variable_declarator":
                name = node.child_by_field_name("name")
                if name is not None and name.type == "identifier":
                    self.declarations[name.text.decode()].append(node)
            else:
                left = node.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    self.appends[left.text.decode()].append(node)

    def _visible(self, candidates: list, use) -> list:
        """Candidates declared before ``use`` in a function enclosing it (or at module level)."""
        chain = []
        function = enclosing_function(use)
        while function is not None:
            chain.append(function.id)
            function = enclosing_function(function)
        visible = []
        for node in candidates:
            if node.start_byte >= use.start_byte:
                continue
            owner = enclosing_function(node)
            if owner is None or owner.id in chain:
                visible.append(node)
        return visible

    def value_of(self, identifier):
        """The initial value of the declaration ``identifier`` refers to, or None."""
        visible = self._visible(self.declarations.get(identifier.text.decode(), []), identifier)
        return visible[-1].child_by_field_name("value") if visible else None

    def appended(self, identifier) -> list:
        """The right-hand sides of ``name += ...`` before this use."""
        visible = self._visible(self.appends.get(identifier.text.decode(), []), identifier)
        return [node.child_by_field_name("right") for node in visible]

    def is_const(self, identifier) -> bool:
        visible = self._visible(self.declarations.get(identifier.text.decode(), []), identifier)
        return (
            bool(visible)
            and visible[-1].parent is not None
            and (
                visible[-1].parent.child(0) is not None
                and visible[-1].parent.child(0).type == "const"
            )
        )


def dynamic_parts(node) -> list:
    """The non-literal parts of a string expression: template substitutions, ``+`` operands."""
    node = strip_wrappers(node)
    if node is None:
        return []
    if node.type == "template_string":
        return [
            child.named_children[0]
            for child in node.named_children
            if child.type == "template_substitution" and child.named_children
        ]
    if node.type == "binary_expression" and _operator(node) == "+":
        parts = []
        for side in ("left", "right"):
            child = node.child_by_field_name(side)
            if child is not None and strip_wrappers(child).type in {
                "string",
                "template_string",
                "binary_expression",
            }:
                parts.extend(dynamic_parts(child))
            elif child is not None:
                parts.append(child)
        return parts
    if node.type in {"string"}:
        return []
    return [node]


def is_safe_part(scope: Scope, node, *, sanitizers: bool, depth: int = 0) -> bool:
    """Whether request text cannot reach this part of a string (see the module docstring)."""
    node = strip_wrappers(node)
    if node is None or depth > 4:
        return False
    if is_constant(node) or _is_numeric(node):
        return True
    if node.type == "identifier":
        name = node.text.decode()
        if _CONSTANT_NAME.match(name) and len(name) > 1:
            return True
        value = scope.value_of(node)
        if value is not None and scope.is_const(node):
            return is_safe_part(scope, value, sanitizers=sanitizers, depth=depth + 1)
        return False
    if node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return prop is not None and bool(_CONSTANT_NAME.match(prop.text.decode()))
    if node.type == "call_expression":
        if sanitizers and _SANITIZER.search(callee_name(node)):
            return True
        return is_placeholder_list(node)
    if node.type in {"template_string", "binary_expression"}:
        parts = dynamic_parts(node)
        return all(
            is_safe_part(scope, part, sanitizers=sanitizers, depth=depth + 1) for part in parts
        )
    if node.type == "ternary_expression":
        branches = [node.child_by_field_name(f) for f in ("consequence", "alternative")]
        return all(
            b is not None and is_safe_part(scope, b, sanitizers=sanitizers, depth=depth + 1)
            for b in branches
        )
    return False


def is_placeholder_list(node) -> bool:
    """``ids.map(() => '?').join(', ')``, ``Array(n).fill('?').join()``, ``'?, '.repeat(n)``:
    strings whose content depends on a count only, never on the items."""
    node = strip_wrappers(node)
    if node is None:
        return False
    if node.type != "call_expression":
        return is_constant(node)
    name = callee_name(node)
    receiver = callee_object(node)
    args = _arguments(node)
    if name == "map":
        return len(args) >= 1 and _ignores_items(args[0])
    if name == "fill":
        return bool(args) and is_constant(args[0])
    if name in {"join", "repeat", "slice", "trim"}:
        return receiver is not None and is_placeholder_list(receiver)
    return False


def _ignores_items(function) -> bool:
    """A callback that uses neither its first parameter (the item) nor any outer name."""
    if function.type not in FUNCTION_TYPES:
        return False
    params = function.child_by_field_name("parameters") or function.child_by_field_name("parameter")
    body = function.child_by_field_name("body")
    if params is None or body is None:
        return False
    names = [n.text.decode() for n in _descendants(params) if n.type in {"identifier"} and n.text]
    if params.type == "identifier":
        names = [params.text.decode()]
    item, others = (names[0], set(names[1:])) if names else ("", set())
    for node in _descendants(body):
        if node.type == "identifier":
            text = node.text.decode()
            if text == item or text not in others:
                return False
    return True


def _descendants(node):
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(reversed(current.children))


def _is_numeric(node) -> bool:
    if node.type == "number":
        return True
    if node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return prop is not None and prop.text == b"length"
    if node.type == "call_expression":
        function = node.child_by_field_name("function")
        if function is not None and function.type == "member_expression":
            obj = function.child_by_field_name("object")
            if obj is not None and obj.text == b"Math":
                return True
        return callee_name(node) in _NUMERIC_CALLS
    if node.type == "binary_expression":
        return _operator(node) in _NUMERIC_OPERATORS
    if node.type == "unary_expression":
        return _operator(node) in {"+", "-", "~"}
    return False


def _operator(node) -> str:
    operator = node.child_by_field_name("operator")
    return operator.type if operator is not None else ""


def _arguments(call) -> list:
    args = call.child_by_field_name("arguments")
    if args is None or args.type != "arguments":
        return []
    return [child for child in args.named_children if child.type != "comment"]

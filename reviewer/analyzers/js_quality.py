"""Quality rules for JavaScript and TypeScript: bug patterns, leftovers, swallowed errors, complexity.

The bug patterns (``x === NaN``, a misspelt ``typeof`` result, ``if (a = b)``) are always
wrong, so they rank high. Style-adjacent rules follow the file's own conventions instead of
ours: ``==`` is reported only in files that mostly use ``===`` (eslint's "smart" exceptions:
``== null``, ``typeof`` and literal-to-literal comparisons are fine), ``var`` only in files
that already use ``let``/``const``, and ``console.log`` not in tests, scripts or CLIs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from reviewer.analyzers.base import Hit
from reviewer.analyzers.js_base import JsAnalyzer, JsRule, is_constant
from reviewer.analyzers.js_parser import (
    FUNCTION_TYPES,
    JsTree,
    callee_name,
    callee_object,
    end_line_of,
    line_of,
    strip_wrappers,
)
from reviewer.analyzers.js_secrets import is_test_path
from reviewer.findings import Category, Severity

_H, _M, _L, _I = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO

RULES: dict[str, JsRule] = {
    "nan-comparison": JsRule(_H, 0.95, None, ("use-isnan",)),
    "invalid-typeof": JsRule(_H, 0.95, None, ("valid-typeof",)),
    "assignment-in-condition": JsRule(_M, 0.8, "CWE-481", ("no-cond-assign",)),
    "empty-catch": JsRule(_M, 0.75, "CWE-390", ("no-empty",)),
    "debugger-statement": JsRule(_M, 0.95, "CWE-489", ("no-debugger",)),
    "loose-equality": JsRule(_L, 0.6, "CWE-597", ("eqeqeq",)),
    "var-declaration": JsRule(_L, 0.6, None, ("no-var",)),
    "console-log": JsRule(_I, 0.5, None, ("no-console",)),
    "high-complexity": JsRule(_M, 0.7, None, ("complexity",)),
    "long-function": JsRule(_L, 0.6, None, ("max-lines-per-function", "max-statements")),
}

COMPLEXITY_MEDIUM = 10  # as radon's limits for Python
COMPLEXITY_HIGH = 20
# Longer than radon's 60 for Python: JSX markup and chained calls spread over more lines.
MAX_FUNCTION_LINES = 80

_TYPEOF_RESULTS = frozenset(
    {"undefined", "object", "boolean", "number", "string", "function", "symbol", "bigint"}
)
_CONSOLE_DEBUG = frozenset({"log", "debug", "trace", "dir", "table"})
_SCRIPT_PATH = re.compile(r"(^|/)(scripts?|bin|tools?|cli|examples?|demos?)/|(^|/)cli\.[a-z]+$")
_BRANCHES = frozenset(
    {
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "catch_clause",
        "ternary_expression",
    }
)
_LOGICAL = frozenset({"&&", "||", "??"})
_CONDITION_OWNERS = frozenset({"if_statement", "while_statement", "do_statement"})


class JsQualityAnalyzer(JsAnalyzer):
    """Always-wrong comparisons, assignments in conditions, empty catches, leftovers, complexity."""

    name = "js-quality"
    tool = "js-quality"
    category = Category.QUALITY
    rules = RULES

    def __init__(
        self,
        *,
        complexity_medium: int = COMPLEXITY_MEDIUM,
        complexity_high: int = COMPLEXITY_HIGH,
        max_lines: int = MAX_FUNCTION_LINES,
    ) -> None:
        self.complexity_medium = complexity_medium
        self.complexity_high = complexity_high
        self.max_lines = max_lines

    def check(self, tree: JsTree) -> Iterable[Hit]:
        nodes = tree.nodes(
            "binary_expression",
            "catch_clause",
            "debugger_statement",
            "call_expression",
            "variable_declaration",
            "lexical_declaration",
            "parenthesized_expression",
            *FUNCTION_TYPES,
        )
        by_type: dict[str, list] = {}
        for node in nodes:
            by_type.setdefault(node.type, []).append(node)
        yield from self._comparisons(tree, by_type.get("binary_expression", []))
        yield from self._conditions(tree, by_type.get("parenthesized_expression", []))
        yield from self._catches(tree, by_type.get("catch_clause", []))
        yield from self._catch_callbacks(tree, by_type.get("call_expression", []))
        for node in by_type.get("debugger_statement", []):
            yield self._debugger(tree, node)
        yield from self._console(tree, by_type.get("call_expression", []))
        yield from self._vars(
            tree, by_type.get("variable_declaration", []), by_type.get("lexical_declaration", [])
        )
        functions = [node for node in nodes if node.type in FUNCTION_TYPES]
        yield from self._functions(tree, functions)

    # --- comparisons ----------------------------------------------------------------------

    def _comparisons(self, tree: JsTree, binaries: list) -> Iterator[Hit]:
        loose, strict = [], 0
        for node in binaries:
            operator = _operator(node)
            if operator not in {"==", "!=", "===", "!=="}:
                continue
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is None or right is None:
                continue
            if _is_nan(left) or _is_nan(right):
                yield self.hit(
                    tree,
                    node,
                    "nan-comparison",
                    f"`{tree.text(node)}` is always {'true' if '!' in operator else 'false'}: "
                    "NaN equals nothing, itself included. Use `Number.isNaN(x)`.",
                )
                continue
            typo = _bad_typeof(left, right)
            if typo is not None:
                yield self.hit(
                    tree,
                    node,
                    "invalid-typeof",
                    f"`typeof` never returns {typo!r}, so this comparison is constant; "
                    f"valid results: {', '.join(sorted(_TYPEOF_RESULTS))}.",
                )
                continue
            if operator in {"===", "!=="}:
                strict += 1
            elif not _smart_exception(left, right):
                loose.append(node)
        # A file that mostly compares loosely follows its own (old) convention; reporting each
        # new `==` in it would be noise. Two strict uses are enough to show the convention.
        if strict < 2 or strict < len(loose):
            return
        per_line: dict[int, list] = {}
        for node in loose:
            per_line.setdefault(line_of(node), []).append(node)
        for nodes in per_line.values():
            for node in nodes:
                operator = _operator(node)
                yield self.hit(
                    tree,
                    node,
                    "loose-equality",
                    f"`{operator}` converts types before comparing (`'' == 0`, `'1' == 1` are "
                    f"true); use `{operator}=`.",
                    suggestion=_strict_suggestion(tree, node) if len(nodes) == 1 else None,
                    single_line=True,
                )

    def _conditions(self, tree: JsTree, parens: list) -> Iterator[Hit]:
        for node in parens:
            owner = node.parent
            if owner is None or owner.type not in _CONDITION_OWNERS:
                continue
            if owner.child_by_field_name("condition") != node:
                continue
            inner = [child for child in node.named_children if child.type != "comment"]
            # A doubly parenthesised assignment, `if ((m = re.exec(s)))`, is the idiom for
            # "assignment intended" (eslint's except-parens), so only the bare form fires.
            if len(inner) == 1 and inner[0].type == "assignment_expression":
                yield self.hit(
                    tree,
                    inner[0],
                    "assignment-in-condition",
                    f"`{tree.text(inner[0])}` assigns instead of comparing; use `===`, or wrap "
                    "it in a second pair of parentheses if the assignment is intended.",
                )

    # --- errors ------------------------------------------------------------------------------

    def _catches(self, tree: JsTree, catches: list) -> Iterator[Hit]:
        for node in catches:
            body = node.child_by_field_name("body")
            if body is None or body.named_child_count:  # statements or comments inside
                continue
            yield self.hit(
                tree,
                node,
                "empty-catch",
                "this `catch` swallows every error silently; handle it, log it, or say in a "
                "comment why ignoring it is safe.",
            )

    def _catch_callbacks(self, tree: JsTree, calls: list) -> Iterator[Hit]:
        for call in calls:
            if callee_name(call) != "catch" or callee_object(call) is None:
                continue
            args = call.child_by_field_name("arguments")
            handlers = [c for c in (args.named_children if args else []) if c.type != "comment"]
            if len(handlers) != 1 or handlers[0].type not in FUNCTION_TYPES:
                continue
            body = handlers[0].child_by_field_name("body")
            if body is not None and body.type == "statement_block" and not body.named_child_count:
                yield self.hit(
                    tree,
                    call,
                    "empty-catch",
                    "`.catch(() => {})` discards the rejection silently; handle or log it, or "
                    "say in a comment why ignoring it is safe.",
                    single_line=True,
                )

    # --- leftovers ----------------------------------------------------------------------------

    def _debugger(self, tree: JsTree, node) -> Hit:
        line_text = tree.source.lines()[line_of(node) - 1]
        alone = line_text.strip().rstrip(";").strip() == "debugger"
        return self.hit(
            tree,
            node,
            "debugger-statement",
            "`debugger` left in: it pauses every user whose developer tools are open.",
            suggestion="" if alone else None,
        )

    def _console(self, tree: JsTree, calls: list) -> Iterator[Hit]:
        path = tree.source.path
        if is_test_path(path) or _SCRIPT_PATH.search(path) or tree.source.text.startswith("#!"):
            return
        for call in calls:
            obj = callee_object(call)
            if obj is None or obj.text != b"console" or callee_name(call) not in _CONSOLE_DEBUG:
                continue
            yield self.hit(
                tree,
                call,
                "console-log",
                f"`console.{callee_name(call)}` looks like debugging output left in; remove it "
                "or use the project's logger.",
                single_line=True,
            )

    def _vars(self, tree: JsTree, var_declarations: list, lexical: list) -> Iterator[Hit]:
        if not lexical and tree.grammar == "javascript":
            return  # an ES5 file: `var` is its only option and its convention
        for node in var_declarations:
            yield self.hit(
                tree,
                node,
                "var-declaration",
                "`var` is function-scoped and hoisted, which invites bugs in loops and "
                "closures; use `const` (or `let` if it is reassigned).",
                single_line=True,
            )

    # --- size -------------------------------------------------------------------------------

    def _functions(self, tree: JsTree, functions: list) -> Iterator[Hit]:
        source = tree.source
        for function in functions:
            first, last = line_of(function), end_line_of(function)
            if not source.touches(first, last):
                continue
            name = function_name(function)
            complexity = cyclomatic_complexity(function)
            if complexity > self.complexity_medium:
                yield self.hit(
                    tree,
                    function,
                    "high-complexity",
                    f"`{name}` has a cyclomatic complexity of {complexity} (limit "
                    f"{self.complexity_medium}); split it so each part can be understood and "
                    "tested on its own.",
                    severity=_H if complexity > self.complexity_high else _M,
                    anchor=f"function {name}",
                )
            length = last - first + 1
            if length > self.max_lines and not (
                is_test_path(source.path)
                and function.parent is not None
                and function.parent.type == "arguments"
            ):
                yield self.hit(
                    tree,
                    function,
                    "long-function",
                    f"`{name}` is {length} lines long (limit {self.max_lines}).",
                    anchor=f"function {name}",
                )


def cyclomatic_complexity(function) -> int:
    """McCabe's number: 1 + branches (if, loops, catch, ?:, case, &&, ||, ??).

    Nested functions are not counted: they get their own number.
    """
    total = 1
    pending = list(function.children)
    while pending:
        node = pending.pop()
        kind = node.type
        if kind in FUNCTION_TYPES:
            continue
        if (
            kind in _BRANCHES
            or kind == "switch_case"
            or kind == "binary_expression"
            and _operator(node) in _LOGICAL
        ):
            total += 1
        pending.extend(node.children)
    return total


def function_name(function) -> str:
    """A readable, stable name: ``Class.method``, the variable or property holding it, or
    ``<anonymous>`` plus the name of the function around it."""
    name = function.child_by_field_name("name")
    parent = function.parent
    if name is None and parent is not None:
        if parent.type == "variable_declarator":
            name = parent.child_by_field_name("name")
        elif parent.type in {"pair", "assignment_expression"}:
            name = parent.child_by_field_name("key") or parent.child_by_field_name("left")
        elif parent.type in {"public_field_definition", "field_definition"}:
            name = parent.child_by_field_name("name") or parent.child_by_field_name("property")
    text = name.text.decode("utf-8", "replace") if name is not None else "<anonymous>"
    if function.type == "method_definition":
        owner = function.parent.parent if function.parent is not None else None
        owner_name = owner.child_by_field_name("name") if owner is not None else None
        if owner_name is not None:
            text = f"{owner_name.text.decode('utf-8', 'replace')}.{text}"
    elif name is None:
        outer = _outer_function(function)
        if outer is not None:
            text = f"<anonymous in {function_name(outer)}>"
    return text


def _outer_function(node):
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        current = current.parent
    return None


def _operator(node) -> str:
    operator = node.child_by_field_name("operator")
    return operator.type if operator is not None else ""


def _is_nan(node) -> bool:
    node = strip_wrappers(node)
    if node is None:
        return False
    if node.type == "identifier":
        return node.text == b"NaN"
    return node.type == "member_expression" and node.text.replace(b" ", b"") == b"Number.NaN"


def _is_typeof(node) -> bool:
    node = strip_wrappers(node)
    return node is not None and node.type == "unary_expression" and _operator(node) == "typeof"


def _bad_typeof(left, right) -> str | None:
    for a, b in ((left, right), (right, left)):
        b = strip_wrappers(b)
        if _is_typeof(a) and b is not None and b.type == "string":
            value = b.text.decode("utf-8", "replace")[1:-1]
            if value not in _TYPEOF_RESULTS:
                return value
    return None


def _smart_exception(left, right) -> bool:
    """eslint eqeqeq's "smart" cases, where `==` cannot surprise: null, typeof, two literals."""
    sides = [strip_wrappers(left), strip_wrappers(right)]
    if any(side is not None and side.type in {"null", "undefined"} for side in sides):
        return True
    if any(side is not None and side.text == b"undefined" for side in sides):
        return True
    if any(side is not None and _is_typeof(side) for side in sides):
        return True
    return all(side is not None and is_constant(side) for side in sides)


def _strict_suggestion(tree: JsTree, node) -> str | None:
    """The line with this one operator made strict, when the comparison sits on one line."""
    operator = node.child_by_field_name("operator")
    if operator is None or operator.start_point.row != operator.end_point.row:
        return None
    row = operator.start_point.row
    line = tree.data.split(b"\n")[row]
    column = operator.start_point.column
    fixed = line[:column] + operator.text + b"=" + line[operator.end_point.column :]
    return fixed.decode("utf-8", "replace").removesuffix("\r")

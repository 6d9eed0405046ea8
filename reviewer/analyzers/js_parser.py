"""Tree-sitter plumbing for the JavaScript/TypeScript rules: grammars, error-tolerant parsing, lookups.

Rules read syntax trees, never regexes over text: a string that merely contains ``eval(`` or a
comment mentioning ``innerHTML`` must not fire. tree-sitter parses broken code too; where a
syntax error makes it swallow a large region into an ERROR node (an unclosed brace eats the
rest of the file), that region is parsed again one top-level statement at a time
(``Parser.included_ranges`` keeps real line numbers), so findings after the broken line survive.

Grammars are loaded on first use (nothing happens at import) and cached per thread:
a tree-sitter ``Parser`` is not safe to share between the agents' analyzer threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import PurePosixPath

from reviewer.analyzers.base import SourceFile

JS_SUFFIXES = frozenset({".js", ".jsx", ".mjs", ".cjs"})
TS_SUFFIXES = frozenset({".ts", ".mts", ".cts"})
TSX_SUFFIXES = frozenset({".tsx"})
SUFFIXES: frozenset[str] = JS_SUFFIXES | TS_SUFFIXES | TSX_SUFFIXES

# An ERROR node spanning at least this many lines is re-parsed piece by piece; a smaller one
# is just the broken statement itself.
RECOVER_MIN_LINES = 3
_STATEMENT_START = re.compile(rb"[A-Za-z_$@/\[(`'\"]")
_FUNCTION_TYPES = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",  # older grammars' name for function_expression
        "generator_function_declaration",
        "generator_function",
        "arrow_function",
        "method_definition",
    }
)
FUNCTION_TYPES: frozenset[str] = _FUNCTION_TYPES


def grammar_name(path: str) -> str | None:
    """Which grammar parses ``path``: 'javascript', 'typescript', 'tsx', or None."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in JS_SUFFIXES:
        return "javascript"
    if suffix in TS_SUFFIXES:
        return "typescript"
    if suffix in TSX_SUFFIXES:
        return "tsx"
    return None


@cache
def _language(name: str):  # -> tree_sitter.Language
    import tree_sitter

    if name == "javascript":
        import tree_sitter_javascript

        return tree_sitter.Language(tree_sitter_javascript.language())
    import tree_sitter_typescript

    if name == "typescript":
        return tree_sitter.Language(tree_sitter_typescript.language_typescript())
    return tree_sitter.Language(tree_sitter_typescript.language_tsx())


_local = threading.local()


def _parser(name: str):  # -> tree_sitter.Parser
    parsers = _local.__dict__.setdefault("parsers", {})
    if name not in parsers:
        import tree_sitter

        parsers[name] = tree_sitter.Parser(_language(name))
    return parsers[name]


@cache
def _query(name: str, types: tuple[str, ...]):  # -> tree_sitter.Query
    """One query capturing every node of ``types`` that the grammar knows (run in C, fast)."""
    import tree_sitter

    language = _language(name)
    known = [t for t in types if language.id_for_node_kind(t, True) is not None]
    return tree_sitter.Query(language, " ".join(f"({t}) @n" for t in known) or "(ERROR) @n")


@dataclass
class JsTree:
    """A parsed JS/TS file: the main tree plus re-parsed pieces of regions it could not read."""

    source: SourceFile
    grammar: str
    data: bytes
    roots: list = field(default_factory=list)  # tree_sitter.Node; roots[0] is the whole file
    # Byte spans of the main tree that the recovered pieces replace.
    replaced: list[tuple[int, int]] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(self.roots) and self.roots[0].has_error

    def nodes(self, *types: str) -> list:
        """Every node of the given types, in file order, each once.

        Nodes of the main tree inside a replaced region are left out: the recovered pieces
        hold the better reading of that region.
        """
        import tree_sitter

        query = _query(self.grammar, tuple(sorted(set(types))))
        found: dict[tuple[int, int, str], object] = {}
        for index, root in enumerate(self.roots):
            for node in tree_sitter.QueryCursor(query).captures(root).get("n", []):
                if index == 0 and self._in_replaced(node.start_byte):
                    continue
                found.setdefault((node.start_byte, node.end_byte, node.type), node)
        return [found[key] for key in sorted(found)]

    def _in_replaced(self, offset: int) -> bool:
        return any(start <= offset < end for start, end in self.replaced)

    def text(self, node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def comments(self) -> list:
        return self.nodes("comment")


def line_of(node) -> int:
    """1-based first line of a node (tree-sitter rows split on LF, as git numbers lines)."""
    return node.start_point.row + 1


def end_line_of(node) -> int:
    """1-based last line of a node (a node ending at column 0 ends on the line before)."""
    row, column = node.end_point.row, node.end_point.column
    if column == 0 and row > node.start_point.row:
        row -= 1
    return row + 1


def parse(source: SourceFile) -> JsTree | None:
    """The file's tree(s), or None when the path is not JavaScript or TypeScript."""
    grammar = grammar_name(source.path)
    if grammar is None:
        return None
    data = source.text.encode("utf-8")
    parser = _parser(grammar)
    _reset_ranges(parser)
    root = parser.parse(data).root_node
    tree = JsTree(source=source, grammar=grammar, data=data, roots=[root])
    if root.has_error:
        _recover(tree, parser)
    return tree


def _reset_ranges(parser) -> None:
    import tree_sitter

    whole = tree_sitter.Range(
        tree_sitter.Point(0, 0), tree_sitter.Point(0xFFFFFFFF, 0xFFFFFFFF), 0, 0xFFFFFFFF
    )
    parser.included_ranges = [whole]


def _recover(tree: JsTree, parser) -> None:
    """Re-parse each large ERROR region one top-level statement at a time."""
    import tree_sitter

    try:
        for error in _outermost_errors(tree.roots[0]):
            if end_line_of(error) - line_of(error) + 1 < RECOVER_MIN_LINES:
                continue
            tree.replaced.append((error.start_byte, error.end_byte))
            for start, end in _statement_chunks(tree.data, error.start_byte, error.end_byte):
                start_point = _point(tree.data, start)
                end_point = _point(tree.data, end)
                parser.included_ranges = [
                    tree_sitter.Range(
                        tree_sitter.Point(*start_point), tree_sitter.Point(*end_point), start, end
                    )
                ]
                tree.roots.append(parser.parse(tree.data).root_node)
    finally:
        _reset_ranges(parser)


def _outermost_errors(root) -> Iterator:
    pending = [root]
    while pending:
        node = pending.pop()
        if node.is_error:
            yield node
            continue
        if node.has_error:
            pending.extend(reversed(node.children))


def _statement_chunks(data: bytes, start: int, end: int) -> Iterable[tuple[int, int]]:
    """Byte spans in ``start..end`` each beginning at a line that starts at column 0.

    Code at column 0 is (in any conventionally formatted file) a new top-level statement;
    indented lines and closing brackets belong to the chunk above them.
    """
    boundaries = [start]
    offset = data.find(b"\n", start)
    while 0 <= offset < end - 1:
        line_start = offset + 1
        if _STATEMENT_START.match(data, line_start) and line_start < end:
            boundaries.append(line_start)
        offset = data.find(b"\n", line_start)
    boundaries.append(end)
    return [(a, b) for a, b in pairwise(boundaries) if b > a]


def _point(data: bytes, offset: int) -> tuple[int, int]:
    row = data.count(b"\n", 0, offset)
    line_start = data.rfind(b"\n", 0, offset) + 1
    return row, offset - line_start


# --- small helpers the rules share -------------------------------------------------------------


def field_node(node, name: str):
    return node.child_by_field_name(name)


def callee_name(call) -> str:
    """``eval`` for ``eval(x)``, ``query`` for ``db.pool.query(x)``, '' otherwise."""
    function = call.child_by_field_name("function") or call.child_by_field_name("constructor")
    if function is None:
        return ""
    if function.type == "identifier":
        return function.text.decode("utf-8", "replace")
    if function.type == "member_expression":
        prop = function.child_by_field_name("property")
        return prop.text.decode("utf-8", "replace") if prop is not None else ""
    return ""


def callee_object(call):
    """The object node of a member call (``db`` in ``db.query(x)``), else None."""
    function = call.child_by_field_name("function")
    if function is not None and function.type == "member_expression":
        return function.child_by_field_name("object")
    return None


def arguments(call) -> list:
    """The argument nodes of a call or ``new`` expression (comments left out)."""
    args = call.child_by_field_name("arguments")
    if args is None or args.type != "arguments":
        return []
    return [child for child in args.named_children if child.type != "comment"]


def enclosing(node, types: frozenset[str] | set[str]):
    """The nearest ancestor of one of ``types``, or None."""
    current = node.parent
    while current is not None:
        if current.type in types:
            return current
        current = current.parent
    return None


def enclosing_function(node):
    return enclosing(node, _FUNCTION_TYPES)


def strip_wrappers(node):
    """The expression inside parentheses, ``as``/``satisfies``/``!`` casts and ``await``."""
    while node is not None and node.type in {
        "parenthesized_expression",
        "as_expression",
        "satisfies_expression",
        "non_null_expression",
        "type_assertion",
        "await_expression",
    }:
        inner = [child for child in node.named_children if child.type != "comment"]
        if not inner:
            break
        node = inner[0] if node.type != "type_assertion" else inner[-1]
    return node

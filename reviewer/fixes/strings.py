"""A string built from literals and simple variables, split into its pieces.

Both the SQL and the shell rewrites only handle strings whose every dynamic part is a plain
name or attribute (``f"... {name}"``, ``"..." + name``, ``"... %s" % name``): anything more
(calls, format specs, conversions) could change meaning when moved out of the string.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from reviewer.fixes.source import Source

_PERCENT = re.compile(r"%(?:%|s|d)|%")


@dataclass(frozen=True)
class Piece:
    """A literal part (``text`` is the text) or a value (``text`` is its source code)."""

    literal: bool
    text: str


def _simple(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _simple(node.value)
    if isinstance(node, ast.Subscript):
        return _simple(node.value) and isinstance(node.slice, ast.Constant | ast.Name)
    return False


def _merge(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for piece in pieces:
        if piece.literal and out and out[-1].literal:
            out[-1] = Piece(True, out[-1].text + piece.text)
        elif not (piece.literal and piece.text == ""):
            out.append(piece)
    return out


def pieces_of(node: ast.AST, source: Source) -> list[Piece] | None:
    """The pieces of a string expression, or None when it is not the simple kind."""
    pieces = _pieces(node, source)
    return None if pieces is None else _merge(pieces)


def _pieces(node: ast.AST, source: Source) -> list[Piece] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [Piece(True, node.value)]
    if isinstance(node, ast.JoinedStr):
        out: list[Piece] = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.append(Piece(True, value.value))
            elif (
                isinstance(value, ast.FormattedValue)
                and value.conversion == -1
                and value.format_spec is None
                and _simple(value.value)
            ):
                out.append(Piece(False, source.segment(value.value)))
            else:
                return None
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pieces(node.left, source), _pieces(node.right, source)
        if left is None or right is None:
            return None
        return left + right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _percent(node, source)
    if _simple(node):
        return [Piece(False, source.segment(node))]
    return None


def _percent(node: ast.BinOp, source: Source) -> list[Piece] | None:
    """``"... %s ..." % value`` or ``% (a, b)`` with only ``%s``/``%d``/``%%`` directives."""
    if not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
        return None
    values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
    if not all(_simple(v) for v in values):
        return None
    template = node.left.value
    out: list[Piece] = []
    position, used = 0, 0
    for match in _PERCENT.finditer(template):
        out.append(Piece(True, template[position : match.start()]))
        position = match.end()
        if match[0] == "%%":
            out.append(Piece(True, "%"))
        elif match[0] in ("%s", "%d") and used < len(values):
            out.append(Piece(False, source.segment(values[used])))
            used += 1
        else:
            return None  # another directive, or more directives than values
    out.append(Piece(True, template[position:]))
    return out if used == len(values) else None

"""Head-file text with AST positions mapped to text offsets, and edits turned into line fixes.

A fix is what a ```suggestion block carries: the replacement for whole lines
``line..end_line`` of the head file. Rewrites are written as small character edits on the
parsed file and widened here to the lines they touch.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``content`` (``start == end`` inserts)."""

    start: int
    end: int
    content: str


@dataclass(frozen=True)
class Fix:
    """The new text of head lines ``line..end_line`` (no trailing newline; ``""`` deletes them)."""

    line: int
    end_line: int
    replacement: str

    @property
    def new_line_count(self) -> int:
        return 0 if self.replacement == "" else self.replacement.count("\n") + 1


class Source:
    """One head file: its text, lines (LF-numbered like git) and, lazily, its syntax tree."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.lines = text.split("\n")
        self._starts = [0]
        for line in self.lines:
            self._starts.append(self._starts[-1] + len(line) + 1)

    @cached_property
    def tree(self) -> ast.Module | None:
        try:
            return ast.parse(self.text, filename=self.path)
        except (SyntaxError, ValueError):
            return None

    def line_start(self, line: int) -> int:
        return self._starts[line - 1]

    def offset(self, line: int, col: int) -> int:
        """The text offset of an AST position (``col`` counts UTF-8 bytes, as ast does)."""
        raw = self.lines[line - 1].encode("utf-8")[:col]
        return self._starts[line - 1] + len(raw.decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def line_of(self, offset: int) -> int:
        """The 1-based line holding ``offset``."""
        low, high = 0, len(self._starts) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if self._starts[mid] <= offset:
                low = mid
            else:
                high = mid - 1
        return min(low + 1, len(self.lines))

    def nodes_in(self, kind: type[ast.AST] | tuple[type[ast.AST], ...], first: int, last: int):
        """Nodes of ``kind`` that start on a line in ``first..last``, in source order."""
        if self.tree is None:
            return []
        found = [
            n
            for n in ast.walk(self.tree)
            if isinstance(n, kind) and first <= n.lineno <= last  # type: ignore[attr-defined]
        ]
        return sorted(found, key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]

    def fix_from_edits(self, edits: list[Edit]) -> Fix | None:
        """The whole-line fix that makes ``edits``; None when there are none or they overlap."""
        if not edits:
            return None
        ordered = sorted(edits, key=lambda e: (e.start, e.end))
        for before, after in pairwise(ordered):
            if after.start < before.end:
                return None
        first = self.line_of(ordered[0].start)
        last = max(self.line_of(max(e.end - 1, e.start)) for e in ordered)
        region_start = self._starts[first - 1]
        region_end = self._starts[last] - 1  # the end of line ``last``, before its newline
        region = self.text[region_start:region_end]
        for edit in reversed(ordered):
            a, b = edit.start - region_start, edit.end - region_start
            region = region[:a] + edit.content + region[b:]
        return Fix(first, last, region)


def apply_fix(text: str, fix: Fix) -> str:
    """``text`` with lines ``fix.line..fix.end_line`` replaced, as GitHub commits a suggestion."""
    lines = text.split("\n")
    new = [] if fix.replacement == "" else fix.replacement.split("\n")
    return "\n".join(lines[: fix.line - 1] + new + lines[fix.end_line :])


def remove_item(source: Source, call: ast.Call, item: ast.AST) -> Edit:
    """The edit removing one argument or keyword from a call, with its separating comma."""
    items = sorted([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset))
    index = next(i for i, n in enumerate(items) if n is item)
    start, end = source.span(item)
    if index > 0:
        return Edit(source.span(items[index - 1])[1], end, "")
    if index + 1 < len(items):
        return Edit(start, source.span(items[index + 1])[0], "")
    # the only argument: drop it and a trailing comma before the closing parenthesis
    close = source.span(call)[1] - 1
    return Edit(start, close, "")


def python_string(value: str) -> str:
    """A Python literal for ``value``, double-quoted when that needs no escapes."""
    if '"' not in value and "\\" not in value and value.isprintable():
        return f'"{value}"'
    return repr(value)

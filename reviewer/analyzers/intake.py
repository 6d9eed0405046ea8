"""Turns a pull request's changed file into an analysable SourceFile, or a SkipNote saying why not.

Every guard the analyzers rely on lives here, so no engine sees a file that could crash or
stall it: missing content, binary data, text that is not UTF-8, very large or minified files,
and code that does not parse (the service runs on Python >= 3.12, so PEP 701 f-strings and
other new syntax parse; what still fails is a real syntax error, reported with its line).
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import PurePosixPath

from reviewer.analyzers.base import SourceFile, split_lines
from reviewer.diff import DiffError, parse_file_patch
from reviewer.payloads import SkipNote
from reviewer.snapshot import ChangedFile, FileStatus

DEFAULT_MAX_BYTES = 1_000_000
# A line this long in source code means generated or minified content, which no static rule
# reads usefully and which makes some engines slow.
MINIFIED_LINE_CHARS = 2_000
# Build output named as such (``app.min.js``, ``styles-min.css``): minified even when a tool
# wrapped its lines short.
MINIFIED_NAME = re.compile(r"[.-]min\.(js|mjs|cjs|css)$", re.IGNORECASE)
PYTHON_SUFFIXES = frozenset({".py", ".pyi"})


def intake(
    changed: ChangedFile, *, max_bytes: int = DEFAULT_MAX_BYTES, parse: bool = True
) -> SourceFile | SkipNote | None:
    """A SourceFile to analyse, a SkipNote for the review, or None when there is nothing to do.

    None means the pull request changes no head-side line of the file (a removal, a pure
    rename), which is not worth a note.
    """
    path = changed.path
    if changed.status == FileStatus.REMOVED:
        return None
    if changed.skip_reason:
        return SkipNote(path=path, reason=changed.skip_reason)
    text = changed.head_content
    if text is None:
        return SkipNote(path=path, reason="head content not available")
    if MINIFIED_NAME.search(path):
        return SkipNote(path=path, reason="minified file (by its name)")
    problem = content_problem(text, max_bytes=max_bytes)
    if problem:
        return SkipNote(path=path, reason=problem)

    changed_lines = _changed_lines(changed, text)
    if isinstance(changed_lines, SkipNote):
        return changed_lines
    if not changed_lines:
        return None

    tree = None
    # Only Python is parsed here; other languages' analyzers parse with their own
    # error-tolerant parsers (tree-sitter for JS/TS), so ast's verdict means nothing to them.
    if parse and PurePosixPath(path).suffix.lower() in PYTHON_SUFFIXES:
        tree = parse_module(text, path)
        if isinstance(tree, str):
            return SkipNote(path=path, reason=tree)
    return SourceFile(path=path, text=text, changed_lines=frozenset(changed_lines), tree=tree)


def content_problem(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """Why this text cannot be analysed (binary, not UTF-8, too large, minified), or None."""
    if "\x00" in text:
        return "binary content"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # Lone surrogates: the bytes were decoded with surrogateescape, so they were not UTF-8.
        return "not valid UTF-8"
    if size > max_bytes:
        return f"file too large to analyse ({size:,} bytes, limit {max_bytes:,})"
    longest = max((len(line) for line in split_lines(text)), default=0)
    if longest > MINIFIED_LINE_CHARS:
        return f"looks generated or minified (a line of {longest:,} characters)"
    return None


def parse_module(text: str, path: str) -> ast.Module | str:
    """The module's AST, or a reason naming the syntax error and its line."""
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences etc. warn at parse time; they are not our concern here.
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=path)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        return f"syntax error{where}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        # ValueError: source the compiler refuses (e.g. null bytes); RecursionError: nesting
        # too deep for the parser. Both are the file's problem, not ours.
        return f"could not parse: {type(exc).__name__}"


def _changed_lines(changed: ChangedFile, text: str) -> set[int] | SkipNote:
    if changed.patch is None:
        if changed.status == FileStatus.ADDED:
            return set(range(1, len(split_lines(text)) + 1))
        if changed.additions == 0:
            return set()
        return SkipNote(
            path=changed.path, reason="no diff from the code host; changed lines unknown"
        )
    try:
        return parse_file_patch(changed.path, changed.patch).added_lines
    except DiffError as exc:
        return SkipNote(path=changed.path, reason=f"patch could not be parsed: {exc}")

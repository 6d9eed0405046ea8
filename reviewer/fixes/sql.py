"""Parameterised SQL for the simple cases: a string built into ``cursor.execute(...)``.

``cur.execute(f"... WHERE name = '{name}'")`` becomes ``cur.execute("... WHERE name = ?",
(name,))``. The placeholder must be the driver's (DB-API ``paramstyle``), so the rewrite only
happens when the module shows which driver it uses: sqlite3 takes ``?``; psycopg, MySQLdb,
PyMySQL, mysql-connector and Django take ``%s`` (and then a literal ``%`` must be doubled).
A value in a place parameters cannot go (a table or column name, ``IN (...)`` lists, inside
a ``LIKE`` pattern) leaves the finding as advice.
"""

from __future__ import annotations

import ast
import re

from reviewer.findings import Finding
from reviewer.fixes.source import Edit, Fix, Source, python_string
from reviewer.fixes.strings import Piece, pieces_of

QMARK_DRIVERS = frozenset({"sqlite3", "aiosqlite"})
FORMAT_DRIVERS = frozenset({"psycopg", "psycopg2", "MySQLdb", "pymysql", "mysql", "django"})
EXECUTE_METHODS = frozenset({"execute"})
# A value right after these is an identifier or a list, not a value parameters can carry.
_IDENTIFIER_BEFORE = re.compile(
    r"(?:\b(?:FROM|JOIN|INTO|UPDATE|TABLE|BY|AS)|\bIN\s*\(|[.\"`\[(])\s*$", re.IGNORECASE
)


def placeholder_for(tree: ast.Module | None) -> str | None:
    """``?`` or ``%s`` from the driver the module imports; None when unknown or ambiguous."""
    if tree is None:
        return None
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    styles = {"?" for r in roots if r in QMARK_DRIVERS} | {"%s" for r in roots if r in FORMAT_DRIVERS}
    return styles.pop() if len(styles) == 1 else None


def parameterise(pieces: list[Piece], placeholder: str) -> tuple[str, list[str]] | None:
    """The SQL text with placeholders and the parameter expressions, or None."""
    pieces = list(pieces)
    sql = ""
    params: list[str] = []
    for index, piece in enumerate(pieces):
        if piece.literal:
            sql += piece.text.replace("%", "%%") if placeholder == "%s" else piece.text
            continue
        following = pieces[index + 1] if index + 1 < len(pieces) else None
        if following is not None and not following.literal:
            return None  # two values side by side: one SQL token built from both
        after = following.text if following is not None else ""
        quoted_before, quoted_after = sql.endswith("'"), after.startswith("'")
        if quoted_before != quoted_after:
            return None  # part of a quoted literal (a LIKE pattern, a prefix): not one value
        if quoted_before:
            sql, after = sql[:-1], after[1:]
            pieces[index + 1] = Piece(True, after)
        elif _IDENTIFIER_BEFORE.search(sql) or (after[:1] and after[:1] in '."`]'):
            return None
        if sql.replace("''", "").count("'") % 2:
            return None  # inside a quoted SQL literal
        if _word_char(sql[-1:]) or _word_char(after[:1]):
            return None  # glued to a word: the value is part of a longer token
        sql += placeholder
        params.append(piece.text)
    return (sql, params) if params else None


def _word_char(char: str) -> bool:
    return bool(char) and (char.isalnum() or char == "_")


def fix_sql_injection(finding: Finding, source: Source) -> Fix | None:
    """Move values out of the SQL string passed to ``execute`` into a parameter tuple."""
    placeholder = placeholder_for(source.tree)
    if placeholder is None:
        return None
    for call in source.nodes_in(ast.Call, finding.line, finding.last_line):
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in EXECUTE_METHODS):
            continue
        if len(call.args) != 1 or call.keywords:
            return None  # already has parameters, or is not the simple form
        pieces = pieces_of(call.args[0], source)
        if pieces is None or not any(not p.literal for p in pieces):
            return None
        built = parameterise(list(pieces), placeholder)
        if built is None:
            return None
        sql, params = built
        values = f"({params[0]},)" if len(params) == 1 else f"({', '.join(params)})"
        edit = Edit(*source.span(call.args[0]), f"{python_string(sql)}, {values}")
        return source.fix_from_edits([edit])
    return None

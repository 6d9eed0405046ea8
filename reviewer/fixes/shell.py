"""``subprocess.*(command_string, shell=True)`` → an argument list, without a shell.

Only for a command made of literal text and simple variables, where each variable is one
whole argument: the literal parts are split the way a POSIX shell would (``shlex.split``)
and each variable becomes its own list item, so whatever it holds is never parsed by a
shell. Any shell syntax in the literal (pipes, redirections, globs, ``$``, ``;``...) means
the shell was doing real work: the finding stays advice.
"""

from __future__ import annotations

import ast
import shlex

from reviewer.findings import Finding
from reviewer.fixes.source import Edit, Fix, Source, python_string, remove_item
from reviewer.fixes.strings import pieces_of

SUBPROCESS_CALLS = frozenset({"run", "call", "check_call", "check_output", "Popen"})
SHELL_SYNTAX = frozenset("|&;<>()$`*?[]{}~!#\\\n")


def argument_list(pieces) -> list[str] | None:
    """Python expressions for each argument, or None when the command is not the simple kind."""
    if not pieces or not pieces[0].literal:
        return None  # the program itself comes from a variable
    items: list[str] = []
    for index, piece in enumerate(pieces):
        if not piece.literal:
            items.append(piece.text)
            continue
        text = piece.text
        if SHELL_SYNTAX & set(text):
            return None
        if index > 0 and not text[:1].isspace():
            return None  # glued to the variable before it
        if index + 1 < len(pieces) and not text[-1:].isspace():
            return None  # glued to the variable after it
        try:
            words = shlex.split(text)
        except ValueError:
            return None  # a quote left open across a variable
        items.extend(python_string(w) for w in words)
    return items if items else None


def fix_shell_true(finding: Finding, source: Source) -> Fix | None:
    for call in source.nodes_in(ast.Call, finding.line, finding.last_line):
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in SUBPROCESS_CALLS
            and isinstance(func.value, ast.Name)
            and func.value.id == "subprocess"
        ):
            continue
        shell = next((k for k in call.keywords if k.arg == "shell"), None)
        if shell is None or not (isinstance(shell.value, ast.Constant) and shell.value.value is True):
            continue
        if not call.args or isinstance(call.args[0], ast.Starred):
            return None
        pieces = pieces_of(call.args[0], source)
        items = argument_list(pieces) if pieces is not None else None
        if items is None:
            return None
        edits = [
            Edit(*source.span(call.args[0]), "[" + ", ".join(items) + "]"),
            remove_item(source, call, shell),
        ]
        return source.fix_from_edits(edits)
    return None

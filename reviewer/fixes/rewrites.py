"""Deterministic rewrites for well-understood findings: each returns a Fix or None.

Every rewrite looks for its exact pattern on the finding's lines and gives up on anything
less simple (no guessing): a finding without a rewrite stays plain advice. Whatever a rewrite
produces is still validated before it is offered (see :mod:`reviewer.fixes.validate`).
"""

from __future__ import annotations

import ast
import re

from reviewer.findings import Finding
from reviewer.fixes.source import Edit, Fix, Source, remove_item

DEFAULT_TIMEOUT_S = 10
HTTP_MODULES = frozenset({"requests", "httpx"})
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
YAML_SAFE = {"load": "safe_load", "load_all": "safe_load_all"}
YAML_LOADERS = frozenset({"Loader", "FullLoader", "UnsafeLoader", "SafeLoader", "BaseLoader"})
_BARE_EXCEPT = re.compile(r"except\s*:")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _calls(source: Source, finding: Finding) -> list[ast.Call]:
    return source.nodes_in(ast.Call, finding.line, finding.last_line)


def fix_yaml_load(finding: Finding, source: Source) -> Fix | None:
    """``yaml.load(x[, Loader=...])`` → ``yaml.safe_load(x)``."""
    for call in _calls(source, finding):
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in YAML_SAFE
            and isinstance(func.value, ast.Name)
            and func.value.id == "yaml"
        ):
            continue
        if not call.args or any(isinstance(a, ast.Starred) for a in call.args):
            return None
        edits = [Edit(*source.span(func), f"yaml.{YAML_SAFE[func.attr]}")]
        loader = call.args[1] if len(call.args) == 2 else None
        for keyword in call.keywords:
            if keyword.arg != "Loader" or loader is not None:
                return None  # other keywords: not the simple case
            loader = keyword
        if len(call.args) > 2:
            return None
        if loader is not None:
            value = loader.value if isinstance(loader, ast.keyword) else loader
            name = _dotted(value) or ""
            if name.rsplit(".", 1)[-1] not in YAML_LOADERS:
                return None  # a custom loader: the author meant something we cannot see
            edits.append(remove_item(source, call, loader))
        return source.fix_from_edits(edits)
    return None


def fix_request_timeout(finding: Finding, source: Source) -> Fix | None:
    """``requests.get(url)`` → ``requests.get(url, timeout=10)``."""
    for call in _calls(source, finding):
        name = _dotted(call.func) or ""
        module, _, method = name.rpartition(".")
        if module not in HTTP_MODULES or method not in HTTP_METHODS:
            continue
        if any(k.arg in (None, "timeout") for k in call.keywords):
            continue  # already has one, or **kwargs may carry it
        close = source.span(call)[1] - 1
        if source.text[close] != ")":
            return None
        items = [*call.args, *call.keywords]
        if not items:
            return source.fix_from_edits([Edit(close, close, f"timeout={DEFAULT_TIMEOUT_S}")])
        last_end = max(source.span(n)[1] for n in items)
        between = source.text[last_end:close]
        if "," in between:
            comma = last_end + between.index(",")
            edit = Edit(comma, comma + 1, f", timeout={DEFAULT_TIMEOUT_S},")
        else:
            edit = Edit(last_end, last_end, f", timeout={DEFAULT_TIMEOUT_S}")
        return source.fix_from_edits([edit])
    return None


def fix_verify_false(finding: Finding, source: Source) -> Fix | None:
    """Drop ``verify=False`` (certificate checks come back on)."""
    for call in _calls(source, finding):
        for keyword in call.keywords:
            if (
                keyword.arg == "verify"
                and isinstance(keyword.value, ast.Constant)
                and keyword.value.value is False
            ):
                return source.fix_from_edits([remove_item(source, call, keyword)])
    return None


def fix_bare_except(finding: Finding, source: Source) -> Fix | None:
    """``except:`` → ``except Exception:`` (KeyboardInterrupt and SystemExit pass through)."""
    for handler in source.nodes_in(ast.ExceptHandler, finding.line, finding.last_line):
        if handler.type is not None:
            continue
        start = source.offset(handler.lineno, handler.col_offset)
        match = _BARE_EXCEPT.match(source.text, start)
        if match is None:
            return None
        return source.fix_from_edits([Edit(start, match.end(), "except Exception:")])
    return None


def _is_mutable(node: ast.AST) -> bool:
    if isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("list", "dict", "set", "bytearray")
    )


def _defaults(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[ast.arg, ast.AST]]:
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    return pairs


def fix_mutable_default(finding: Finding, source: Source) -> Fix | None:
    """``def f(x=[]):`` → ``def f(x=None):`` plus ``if x is None: x = []`` in the body."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    candidates = [
        f
        for f in source.nodes_in(kinds, 1, finding.last_line)
        if f.lineno <= finding.line and f.body[0].lineno > finding.line
    ]
    if not candidates:
        return None
    function = candidates[-1]  # the innermost signature holding the finding's line
    mutable = [(a, d) for a, d in _defaults(function) if _is_mutable(d)]
    flagged = [(a, d) for a, d in mutable if finding.line <= d.lineno <= finding.last_line]
    mutable = flagged or mutable
    body = function.body
    if not mutable or body[0].lineno == function.lineno:
        return None  # nothing to fix, or a one-line function with no room for a guard
    first = body[0]
    is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and (
        isinstance(first.value.value, str)
    )
    if is_docstring:
        if len(body) == 1:
            return None
        first = body[1]
    if first.lineno <= (body[0].end_lineno or 0) and first is not body[0]:
        return None  # a statement sharing the docstring's line
    indent_text = source.lines[first.lineno - 1]
    indent = indent_text[: len(indent_text) - len(indent_text.lstrip())]
    edits: list[Edit] = []
    guards: list[str] = []
    for arg, default in mutable:
        if arg.annotation is not None:
            if isinstance(arg.annotation, ast.Constant):
                return None  # a string annotation cannot take "| None" at run time
            annotation = source.segment(arg.annotation)
            if "None" not in annotation and "Optional" not in annotation:
                edits.append(Edit(*source.span(arg.annotation), f"{annotation} | None"))
        edits.append(Edit(*source.span(default), "None"))
        guards.append(
            f"{indent}if {arg.arg} is None:\n{indent}    {arg.arg} = {source.segment(default)}\n"
        )
    insert_at = source.line_start(first.lineno)
    edits.append(Edit(insert_at, insert_at, "".join(guards)))
    return source.fix_from_edits(edits)

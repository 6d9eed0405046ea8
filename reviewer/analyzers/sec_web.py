"""Web-framework misconfigurations: unescaped templates, CSRF off, wildcard CORS, JWT, hashids.

These are settings, not data flows: one call or assignment decides that a whole class of
requests is unprotected (every page rendered without escaping, every form without a CSRF
token, every origin allowed to read authenticated responses, tokens accepted unsigned).
Test modules are skipped for the switches tests legitimately flip (CSRF, CORS).
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.sec_ast import dotted
from reviewer.analyzers.sec_rulekit import (
    Rule,
    Scope,
    build_scope,
    finding,
    is_const,
    is_test_path,
    keyword,
    walk_with_function,
)
from reviewer.findings import Severity

# Flask turns autoescaping on only for these template extensions.
AUTOESCAPED = frozenset({".html", ".htm", ".xml", ".xhtml", ".svg"})
CSRF_SWITCHES = frozenset({"WTF_CSRF_ENABLED", "WTF_CSRF_CHECK_DEFAULT", "CSRF_ENABLED"})
CORS_ALL_SETTINGS = frozenset({"CORS_ORIGIN_ALLOW_ALL", "CORS_ALLOW_ALL_ORIGINS"})

UNESCAPED_TEMPLATE = Rule(
    "unescaped-template-extension",
    "CWE-79",
    Severity.MEDIUM,
    0.55,
    "Flask autoescapes only .html/.htm/.xml/.xhtml/.svg templates; {name} is rendered with "
    "context variables but without escaping - rename it or escape the values",
)
CSRF_DISABLED = Rule(
    "csrf-disabled",
    "CWE-352",
    Severity.MEDIUM,
    0.7,
    "{what} turns CSRF protection off; state-changing requests can be forged from other sites",
)
CSRF_EXEMPT = Rule(
    "csrf-exempt",
    "CWE-352",
    Severity.MEDIUM,
    0.5,
    "this view is exempt from CSRF protection; make sure it authenticates requests another "
    "way (signature, token header) or remove the exemption",
)
WILDCARD_CORS = Rule(
    "wildcard-cors",
    "CWE-942",
    Severity.MEDIUM,
    0.65,
    "{what} lets any origin read the responses; list the trusted origins instead",
)
HASHIDS_SECRET = Rule(
    "hashids-with-secret-key",
    "CWE-327",
    Severity.HIGH,
    0.8,
    "hashids is reversible: salting it with the application's SECRET_KEY lets anyone who "
    "collects a few ids recover the key; use a separate salt",
)
AUTOESCAPE_OFF = Rule(
    "xss-autoescape-off",
    "CWE-79",
    Severity.HIGH,
    0.7,
    "template autoescaping is switched off for every template of this engine; values "
    "rendered into HTML are not escaped",
)
JWT_CREDENTIALS = Rule(
    "jwt-exposed-credentials",
    "CWE-522",
    Severity.HIGH,
    0.7,
    "a password is put into a JWT payload, which is only base64-encoded: anyone holding "
    "the token can read it",
)
JWT_NONE = Rule(
    "jwt-none-algorithm",
    "CWE-327",
    Severity.HIGH,
    0.85,
    "the JWT `none` algorithm means unsigned tokens; anyone can forge them",
)
JWT_UNVERIFIED = Rule(
    "jwt-unverified",
    "CWE-347",
    Severity.HIGH,
    0.75,
    "the JWT is decoded without checking its signature; a forged token is accepted",
)


def _dict_of(node: ast.expr, function, *, tree: ast.AST | None) -> ast.Dict | None:
    """The dict literal ``node`` is, or the one its name was assigned in the function/module."""
    if isinstance(node, ast.Dict):
        return node
    if not isinstance(node, ast.Name):
        return None
    for holder in (function, tree):
        if holder is None:
            continue
        found = [
            n.value
            for n in ast.walk(holder)
            if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)
        ]
        if len(found) == 1:
            return found[0]
    return None


def template_extension(node: ast.expr | None, scope: Scope, function) -> str | None:
    """The file extension a template-name expression ends in ('' for none), None if unknown."""
    text: object = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        text = scope.constant(node.right, function)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        text = scope.constant(node.left, function)
    elif isinstance(node, ast.JoinedStr) and node.values:
        text = scope.constant(node.values[-1], function)  # type: ignore[arg-type]
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format":
            text = scope.constant(node.func.value, function)
    else:
        text = scope.constant(node, function)
    if not isinstance(text, str) or ("/" in text and text.endswith("/")):
        return None
    return PurePosixPath(text).suffix.lower()


class WebConfigAnalyzer(Analyzer):
    """Framework settings that switch a protection off for every request."""

    name = "sec-web"
    tool = "reviewer-security"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        tree = source.syntax_tree()
        scope = build_scope(tree)
        in_tests = is_test_path(source.path)
        output = AnalyzerOutput()
        for node, function in walk_with_function(tree):
            found: list[tuple[int, Rule, dict[str, str]]] = []
            if isinstance(node, ast.Call):
                found.extend(self._call(node, scope, function, in_tests))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not in_tests:
                found.extend(self._assign(node))
            elif isinstance(node, ast.Dict) and not in_tests:
                found.extend(self._dict(node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not in_tests:
                found.extend(self._decorators(node, scope))
            for line, rule, fmt in found:
                output.hits.append(Hit(finding(source.path, line, rule, self.source, **fmt)))
        return output

    # --- calls -----------------------------------------------------------------------------

    def _call(self, node: ast.Call, scope: Scope, function, in_tests: bool):
        name = scope.call_name(node)
        last = name.rsplit(".", 1)[-1]
        if name == "flask.render_template":
            template = node.args[0] if node.args else keyword(node, "template_name_or_list")
            has_context = len(node.args) > 1 or any(
                k.arg != "template_name_or_list" for k in node.keywords
            )
            extension = template_extension(template, scope, function)
            if has_context and extension is not None and extension not in AUTOESCAPED:
                yield node.lineno, UNESCAPED_TEMPLATE, {"name": f"a `{extension or 'no'}` template"}
        elif last == "Hashids" and name.startswith("hashids"):
            salt = keyword(node, "salt") or (node.args[0] if node.args else None)
            if salt is not None and "SECRET_KEY" in ast.unparse(salt):
                yield node.lineno, HASHIDS_SECRET, {}
        elif name in ("jwt.encode", "jwt.decode") or name.startswith("jwt.api_jwt"):
            yield from self._jwt(node, name, scope, function)
        elif not in_tests:
            yield from self._protection_call(node, name, last, scope, function)

    def _jwt(self, node: ast.Call, name: str, scope: Scope, function):
        algorithm = keyword(node, "algorithm")
        algorithms = scope.constant(keyword(node, "algorithms"), function)
        names = [algorithms] if isinstance(algorithms, str) else []
        names += algorithms if isinstance(algorithms, list) else []
        if isinstance(algorithm, ast.Constant) and isinstance(algorithm.value, str):
            names.append(algorithm.value)
        if any(isinstance(a, str) and a.lower() == "none" for a in names):
            yield node.lineno, JWT_NONE, {}
        if name.endswith("encode") and node.args:
            payload = _dict_of(node.args[0], function, tree=scope.tree)
            if payload is not None and any(
                isinstance(k, ast.Constant) and "password" in str(k.value).lower()
                for k in payload.keys
            ):
                yield payload.lineno, JWT_CREDENTIALS, {}
        elif name.endswith("decode"):
            options = keyword(node, "options")
            unverified = is_const(keyword(node, "verify"), False)
            if isinstance(options, ast.Dict):
                unverified |= any(
                    is_const(k, "verify_signature") and is_const(v, False)
                    for k, v in zip(options.keys, options.values, strict=True)
                )
            if unverified:
                yield node.lineno, JWT_UNVERIFIED, {}

    def _protection_call(self, node: ast.Call, name: str, last: str, scope: Scope, function):
        if last in ("set_default_csrf_options", "view_config") and (
            is_const(keyword(node, "require_csrf"), False)
            or is_const(keyword(node, "check_origin"), False)
        ):
            yield node.lineno, CSRF_DISABLED, {"what": f"`{last}(require_csrf=False)`"}
        for k in node.keywords:
            if k.arg in CSRF_SWITCHES and is_const(k.value, False):
                yield node.lineno, CSRF_DISABLED, {"what": f"`{k.arg}=False`"}
        if last == "CORS" and name.startswith("flask_cors"):
            origins = scope.constant(keyword(node, "origins"), function)
            resources = keyword(node, "resources")
            wildcard = origins == "*" or (isinstance(origins, list) and "*" in origins)
            if isinstance(resources, ast.Dict):
                wildcard |= any(
                    isinstance(v, ast.Dict)
                    and any(
                        is_const(k2, "origins") and scope.constant(v2, function) in ("*", ["*"])
                        for k2, v2 in zip(v.keys, v.values, strict=True)
                    )
                    for v in resources.values
                )
            if wildcard and is_const(keyword(node, "supports_credentials"), True):
                yield node.lineno, WILDCARD_CORS, {"what": "CORS with origins='*' and credentials"}
            elif wildcard:
                yield node.lineno, WILDCARD_CORS, {"what": "CORS with origins='*'"}
        elif last == "add_middleware" and node.args and "CORS" in (dotted(node.args[0]) or ""):
            origins_node = keyword(node, "allow_origins")
            origins = scope.constant(origins_node, function)
            if origins == "*" or (isinstance(origins, list) and "*" in origins):
                line = origins_node.lineno if origins_node is not None else node.lineno
                yield line, WILDCARD_CORS, {"what": "CORSMiddleware with allow_origins=['*']"}

    # --- assignments and settings ------------------------------------------------------------

    def _assign(self, node: ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            key = None
            if isinstance(target, ast.Name):
                key = target.id
            elif isinstance(target, ast.Attribute):
                key = target.attr
            elif isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                key = target.slice.value
            if key in CSRF_SWITCHES and is_const(node.value, False):
                yield node.lineno, CSRF_DISABLED, {"what": f"`{key} = False`"}
            elif key in CORS_ALL_SETTINGS and is_const(node.value, True):
                yield node.lineno, WILDCARD_CORS, {"what": f"`{key} = True`"}
            elif (
                isinstance(key, str)
                and key.lower() == "access-control-allow-origin"
                and is_const(node.value, "*")
            ):
                yield node.lineno, WILDCARD_CORS, {"what": "`Access-Control-Allow-Origin: *`"}

    def _dict(self, node: ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if (
                isinstance(key, ast.Constant)
                and key.value in CSRF_SWITCHES
                and is_const(value, False)
            ):
                yield key.lineno, CSRF_DISABLED, {"what": f"`{key.value}: False`"}
            elif is_const(key, "autoescape") and is_const(value, False):
                yield key.lineno, AUTOESCAPE_OFF, {}

    def _decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope):
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = scope.qualify(dotted(target) or "")
            if name.endswith(("csrf_exempt", "csrf.exempt")):
                yield decorator.lineno, CSRF_EXEMPT, {}

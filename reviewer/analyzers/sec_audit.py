"""Language-level hazards a reviewer flags on sight: cleartext transports, hidden shell access.

Each rule looks at one call or import: a URL opener given an ``http://``/``ftp://`` URL,
credentials sent over plain HTTP, ``os.system`` reached through ``__import__``/``getattr``,
shell wildcards, permissions that let others write or execute, unsafe YAML loaders, the
``xmlrpc`` modules (entity expansion), and the interpreter APIs that run a string as code.
"""

from __future__ import annotations

import ast

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.sec_ast import dotted
from reviewer.analyzers.sec_rulekit import (
    Rule,
    Scope,
    build_scope,
    finding,
    keyword,
    walk_with_function,
)
from reviewer.findings import Severity

CLEARTEXT_SCHEMES = ("http://", "ftp://")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "[::1]")
URL_OPENERS = frozenset(
    {"urllib.request.urlopen", "urllib.request.urlretrieve", "urllib.urlopen", "urllib2.urlopen"}
)
OPENER_FACTORIES = frozenset(
    {
        "urllib.request.OpenerDirector",
        "urllib.request.build_opener",
        "urllib.request.URLopener",
        "urllib.request.FancyURLopener",
    }
)
HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
SHELL_RUNNERS = frozenset({"os.system", "os.popen", "os.popen2", "os.popen3", "os.popen4"})
OTHERS_BITS = frozenset({"S_IWOTH", "S_IXOTH", "S_IRWXO"})
XMLRPC_MODULES = ("xmlrpclib", "SimpleXMLRPCServer", "DocXMLRPCServer", "xmlrpc")
CODE_RUNNERS = frozenset({"runsource", "runcode", "push"})
SUBINTERP = frozenset({"_testcapi.run_in_subinterp", "test.support.run_in_subinterp"})

CLEARTEXT = Rule(
    "cleartext-transport",
    "CWE-319",
    Severity.MEDIUM,
    0.6,
    "{call} opens a {scheme} URL: the traffic is unencrypted and can be read or altered; "
    "use https:// (or sftp/ftps)",
)
AUTH_OVER_HTTP = Rule(
    "credentials-over-http",
    "CWE-523",
    Severity.HIGH,
    0.75,
    "credentials are sent with {call} to a plain http:// URL; use https://",
)
HIDDEN_SHELL = Rule(
    "dynamic-shell-access",
    "CWE-78",
    Severity.MEDIUM,
    0.55,
    "`{what}` reaches os.system/exec dynamically, which hides a shell command from review "
    "and scanners; import and call it directly (or avoid the shell)",
)
SHELL_WILDCARD = Rule(
    "shell-wildcard",
    "CWE-155",
    Severity.MEDIUM,
    0.6,
    "the shell expands `*` in this command; a file named like an option (`--checkpoint-action`) "
    "is passed as one - list the files explicitly or use `--` before them",
)
OPEN_PERMISSIONS = Rule(
    "permissive-file-permissions",
    "CWE-276",
    Severity.MEDIUM,
    0.65,
    "the mode gives other users write or execute permission on this file",
)
UNSAFE_YAML = Rule(
    "unsafe-deserialization",
    "CWE-502",
    Severity.HIGH,
    0.75,
    "ruamel.yaml's `{typ}` loader constructs arbitrary Python objects; use typ='safe'",
)
XMLRPC = Rule(
    "xmlrpc-entity-expansion",
    "CWE-776",
    Severity.MEDIUM,
    0.55,
    "the stdlib XML-RPC modules are open to entity-expansion attacks; call "
    "defusedxml.xmlrpc.monkey_patch() or use defusedxml",
)
CODE_RUN = Rule(
    "code-injection",
    "CWE-95",
    Severity.HIGH,
    0.6,
    "{call} runs a string as Python code; make sure it can never hold outside data",
)


def _first_url(node: ast.Call, scope: Scope, function) -> str | None:
    target = node.args[0] if node.args else keyword(node, "url") or keyword(node, "fullurl")
    value = scope.constant(target, function)
    return value if isinstance(value, str) else None


def _cleartext(url: str | None) -> str | None:
    if not url or not url.lower().startswith(CLEARTEXT_SCHEMES):
        return None
    host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()
    return None if host.startswith(LOCAL_HOSTS) or not host else url.split("://")[0]


class LanguageAuditAnalyzer(Analyzer):
    """Stdlib and common-library calls that are unsafe whatever data they get."""

    name = "sec-audit"
    tool = "reviewer-security"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        tree = source.syntax_tree()
        scope = build_scope(tree)
        openers = self._opener_names(tree, scope)
        patched = "defusedxml.xmlrpc" in source.text
        output = AnalyzerOutput()
        for node, function in walk_with_function(tree):
            found: list[tuple[int, Rule, dict[str, str]]] = []
            if isinstance(node, ast.Call):
                found.extend(self._call(node, scope, function, openers))
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and not patched:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                if any(n.split(".")[0] in XMLRPC_MODULES for n in names):
                    found.append((node.lineno, XMLRPC, {}))
            for line, rule, fmt in found:
                output.hits.append(Hit(finding(source.path, line, rule, self.source, **fmt)))
        return output

    @staticmethod
    def _opener_names(tree: ast.Module, scope: Scope) -> set[str]:
        names = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and scope.call_name(node.value) in OPENER_FACTORIES
            ):
                names.update(dotted(t) or "" for t in node.targets)
        return names - {""}

    def _call(self, node: ast.Call, scope: Scope, function, openers: set[str]):
        name = scope.call_name(node)
        func = node.func
        method = func.attr if isinstance(func, ast.Attribute) else None
        receiver = func.value if isinstance(func, ast.Attribute) else None
        on_opener = method in ("open", "retrieve") and (
            (dotted(receiver) or "") in openers
            or (isinstance(receiver, ast.Call) and scope.call_name(receiver) in OPENER_FACTORIES)
        )
        if name in URL_OPENERS or on_opener:
            scheme = _cleartext(_first_url(node, scope, function))
            if scheme:
                yield node.lineno, CLEARTEXT, {"call": f"`{name or method}()`", "scheme": scheme}
        elif name.startswith("requests.") and name.rsplit(".", 1)[-1] in HTTP_VERBS:
            args = node.args[1:] if name.endswith(".request") else node.args
            url = scope.constant(args[0] if args else keyword(node, "url"), function)
            auth = keyword(node, "auth")
            if auth is not None and isinstance(url, str) and _cleartext(url) == "http":
                yield node.lineno, AUTH_OVER_HTTP, {"call": f"`{name}()`"}
        elif name in SHELL_RUNNERS or (
            name.startswith("subprocess.") and _is_true(keyword(node, "shell"))
        ):
            command = scope.constant(node.args[0] if node.args else None, function)
            if isinstance(command, str) and ("*" in command.split() or " *" in command):
                yield node.lineno, SHELL_WILDCARD, {}
        elif name == "os.chmod" and len(node.args) > 1:
            mode = node.args[1]
            bits = {n.attr if isinstance(n, ast.Attribute) else n.id for n in _names(mode)}
            numbers = [
                n.value
                for n in ast.walk(mode)
                if isinstance(n, ast.Constant) and type(n.value) is int
            ]
            if bits & OTHERS_BITS or (not isinstance(mode, ast.Constant) and _others(numbers)):
                yield node.lineno, OPEN_PERMISSIONS, {}
        elif name in ("ruamel.yaml.YAML",):
            typ = scope.constant(keyword(node, "typ"), function)
            if typ in ("unsafe", "base"):
                yield node.lineno, UNSAFE_YAML, {"typ": str(typ)}
        elif (name in SUBINTERP or name == "code.compile_command") and not _constant_arg(node):
            yield node.lineno, CODE_RUN, {"call": f"`{name}()`"}
        if _dynamic_os(node):
            yield node.lineno, HIDDEN_SHELL, {"what": ast.unparse(node.func)[:60]}
        if (
            method in CODE_RUNNERS
            and receiver is not None
            and not _constant_arg(node)
            and self._is_console(receiver, scope, function)
        ):
            yield node.lineno, CODE_RUN, {"call": f"`{method}()`"}

    @staticmethod
    def _is_console(receiver: ast.expr, scope: Scope, function) -> bool:
        if isinstance(receiver, ast.Call):
            return scope.call_name(receiver).startswith("code.Interactive")
        name = dotted(receiver)
        holder = function if function is not None else None
        body = getattr(holder, "body", None)
        if not name or body is None:
            return False
        for node in ast.walk(holder):  # type: ignore[arg-type]
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and any(dotted(t) == name for t in node.targets)
            ):
                return scope.call_name(node.value).startswith("code.Interactive")
        return False


def _others(numbers: list[int]) -> bool:
    """A mode bit for others' write/execute (0o002/0o001) among the OR-ed numbers."""
    return any(0 < n <= 0o7777 and n & 0o003 for n in numbers)


def _constant_arg(node: ast.Call) -> bool:
    return not node.args or isinstance(node.args[0], ast.Constant)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _names(node: ast.expr) -> list[ast.Name | ast.Attribute]:
    return [n for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute))]


def _dynamic_os(node: ast.Call) -> bool:
    """``__import__("os")`` or ``getattr(os, "system")``: the shell reached by a string."""
    func = node.func
    if isinstance(func, ast.Name) and func.id == "__import__" and node.args:
        return isinstance(node.args[0], ast.Constant) and node.args[0].value in ("os", "subprocess")
    if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
        attr = node.args[1]
        return isinstance(attr, ast.Constant) and str(attr.value).startswith(
            ("system", "popen", "exec", "spawn")
        )
    return False

"""Security rules for JavaScript and TypeScript, read from tree-sitter syntax trees.

Each rule fires on a sink (eval, innerHTML, a SQL call, a shell) only when what reaches it is
not fixed in the source: a literal passed to ``eval`` is odd but not injectable, a template
with a variable in it is. Severity follows how directly input can reach the sink: a string
built right there from a variable is high, a bare variable whose origin we cannot see is
medium with lower confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from reviewer.analyzers.base import Hit
from reviewer.analyzers.js_base import (
    JsAnalyzer,
    JsRule,
    is_built_string,
    is_constant,
    literal_text,
)
from reviewer.analyzers.js_parser import (
    JsTree,
    arguments,
    callee_name,
    callee_object,
    enclosing_function,
    strip_wrappers,
)
from reviewer.analyzers.js_secrets import secret_hits
from reviewer.analyzers.js_values import Scope, dynamic_parts, is_safe_part
from reviewer.findings import Category, Severity

_H, _M = Severity.HIGH, Severity.MEDIUM

RULES: dict[str, JsRule] = {
    "eval-use": JsRule(_H, 0.8, "CWE-95", ("no-eval", "no-new-func", "no-implied-eval")),
    "xss": JsRule(_H, 0.75, "CWE-79", ("react/no-danger", "no-unsanitized/property")),
    "sql-injection": JsRule(_H, 0.8, "CWE-89", ("security/detect-sql-injection",)),
    "command-injection": JsRule(_H, 0.8, "CWE-78", ("security/detect-child-process",)),
    "tls-verification-disabled": JsRule(_H, 0.9, "CWE-295", ()),
    "insecure-random": JsRule(_M, 0.7, "CWE-338", ("security/detect-pseudoRandomBytes",)),
    "hardcoded-secret": JsRule(_H, 0.75, "CWE-798", ("no-secrets/no-secrets",)),
}

_EVAL_LIKE = frozenset({"runInThisContext", "runInNewContext", "runInContext", "compileFunction"})
_TIMERS = frozenset({"setTimeout", "setInterval", "setImmediate", "execScript"})
_HTML_PROPERTIES = frozenset({"innerHTML", "outerHTML"})
_SQL_CALLS = frozenset(
    {
        "query",
        "execute",
        "raw",
        "whereRaw",
        "orderByRaw",
        "havingRaw",
        "joinRaw",
        "unsafe",
        "$queryRawUnsafe",
        "$executeRawUnsafe",
        "queryRawUnsafe",
        "executeRawUnsafe",
    }
)
_SQL = re.compile(
    r"\b(select\s.+\sfrom|insert\s+into|update\s+\S+\s+set|delete\s+from|where\s|order\s+by"
    r"|group\s+by|create\s+table|drop\s+table|alter\s+table|values\s*\()",
    re.IGNORECASE | re.DOTALL,
)
_CHILD_PROCESS_MODULES = frozenset({"child_process", "node:child_process", "shelljs"})
_SHELL_CALLS = frozenset({"exec", "execSync"})
_SPAWN_CALLS = frozenset({"spawn", "spawnSync", "execFile", "execFileSync"})
_TLS_OFF = {"rejectUnauthorized": "false", "strictSSL": "false"}
_SECURITY_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "nonce",
        "salt",
        "otp",
        "csrf",
        "xsrf",
        "session",
        "sid",
        "apikey",
        "credential",
        "credentials",
        "invite",
        "reset",
        "verification",
        "signature",
        "pin",
        "passcode",
        "auth",
    }
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class JsSecurityAnalyzer(JsAnalyzer):
    """eval, DOM XSS sinks, SQL and shell strings built from input, TLS off, weak tokens, secrets."""

    name = "js-security"
    tool = "js-security"
    category = Category.SECURITY
    rules = RULES

    def check(self, tree: JsTree) -> Iterable[Hit]:
        scope = Scope(tree)
        shell = _ShellNames.read(tree)
        for node in tree.nodes(
            "call_expression",
            "new_expression",
            "assignment_expression",
            "augmented_assignment_expression",
            "jsx_attribute",
            "pair",
        ):
            kind = node.type
            if kind in {"call_expression", "new_expression"}:
                yield from self._call(tree, scope, shell, node)
            elif kind in {"assignment_expression", "augmented_assignment_expression"}:
                yield from self._assignment(tree, scope, node)
            elif kind == "jsx_attribute":
                yield from self._jsx_attribute(tree, scope, node)
            else:
                yield from self._pair(tree, node)
        yield from secret_hits(self, tree)

    # --- calls ----------------------------------------------------------------------------

    def _call(self, tree: JsTree, scope: Scope, shell: _ShellNames, call) -> Iterator[Hit]:
        name = callee_name(call)
        args = arguments(call)
        function = call.child_by_field_name("function") or call.child_by_field_name("constructor")
        if function is None:
            return
        if name in {"eval", "Function"} and _is_global(function):
            code = args if name == "Function" else args[:1]
            dynamic = [arg for arg in code if not is_safe_part(scope, arg, sanitizers=False)]
            if dynamic:
                yield self._injection(tree, call, "eval-use", dynamic, f"`{name}` runs code")
        elif name in _EVAL_LIKE and args and not is_safe_part(scope, args[0], sanitizers=False):
            yield self._injection(tree, call, "eval-use", args[:1], f"`{name}` runs code")
        elif name in _TIMERS and args and is_built_string(args[0]):
            if not is_safe_part(scope, args[0], sanitizers=False):
                yield self._injection(
                    tree, call, "eval-use", args[:1], f"`{name}` with a string evaluates it"
                )
        elif name in {"write", "writeln"} and _is_document(callee_object(call)):
            dynamic = [arg for arg in args if not is_safe_part(scope, arg, sanitizers=True)]
            if dynamic:
                yield self._injection(tree, call, "xss", dynamic, f"`document.{name}` parses HTML")
        elif name == "insertAdjacentHTML" and len(args) >= 2:
            if not is_safe_part(scope, args[1], sanitizers=True):
                yield self._injection(
                    tree, call, "xss", args[1:2], "`insertAdjacentHTML` parses HTML"
                )
        elif name == "html" and len(args) == 1 and _is_jquery(callee_object(call)):
            if not is_safe_part(scope, args[0], sanitizers=True):
                yield self._injection(tree, call, "xss", args, "jQuery `.html()` parses HTML")
        elif name in _SQL_CALLS and args:
            yield from self._sql(tree, scope, call, name, args[0])
        elif shell.is_shell_call(call, name, args):
            if args and not is_safe_part(scope, args[0], sanitizers=False):
                yield self._injection(
                    tree, call, "command-injection", args[:1], f"`{name}` runs a shell command"
                )
        elif name == "random" and _is_math(callee_object(call)):
            words = _context_words(tree, call)
            if words & _SECURITY_WORDS:
                yield self.hit(
                    tree,
                    call,
                    "insecure-random",
                    "`Math.random()` is predictable; a value used as a "
                    f"{'/'.join(sorted(words & _SECURITY_WORDS))} must come from a CSPRNG "
                    "(`crypto.randomBytes`, `crypto.randomUUID`, `crypto.getRandomValues`).",
                )

    def _sql(self, tree: JsTree, scope: Scope, call, name: str, query) -> Iterator[Hit]:
        query = strip_wrappers(query)
        if query is None:
            return
        built = [query]
        if query.type == "identifier":
            value = scope.value_of(query)
            built = ([value] if value is not None else []) + scope.appended(query)
            built = [b for b in built if b is not None]
            sql_text = " ".join(literal_text(b) for b in built)
        else:
            sql_text = literal_text(query)
        if not _SQL.search(sql_text):
            return
        dynamic = [
            part
            for b in built
            if b is not None and not is_constant(b)
            for part in dynamic_parts(b)
            if not is_safe_part(scope, part, sanitizers=False)
        ]
        if not dynamic:
            return
        what = "the SQL" if query.type != "identifier" else f"`{query.text.decode()}`"
        yield self.hit(
            tree,
            call,
            "sql-injection",
            f"`{name}` runs SQL text built by inserting "
            f"{_names(dynamic)} into {what}; pass values as bound parameters "
            "(placeholders plus a values array, or a tagged `sql` template).",
            single_line=False,
        )

    def _injection(self, tree: JsTree, call, rule: str, dynamic: list, what: str) -> Hit:
        built = any(is_built_string(arg) for arg in dynamic)
        severity = None if built else Severity.MEDIUM
        confidence = None if built else self.rules[rule].confidence - 0.15
        how = "a string built from" if built else "a value that is not a literal:"
        advice = {
            "eval-use": "parse data with `JSON.parse` or dispatch on known names instead.",
            "xss": "use `textContent`, or sanitise (e.g. DOMPurify) before inserting HTML.",
            "command-injection": "use `execFile`/`spawn` with an argument array and no shell.",
        }[rule]
        return self.hit(
            tree,
            call,
            rule,
            f"{what} from {how} {_names(dynamic)}; {advice}",
            severity=severity,
            confidence=confidence,
        )

    # --- assignments, JSX, object literals ----------------------------------------------------

    def _assignment(self, tree: JsTree, scope: Scope, node) -> Iterator[Hit]:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None:
            return
        target = _property_name(left)
        if target in _HTML_PROPERTIES and not is_safe_part(scope, right, sanitizers=True):
            yield self._injection(tree, node, "xss", [right], f"`{target}` parses HTML")
        elif target in _TLS_OFF and right.text.decode() == _TLS_OFF[target]:
            yield self._tls(tree, node, f"`{target} = false` turns off certificate checks")
        elif target == "NODE_TLS_REJECT_UNAUTHORIZED" and node.type == "assignment_expression":
            value = strip_wrappers(right)
            if value is not None and value.text.decode().strip("'\"`") == "0":
                yield self._tls(
                    tree,
                    node,
                    "`NODE_TLS_REJECT_UNAUTHORIZED=0` turns off certificate checks "
                    "for every TLS connection the process makes",
                )

    def _jsx_attribute(self, tree: JsTree, scope: Scope, node) -> Iterator[Hit]:
        name = node.named_children[0] if node.named_children else None
        if name is None or name.text != b"dangerouslySetInnerHTML":
            return
        for pair in _descendants_of_type(node, "pair"):
            key = pair.child_by_field_name("key")
            value = pair.child_by_field_name("value")
            if (
                key is not None
                and key.text.strip(b"'\"") == b"__html"
                and value is not None
                and not is_safe_part(scope, value, sanitizers=True)
            ):
                yield self._injection(
                    tree, node, "xss", [value], "`dangerouslySetInnerHTML` renders raw HTML"
                )

    def _pair(self, tree: JsTree, node) -> Iterator[Hit]:
        key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
        if key is None or value is None:
            return
        name = key.text.decode().strip("'\"")
        if name in _TLS_OFF and value.text.decode() == _TLS_OFF[name]:
            yield self._tls(tree, node, f"`{name}: false` turns off certificate checks")
        elif name == "checkServerIdentity" and _returns_nothing(value):
            yield self._tls(tree, node, "a `checkServerIdentity` that accepts every host")

    def _tls(self, tree: JsTree, node, what: str) -> Hit:
        return self.hit(
            tree,
            node,
            "tls-verification-disabled",
            f"{what}: anyone on the network path can impersonate the server. Trust the "
            "server's CA explicitly (the `ca` option) instead.",
        )


class _ShellNames:
    """Names bound to child_process (or shelljs) in this file, and the functions taken from it."""

    def __init__(self, modules: set[str], functions: dict[str, str]) -> None:
        self.modules = modules
        self.functions = functions  # local name -> child_process function name

    @classmethod
    def read(cls, tree: JsTree) -> _ShellNames:
        modules: set[str] = set()
        functions: dict[str, str] = {}
        for node in tree.nodes("import_statement", "variable_declarator"):
            if node.type == "import_statement":
                source = node.child_by_field_name("source")
                if (
                    source is None
                    or source.text.strip(b"'\"").decode() not in _CHILD_PROCESS_MODULES
                ):
                    continue
                for child in _descendants_of_type(node, "import_specifier"):
                    original = child.child_by_field_name("name")
                    alias = child.child_by_field_name("alias") or original
                    if original is not None and alias is not None:
                        functions[alias.text.decode()] = original.text.decode()
                for child in _descendants_of_type(node, "identifier"):
                    if child.parent is not None and child.parent.type in {
                        "import_clause",
                        "namespace_import",
                    }:
                        modules.add(child.text.decode())
                continue
            value = strip_wrappers(node.child_by_field_name("value"))
            target = node.child_by_field_name("name")
            if value is None or target is None:
                continue
            if _is_require_of_shell(value):
                if target.type == "identifier":
                    modules.add(target.text.decode())
                for pair in _descendants_of_type(target, "pair_pattern"):
                    key, alias = pair.child_by_field_name("key"), pair.child_by_field_name("value")
                    if key is not None and alias is not None:
                        functions[alias.text.decode()] = key.text.decode()
                for short in _descendants_of_type(target, "shorthand_property_identifier_pattern"):
                    functions[short.text.decode()] = short.text.decode()
            elif value.type == "call_expression" and callee_name(value) == "promisify":
                args = arguments(value)
                if args and target.type == "identifier":
                    wrapped = strip_wrappers(args[0])
                    inner = callee_name_of_reference(wrapped)
                    if wrapped is not None and (
                        wrapped.text.decode() in functions
                        or (_is_module_member(wrapped, modules) and inner)
                    ):
                        functions[target.text.decode()] = functions.get(
                            wrapped.text.decode(), inner
                        )
        return cls(modules, functions)

    def is_shell_call(self, call, name: str, args: list) -> bool:
        function = call.child_by_field_name("function")
        if function is None or call.type != "call_expression":
            return False
        if function.type == "identifier":
            original = self.functions.get(function.text.decode())
        elif function.type == "member_expression":
            obj = strip_wrappers(function.child_by_field_name("object"))
            on_module = obj is not None and (
                obj.text.decode() in self.modules or _is_require_of_shell(obj)
            )
            original = name if on_module else None
        else:
            original = None
        if original in _SHELL_CALLS:
            return True
        if original in _SPAWN_CALLS:
            return any(_has_true_option(arg, "shell") for arg in args[1:])
        return False


def callee_name_of_reference(node) -> str:
    if node is not None and node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return prop.text.decode() if prop is not None else ""
    return ""


def _is_module_member(node, modules: set[str]) -> bool:
    if node is None or node.type != "member_expression":
        return False
    obj = node.child_by_field_name("object")
    return obj is not None and obj.text.decode() in modules


def _is_require_of_shell(node) -> bool:
    if node is None or node.type != "call_expression" or callee_name(node) != "require":
        return False
    args = arguments(node)
    return (
        bool(args)
        and args[0].type == "string"
        and (args[0].text.strip(b"'\"").decode() in _CHILD_PROCESS_MODULES)
    )


def _has_true_option(node, option: str) -> bool:
    node = strip_wrappers(node)
    if node is None or node.type != "object":
        return False
    for pair in node.named_children:
        if pair.type == "pair":
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            if key is not None and key.text.strip(b"'\"").decode() == option:
                return value is not None and value.text not in {b"false", b"undefined", b"null"}
        if pair.type == "shorthand_property_identifier" and pair.text.decode() == option:
            return True
    return False


def _property_name(node) -> str:
    node = strip_wrappers(node)
    if node is None:
        return ""
    if node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return prop.text.decode() if prop is not None else ""
    if node.type == "subscript_expression":
        index = node.child_by_field_name("index")
        if index is not None and index.type == "string":
            return index.text.decode().strip("'\"")
    if node.type == "identifier":
        return node.text.decode()
    return ""


def _is_document(node) -> bool:
    node = strip_wrappers(node)
    if node is None:
        return False
    if node.type == "identifier":
        return node.text == b"document"
    return node.type == "member_expression" and _property_name(node) == "document"


def _is_global(function) -> bool:
    """``eval``/``Function`` themselves, not a method of that name (``redis.eval`` runs Lua)."""
    if function.type == "identifier":
        return True
    obj = function.child_by_field_name("object") if function.type == "member_expression" else None
    return obj is not None and obj.text in {b"window", b"globalThis", b"self", b"global"}


def _is_math(node) -> bool:
    return node is not None and node.type == "identifier" and node.text == b"Math"


def _is_jquery(node) -> bool:
    """``$(...)`` or ``jQuery(...)``, possibly through a chain (``$(x).find(y)``)."""
    while node is not None and node.type == "call_expression":
        function = node.child_by_field_name("function")
        if function is not None and function.type == "identifier":
            return function.text in {b"$", b"jQuery"}
        node = callee_object(node)
    return False


def _returns_nothing(node) -> bool:
    node = strip_wrappers(node)
    if node is None or node.type not in {"arrow_function", "function_expression", "function"}:
        return False
    body = node.child_by_field_name("body")
    if body is None:
        return False
    if body.type == "statement_block":
        return not any(
            child.type == "return_statement" and child.named_children
            for child in body.named_children
        )
    return body.text in {b"undefined", b"null"}


def _context_words(tree: JsTree, node) -> set[str]:
    """Words of the names a value flows into: its variable, property, or returning function."""
    words: set[str] = set()
    current = node.parent
    steps = 0
    while current is not None and steps < 12:
        steps += 1
        if current.type == "variable_declarator":
            words |= _words(current.child_by_field_name("name"))
            break
        if current.type in {"assignment_expression", "augmented_assignment_expression"}:
            words |= _words(current.child_by_field_name("left"))
            break
        if current.type in {"pair", "public_field_definition", "field_definition"}:
            words |= _words(
                current.child_by_field_name("key")
                or current.child_by_field_name("name")
                or current.child_by_field_name("property")
            )
            break
        if current.type == "jsx_attribute":
            break
        if current.type == "return_statement":
            current = enclosing_function(current)
            continue
        if current.type in {"function_declaration", "method_definition"}:
            words |= _words(current.child_by_field_name("name"))
            break
        if current.type in {"arrow_function", "function_expression", "function"}:
            declarator = current.parent
            if declarator is not None and declarator.type == "variable_declarator":
                words |= _words(declarator.child_by_field_name("name"))
            break
        if current.type in {"expression_statement", "statement_block", "program"}:
            break
        current = current.parent
    return words


def _words(node) -> set[str]:
    if node is None:
        return set()
    text = node.text.decode()
    if node.type == "member_expression":
        text = _property_name(node)
    words = {word.lower() for word in _WORD.findall(text)}
    joined = "".join(sorted(words))
    if "api" in words and "key" in words:
        words.add("apikey")
    return words | ({joined} if joined in _SECURITY_WORDS else set())


def _descendants_of_type(node, kind: str) -> Iterator:
    pending = [node]
    while pending:
        current = pending.pop()
        if current.type == kind:
            yield current
        pending.extend(reversed(current.children))


def _names(nodes: list) -> str:
    shown = []
    for node in nodes[:3]:
        text = " ".join(node.text.decode("utf-8", "replace").split())
        text = f"{text[:40]}{'…' if len(text) > 40 else ''}"
        shown.append(f"`{text}`" if "`" not in text else text)
    return ", ".join(shown) + (" …" if len(nodes) > 3 else "")

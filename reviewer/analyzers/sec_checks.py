"""The taint walk's sink checks: which call is a sink of which kind, and what reaches it.

``SinkChecks`` is mixed into ``sec_flow.FunctionWalk``: the walk evaluates a call's receiver
and arguments to abstract values, then ``check_sinks`` decides whether the call is a sink and
records a ``Flow`` with the state of the value that reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reviewer.analyzers import sec_sinks as S
from reviewer.analyzers.sec_ast import dotted
from reviewer.analyzers.sec_values import Val, combine, truth


@dataclass(frozen=True)
class Flow:
    """A value reaching a sink: ``state`` is "tainted", "unknown" or "safe"."""

    sink: S.SinkKind
    line: int
    call: str
    state: str
    origin: int | None = None
    strength: float = 0.9
    detail: str = ""


class SinkChecks:
    """Sink detection for ``FunctionWalk``; needs ``flows``, ``imported_modules``, ``qualify``."""

    flows: list[Flow]
    imported_modules: frozenset[str]

    qualify: Callable[[str], str]

    def check_sinks(self, node, qualified, method, receiver, receiver_name, args, keywords, env):
        first = args[0] if args else None
        kw = keywords.get
        call = f"`{qualified or method}()`"
        is_local = bool(receiver_name) and receiver_name.split(".")[0] in env
        # code
        if qualified in S.CODE_CALLS and first is not None:
            self.flow(S.CODE_INJECTION, node, call, first)
        # commands
        elif qualified in S.SHELL_CALLS and first is not None:
            self.flow(S.COMMAND_INJECTION, node, call, first)
        elif qualified in S.SUBPROCESS_CALLS and (first or kw("args")) is not None:
            command = first or kw("args")
            shell = kw("shell")
            if shell is not None and truth(shell):
                self.flow(S.COMMAND_INJECTION, node, call, command)
            elif command.items:
                program = command.items[0]
                runs_shell = len(command.items) > 2 and command.items[1].const in S.SHELL_FLAGS
                if program.tainted:
                    self.flow(S.COMMAND_INJECTION, node, call, program)
                elif runs_shell:
                    self.flow(S.COMMAND_INJECTION, node, call, combine(*command.items[2:]))
                elif any(item.tainted for item in command.items[1:]):
                    self.flow(
                        S.COMMAND_INJECTION, node, call, combine(*command.items[1:]), strength=0.6
                    )
            elif command.tainted:
                self.flow(
                    S.COMMAND_INJECTION,
                    node,
                    call,
                    command,
                    strength=0.6 if command.items is None and not command.text else None,
                )
        elif qualified.startswith(S.EXEC_PREFIXES) and args:
            self.flow(S.COMMAND_INJECTION, node, call, combine(*args))
        # SQL
        elif (
            method in S.SQL_METHODS
            and first is not None
            and not qualified.startswith(("re.", "os."))
        ):
            sql = first if first is not None else kw("sql") or kw("query")
            if sql is not None and (sql.text or sql.tainted or sql.safe):
                self.flow(S.SQL_INJECTION, node, call, sql, built=sql.text)
        elif qualified in S.SQL_CALLS and (first or kw("sql")) is not None:
            self.flow(S.SQL_INJECTION, node, call, first or kw("sql"), built=True)
        # paths
        elif qualified in S.PATH_CALLS and (first or kw("file") or kw("path")) is not None:
            self.flow(S.PATH_TRAVERSAL, node, call, first or kw("file") or kw("path"))
        elif method in S.PATH_METHODS and receiver.tag == "path":
            self.flow(S.PATH_TRAVERSAL, node, call, receiver)
        # HTML and templates
        elif qualified in S.TEMPLATE_CALLS or (
            method == "from_string" and receiver.tag is None and not is_local and first is not None
        ):
            if first is not None:
                self.flow(S.TEMPLATE_INJECTION, node, call, first)
        elif qualified in S.MARKUP_CALLS and first is not None:
            if first.text or first.tainted:
                self.flow(S.XSS_SINK, node, call, first)
        # redirects
        elif qualified in S.REDIRECT_CALLS and (first or kw("location") or kw("url")) is not None:
            self.flow(S.OPEN_REDIRECT, node, call, first or kw("location") or kw("url"))
        # outbound requests
        elif qualified in S.SSRF_CALLS or (
            qualified.split(".")[0] in S.SSRF_MODULES and method in S.HTTP_VERBS
        ):
            url = kw("url") or (args[1] if method == "request" and len(args) > 1 else first)
            if url is not None:
                self.flow(S.SSRF_SINK, node, call, url)
        # XPath / LDAP
        elif qualified in S.XPATH_CALLS and args:
            query = args[1] if qualified.startswith("elementpath") and len(args) > 1 else first
            self.flow(S.XPATH_INJECTION, node, call, query)
        elif method in S.XPATH_METHODS and first is not None and not qualified.startswith("re."):
            if first.text or first.tainted:
                self.flow(S.XPATH_INJECTION, node, call, first)
        elif method in S.XML_FIND_METHODS and receiver.tag == "xmldoc" and first is not None:
            self.flow(S.XPATH_INJECTION, node, call, first)
        elif (
            method in S.LDAP_METHODS
            and self.imported_modules & {"ldap", "ldap3"}
            and not (qualified.startswith("re."))
        ):
            query = kw("search_filter") or kw("filterstr") or (args[1] if len(args) > 1 else None)
            if query is not None:
                self.flow(S.LDAP_INJECTION, node, call, query)
        # deserialisation
        elif qualified in S.DESER_CALLS and (first or kw("data")) is not None:
            self.flow(S.DESERIALIZATION, node, call, first or kw("data"))
        elif qualified in ("yaml.load", "yaml.load_all") and first is not None:
            loader = kw("Loader") or (args[1] if len(args) > 1 else None)
            loader_name = (
                dotted(
                    next(
                        (k.value for k in node.keywords if k.arg == "Loader"),
                        node.args[1] if len(node.args) > 1 else None,
                    )
                )
                or ""
            )
            if loader is None or "Safe" not in loader_name:
                self.flow(S.DESERIALIZATION, node, call, first)
        # XML
        elif qualified in S.XML_PARSE_CALLS and first is not None:
            parser = kw("parser") or (args[1] if len(args) > 1 else None)
            if parser is not None and parser.tag == "xmlparser-xxe":
                self.flow(S.XXE, node, call, first)
        # session and cookies
        elif method == "set_cookie" and receiver.tag != "request":
            value = args[1] if len(args) > 1 else kw("value")
            if value is not None and value.taint & {"rand"}:
                self.flow(S.WEAK_RANDOM, node, "a cookie value", value)
        elif (
            method in ("update", "setdefault")
            and receiver_name
            and (self.qualify(receiver_name) in S.SESSION_NAMES)
        ):
            self.flow(S.TRUST_BOUNDARY, node, "a session entry", combine(*args, *keywords.values()))

    def flow(
        self,
        sink: S.SinkKind,
        node,
        call: str,
        value: Val,
        *,
        built: bool = True,
        strength: float | None = None,
    ) -> None:
        if sink.kind in value.taint:
            state = "tainted"
        elif value.safe or value.tainted:
            state = "safe"  # constant, or sanitised for this kind of sink
        else:
            state = "unknown" if built else "opaque"
        self.flows.append(
            Flow(
                sink=sink,
                line=node.lineno,
                call=call,
                state=state,
                origin=value.origin,
                strength=strength if strength is not None else value.strength,
                detail=getattr(node, "end_lineno", node.lineno) and "",
            )
        )

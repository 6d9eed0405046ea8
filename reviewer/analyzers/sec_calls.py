"""The taint walk's call model: what a call returns, and how it changes the container it is on.

``CallEffects`` is mixed into ``sec_flow.FunctionWalk`` (which supplies ``expr``, ``imports``
and ``qualify``): a call is first checked as a sink (``sec_checks``), then its result is
modelled - sources, sanitisers, constructors of parsers and paths, container reads - so the
walk can follow the value on.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import replace

from reviewer.analyzers import sec_sinks as S
from reviewer.analyzers.sec_ast import REQUEST_NAMES, dotted
from reviewer.analyzers.sec_checks import SinkChecks
from reviewer.analyzers.sec_values import (
    ENVIRONMENT_KINDS,
    INJECTION_KINDS,
    NOTHING,
    SAFE,
    UNKNOWN,
    Val,
    combine,
    const,
    join,
    source,
    truth,
)


class CallEffects(SinkChecks):
    """Calls for ``FunctionWalk``: sink check, container mutation, then the result's value."""

    imports: dict[str, str]

    expr: Callable[[ast.expr | None, dict[str, Val]], Val]

    def call(self, node: ast.Call, env: dict[str, Val]) -> Val:
        func = node.func
        name = dotted(func)
        qualified = self.qualify(name) if name else ""
        method = func.attr if isinstance(func, ast.Attribute) else None
        receiver_name = dotted(func.value) if isinstance(func, ast.Attribute) else None
        is_module_call = (
            bool(name)
            and ((name.split(".")[0] in self.imports) or qualified in S.CLEAN_CALLS)
            and (receiver_name is None or receiver_name.split(".")[0] not in env)
            and not (qualified.startswith("flask.request"))
        )
        receiver = (
            self.expr(func.value, env)
            if isinstance(func, ast.Attribute) and not is_module_call
            else NOTHING
        )
        args = [self.expr(a, env) for a in node.args]
        keywords = {k.arg: self.expr(k.value, env) for k in node.keywords}
        every = [*args, *keywords.values()]

        self.check_sinks(node, qualified, method, receiver, receiver_name, args, keywords, env)

        # mutations of a container held in a variable
        if method and receiver_name and receiver_name in env:
            if method == "setFeature" and len(node.args) >= 2:
                args = [const(dotted(node.args[0]) or args[0].const), args[1]]
            self.mutate(receiver_name, method, args, env)

        # results
        last = qualified.rsplit(".", 1)[-1]
        if qualified in S.XML_PARSE_CALLS or (method == "getroot" and receiver.tag == "xmldoc"):
            return Val(tag="xmldoc")
        if (
            (method in S.QUERY_METHODS and not is_module_call)
            or qualified in S.DESER_CALLS
            or (qualified.startswith("yaml.") and "load" in last)
        ):
            return NOTHING  # what a query returns is stored data, not the query's text
        if qualified == "input" or qualified == "raw_input":
            return source(INJECTION_KINDS, node.lineno, strength=0.75)
        if qualified in ("os.getenv", "os.environ.get"):
            return source(ENVIRONMENT_KINDS, node.lineno, strength=0.7)
        if qualified.startswith("random.") and last in S.RANDOM_FUNCS and is_module_call:
            return Val(taint=frozenset({"rand"}), origin=node.lineno, strength=0.8)
        if qualified in S.CLEAN_CALLS or qualified.startswith(S.CLEAN_PREFIXES) and is_module_call:
            return SAFE
        if method in S.CLEAN_METHODS and not is_module_call:
            return SAFE
        if qualified in S.PATH_CONSTRUCTORS and is_module_call:
            return replace(combine(*every, text=True), tag="path")
        if qualified in S.XML_PARSER_FACTORIES:
            enabled = keywords.get("resolve_entities")
            if qualified == "lxml.etree.XMLParser" and enabled is not None and truth(enabled):
                return Val(tag="xmlparser-xxe", safe=True)
            return Val(tag="xmlparser", safe=True)
        if qualified == "str" and args:
            value = args[0].flat()
            return replace(
                value, text=True, const=args[0].const if isinstance(args[0].const, str) else UNKNOWN
            )
        if method in ("get", "getlist", "pop", "setdefault") and receiver.keys is not None:
            key = args[0].const if args else UNKNOWN
            if method == "get" and len(args) >= 2 and receiver.tag == "config":
                key = (args[0].const, args[1].const)
            found = dict(receiver.keys).get(key) if key is not UNKNOWN else None
            if found is not None:
                return found
            if key is not UNKNOWN and all(k is not UNKNOWN for k, _ in receiver.keys):
                return join(*(args[1:2] or [SAFE])) if receiver.tag != "config" else SAFE
            return receiver.flat()
        if method == "pop" and receiver.items is not None:
            return receiver.items[-1] if receiver.items and not args else receiver.flat()
        if qualified in ("configparser.ConfigParser", "configparser.RawConfigParser"):
            return Val(keys=(), tag="config", safe=True)
        if qualified in ("dict", "collections.OrderedDict") and not args and not keywords:
            return Val(keys=(), safe=True)
        if qualified in ("list",) and not args:
            return Val(items=(), safe=True)
        if qualified in ("io.StringIO", "io.BytesIO") and not args:
            return Val(tag="buffer", safe=True, text=True)
        if method == "getvalue" and receiver.tag == "buffer":
            return replace(receiver, tag=None, text=True)
        for word, kinds in self.sanitiser_kinds(qualified or name or "", method):
            value = combine(*every) if is_module_call or not method else combine(receiver, *every)
            return value.without(kinds) if value.tainted else replace(value, safe=value.safe)
        if is_module_call:
            if not every:
                return NOTHING
            result = combine(*every)
            if result.tainted:
                return result
            return NOTHING
        # a method on a value (or a local function): the result carries what went in
        result = combine(
            receiver,
            *every,
            text=receiver.text
            or (
                method
                in (
                    "format",
                    "join",
                    "replace",
                    "strip",
                    "lower",
                    "upper",
                    "decode",
                    "encode",
                    "lstrip",
                    "rstrip",
                    "title",
                    "capitalize",
                )
            ),
        )
        if receiver.tag == "request" or (name in REQUEST_NAMES):
            result = replace(result, text=True)
        if (
            method
            in (
                "format",
                "join",
                "replace",
                "strip",
                "lower",
                "upper",
                "decode",
                "encode",
                "lstrip",
                "rstrip",
                "title",
                "capitalize",
                "format_map",
            )
            and result.safe
        ):
            return result
        return result if result.tainted else (SAFE if result.safe and method else NOTHING)

    @staticmethod
    def sanitiser_kinds(qualified: str, method: str | None) -> Iterator[tuple[str, frozenset[str]]]:
        if qualified in S.SANITISERS:
            yield qualified, S.SANITISERS[qualified]
            return
        last = (method or qualified.rsplit(".", 1)[-1]).lower()
        if any(word in last for word in S.LDAP_ESCAPE_WORDS):
            yield last, frozenset({"ldap"})
        elif any(word.lower() in qualified.lower() for word in S.SQL_ESCAPE_WORDS):
            yield last, frozenset({"sql"})
        elif S.ESCAPE_WORD in last and "unescape" not in last:
            yield last, frozenset({"xss"})
        elif last in ("secure_filename", "basename"):
            yield last, frozenset({"path"})
        elif "sanitiz" in last or "sanitis" in last:
            yield last, INJECTION_KINDS

    def mutate(self, name: str, method: str, args: list[Val], env: dict[str, Val]) -> None:
        current = env[name]
        if method == "append" and args:
            if current.items is not None:
                env[name] = replace(
                    current,
                    items=current.items + (args[0],),
                    const=UNKNOWN,
                    safe=current.safe and args[0].safe,
                )
            else:
                env[name] = combine(current, args[0])
        elif method in ("extend", "update", "add", "insert", "write", "writelines", "appendleft"):
            added = args[-1] if args else NOTHING
            if method == "update" and current.keys is not None and added.keys is not None:
                env[name] = replace(
                    current, keys=tuple({**dict(current.keys), **dict(added.keys)}.items())
                )
            elif method == "extend" and current.items is not None and added.items is not None:
                env[name] = replace(current, items=current.items + added.items)
            elif args:
                env[name] = replace(combine(current, *args, text=current.text), tag=current.tag)
        elif method == "pop" and current.items is not None:
            items = list(current.items)
            index = args[0].const if args else -1
            if isinstance(index, int) and items and -len(items) <= index < len(items):
                items.pop(index)
                env[name] = replace(current, items=tuple(items))
            else:
                env[name] = current.flat()
        elif method == "set" and current.tag == "config" and len(args) >= 3:
            key = (args[0].const, args[1].const)
            if key[0] is UNKNOWN or key[1] is UNKNOWN:
                env[name] = replace(combine(current, args[2]), tag="config")
            elif current.keys is not None:
                env[name] = replace(current, keys=(*current.keys, (key, args[2])))
        elif method == "setFeature" and len(args) >= 2 and current.tag == "xmlparser":
            feature = self.feature_name(args[0])
            if "external" in feature and truth(args[1]):
                env[name] = replace(current, tag="xmlparser-xxe")
        elif method == "resolve_entities":
            pass

    @staticmethod
    def feature_name(value: Val) -> str:
        return str(value.const) if value.const is not UNKNOWN else ""

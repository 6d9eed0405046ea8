"""The intra-procedural taint walk: follow request data through one function to dangerous calls.

Each function (and the module body) is walked once, statement by statement, with an
environment of abstract values (``sec_values.Val``). Branches whose condition folds to a
constant are not entered (dead code cannot be exploited), both sides of an unknown branch are
joined, a validation ``if`` that exits early cleans the variable it checks, and known
sanitisers strip the attack kinds they defeat. What reaches a sink is a ``Flow``: tainted
(proven to come from request data), unknown (origin not visible here) or safe (constant).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace

from reviewer.analyzers import sec_sinks as S
from reviewer.analyzers.sec_values import (
    ENVIRONMENT_KINDS,
    INJECTION_KINDS,
    NOTHING,
    SAFE,
    UNKNOWN,
    Val,
    combine,
    const,
    fold_binop,
    fold_compare,
    fold_subscript,
    join,
    source,
    truth,
)

REQUEST_NAMES = frozenset({"request", "req"})
NON_DATA_REQUEST_ATTRS = frozenset(
    {
        "method",
        "user",
        "session",
        "endpoint",
        "is_secure",
        "is_json",
        "scheme",
        "auth",
        "blueprint",
        "environ_base",
        "is_ajax",
        "resolver_match",
        "site",
        "_request",
    }
)
ROUTE_DECORATORS = frozenset(
    {
        "route",
        "get",
        "post",
        "put",
        "delete",
        "patch",
        "api_route",
        "websocket",
        "api_view",
        "view_config",
        "expose",
    }
)
INJECTED_PARAMS = frozenset(
    {
        "self",
        "cls",
        "request",
        "req",
        "db",
        "session",
        "current_user",
        "background_tasks",
        "response",
        "app",
        "args",
        "kwargs",
    }
)


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


class _Exit(Exception):
    pass


class FunctionWalk:
    """Walks one function body; collects ``flows`` (every sink reached, whatever its state)."""

    def __init__(
        self,
        imports: dict[str, str],
        module_consts: dict[str, Val],
        imported_modules: frozenset[str],
    ):
        self.imports = imports
        self.module_consts = module_consts
        self.imported_modules = imported_modules
        self.flows: list[Flow] = []
        self.is_route = False
        self._loop_exits: list[list[dict[str, Val]]] = []
        self.derived: dict[str, set[str]] = {}

    # --- entry -----------------------------------------------------------------------------

    def run_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        env: dict[str, Val] = {}
        self.is_route = _is_route(node, self.imports)
        params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        django_view = bool(params) and (
            params[0].arg in REQUEST_NAMES
            or (params[0].arg == "self" and len(params) > 1 and params[1].arg in REQUEST_NAMES)
        )
        for arg in params:
            if arg.arg in REQUEST_NAMES:
                env[arg.arg] = Val(taint=INJECTION_KINDS, origin=node.lineno, tag="request")
            elif (self.is_route or django_view) and arg.arg not in INJECTED_PARAMS:
                env[arg.arg] = source(INJECTION_KINDS, node.lineno, strength=0.85)
            else:
                env[arg.arg] = NOTHING
        for extra in (node.args.vararg, node.args.kwarg):
            if extra is not None:
                env[extra.arg] = NOTHING
        self.block(node.body, env)

    def run_module(self, body: list[ast.stmt]) -> None:
        self.block(
            [
                s
                for s in body
                if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            ],
            {},
        )

    # --- statements --------------------------------------------------------------------------

    def block(self, body: list[ast.stmt], env: dict[str, Val]) -> bool:
        """Run statements in ``env`` (updated in place); True when the block always exits."""
        for stmt in body:
            if self.stmt(stmt, env):
                return True
        return False

    def stmt(self, node: ast.stmt, env: dict[str, Val]) -> bool:
        if isinstance(node, ast.Assign):
            value = self.expr(node.value, env)
            for target in node.targets:
                self.assign(target, value, env, node)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, self.expr(node.value, env), env, node)
        elif isinstance(node, ast.AugAssign):
            current = self.expr(node.target, env)
            value = self.expr(node.value, env)
            folded = fold_binop(node.op, current.const, value.const)
            result = combine(current, value, text=current.text or value.text)
            if folded is not UNKNOWN:
                result = replace(result, const=folded)
            self.assign(node.target, result, env, node)
        elif isinstance(node, ast.Expr):
            self.expr(node.value, env)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                value = self.expr(node.value, env)
                if self.is_route and value.text:
                    self.flow(S.XSS_SINK, node, "the response body", value)
            return True
        elif isinstance(node, (ast.Continue, ast.Break)):
            if self._loop_exits:
                self._loop_exits[-1].append(dict(env))
            return True
        elif isinstance(node, ast.Raise):
            if node.exc is not None:
                self.expr(node.exc, env)
            return True
        elif isinstance(node, ast.If):
            return self.if_(node, env)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            element = self.element(self.expr(node.iter, env))
            self.loop(node.body, env, lambda e: self.assign(node.target, element, e, node))
            self.block(node.orelse, env)
        elif isinstance(node, ast.While):
            if truth(self.expr(node.test, env)) is False:
                return self.block(node.orelse, env)
            self.loop(node.body, env, lambda e: None)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                value = self.expr(item.context_expr, env)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, value, env, node)
            return self.block(node.body, env)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            return self.try_(node, env)
        elif isinstance(node, ast.Match):
            return self.match(node, env)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.imports.update(import_aliases(node))
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    env.pop(target.id, None)
        return False

    def loop(self, body, env, bind) -> None:
        before = dict(env)
        for _ in range(2):
            inner = dict(env)
            bind(inner)
            self._loop_exits.append([])
            exits = self.block(body, inner)
            leaving = self._loop_exits.pop()
            merge_into(env, before, before if exits else inner)
            for other in leaving:
                merge_into(env, dict(env), other)

    def if_(self, node: ast.If, env: dict[str, Val]) -> bool:
        test = self.expr(node.test, env)
        decided = truth(test)
        if decided is True:
            return self.block(node.body, env)
        if decided is False:
            return self.block(node.orelse, env)
        checked, positive = validated_names(node.test)
        body_env, else_env = dict(env), dict(env)
        checked = self.with_parents(checked)
        if positive:
            clean(body_env, checked)
        body_exits = self.block(node.body, body_env)
        if body_exits and not positive:
            clean(else_env, checked)
        else_exits = self.block(node.orelse, else_env)
        if body_exits and else_exits:
            return True
        env.clear()
        if body_exits:
            env.update(else_env)
        elif else_exits:
            env.update(body_env)
        else:
            merge_into(env, body_env, else_env)
        return False

    def with_parents(self, names: set[str]) -> set[str]:
        found = set(names)
        todo = [n.split(".")[0] for n in names]
        while todo:
            name = todo.pop()
            for parent in self.derived.get(name, ()):
                if parent not in found:
                    found.add(parent)
                    todo.append(parent)
        return found

    def try_(self, node, env: dict[str, Val]) -> bool:
        before = dict(env)
        body_exits = self.block(node.body, env)
        after_body = dict(env)
        outcomes = [] if body_exits else [after_body]
        if not body_exits and node.orelse:
            outcomes = [] if self.block(node.orelse, after_body) else [after_body]
        for handler in node.handlers:
            handler_env = dict(before)
            merge_into(handler_env, before, after_body)
            if handler.name:
                handler_env[handler.name] = NOTHING
            if not self.block(handler.body, handler_env):
                outcomes.append(handler_env)
        env.clear()
        if outcomes:
            env.update(outcomes[0])
            for other in outcomes[1:]:
                merge_into(env, dict(env), other)
        else:
            env.update(after_body)
        final_exits = self.block(node.finalbody, env)
        return final_exits or not outcomes

    def match(self, node: ast.Match, env: dict[str, Val]) -> bool:
        subject = self.expr(node.subject, env)
        outcomes = []
        for case in node.cases:
            verdict = pattern_matches(case.pattern, subject.const) if case.guard is None else None
            if verdict is False:
                continue
            case_env = dict(env)
            if not self.block(case.body, case_env):
                outcomes.append(case_env)
            if verdict is True:
                break
        else:
            outcomes.append(dict(env))  # no case matched
        if not outcomes:
            return True
        env.clear()
        env.update(outcomes[0])
        for other in outcomes[1:]:
            merge_into(env, dict(env), other)
        return False

    def assign(self, target: ast.expr, value: Val, env: dict[str, Val], stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
            sources = (
                _names(stmt.value) if isinstance(getattr(stmt, "value", None), ast.Call) else set()
            )
            self.derived[target.id] = {n for n in sources if n in env and n != target.id}
            if value.text and value.safe and isinstance(stmt, ast.Assign):
                self.flows.append(
                    Flow(sink=S.SQL_INJECTION, line=stmt.lineno, call="", state="safe")
                )
            if value.taint & {"rand"} and _secretish(target.id):
                self.flow(S.WEAK_RANDOM, stmt, f"`{target.id}`", value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for index, element in enumerate(target.elts):
                part = (
                    value.items[index] if value.items and index < len(value.items) else value.flat()
                )
                self.assign(element, part, env, stmt)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value.flat(), env, stmt)
        elif isinstance(target, ast.Subscript):
            container = dotted(target.value)
            key = self.expr(target.slice, env)
            qualified = self.qualify(container) if container else None
            if container and (
                qualified in S.SESSION_NAMES or container.split(".")[-1] == "session"
            ):
                self.flow(S.TRUST_BOUNDARY, stmt, "a session entry", combine(key, value))
            if (
                container
                and value.taint & {"rand"}
                and (
                    _secretish(container) or (isinstance(key.const, str) and _secretish(key.const))
                )
            ):
                self.flow(S.WEAK_RANDOM, stmt, f"`{container}[...]`", value)
            if container and container in env:
                env[container] = store_key(env[container], key.const, value)
        elif isinstance(target, ast.Attribute):
            name = dotted(target)
            if name:
                env[name] = value

    # --- expressions -------------------------------------------------------------------------

    def expr(self, node: ast.expr | None, env: dict[str, Val]) -> Val:
        if node is None:
            return NOTHING
        if isinstance(node, ast.Constant):
            return const(node.value)
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in self.module_consts:
                return self.module_consts[node.id]
            qualified = self.imports.get(node.id, node.id)
            if qualified == "flask.request":
                return Val(taint=INJECTION_KINDS, origin=node.lineno, tag="request")
            if qualified in ("sys.argv", "os.environ"):
                return source(ENVIRONMENT_KINDS, node.lineno, strength=0.7)
            return NOTHING
        if isinstance(node, ast.Attribute):
            name = dotted(node)
            if name and name in env:
                return env[name]
            base = self.expr(node.value, env)
            qualified = self.qualify(name) if name else None
            if qualified in ("sys.argv", "os.environ"):
                return source(ENVIRONMENT_KINDS, node.lineno, strength=0.7)
            if qualified == "flask.request":
                return Val(taint=INJECTION_KINDS, origin=node.lineno, tag="request")
            if base.tag == "request":
                if node.attr in NON_DATA_REQUEST_ATTRS:
                    return NOTHING
                return source(INJECTION_KINDS, node.lineno)
            if base.const is not UNKNOWN:
                return NOTHING
            return base.flat() if base.tainted else (SAFE if base.safe else NOTHING)
        if isinstance(node, ast.JoinedStr):
            parts = [self.expr(v, env) for v in node.values]
            text = (
                "".join(p.const for p in parts)
                if all(isinstance(p.const, str) for p in parts)
                else UNKNOWN
            )
            result = combine(*parts, text=True)
            return replace(result, const=text) if text is not UNKNOWN else result
        if isinstance(node, ast.FormattedValue):
            value = self.expr(node.value, env)
            if node.format_spec is not None:
                self.expr(node.format_spec, env)
            return replace(
                value.flat(), const=value.const if isinstance(value.const, str) else UNKNOWN
            )
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left, env), self.expr(node.right, env)
            if isinstance(node.op, ast.Div) and (left.tag == "path"):
                return replace(combine(left, right), tag="path")
            folded = fold_binop(node.op, left.const, right.const)
            text = left.text or right.text
            if left.items is not None and right.items is not None and isinstance(node.op, ast.Add):
                return Val(items=left.items + right.items, safe=left.safe and right.safe)
            result = combine(left, right, text=text)
            return replace(result, const=folded) if folded is not UNKNOWN else result
        if isinstance(node, ast.BoolOp):
            values = [self.expr(v, env) for v in node.values]
            return self.boolop(node, values)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand, env)
            if isinstance(node.op, ast.Not):
                decided = truth(operand)
                return const(not decided) if decided is not None else SAFE
            if operand.const is not UNKNOWN and isinstance(operand.const, (int, float)):
                return const(-operand.const if isinstance(node.op, ast.USub) else operand.const)
            return combine(operand)
        if isinstance(node, ast.Compare):
            values = [self.expr(node.left, env), *(self.expr(c, env) for c in node.comparators)]
            folded = fold_compare(node.ops, [v.const for v in values])
            return const(folded) if folded is not UNKNOWN else SAFE
        if isinstance(node, ast.IfExp):
            decided = truth(self.expr(node.test, env))
            if decided is True:
                return self.expr(node.body, env)
            if decided is False:
                return self.expr(node.orelse, env)
            return join(self.expr(node.body, env), self.expr(node.orelse, env))
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = tuple(self.expr(e, env) for e in node.elts)
            consts = [i.const for i in items]
            value = Val(items=items, safe=all(i.safe for i in items))
            if isinstance(node, ast.Tuple) and all(c is not UNKNOWN for c in consts):
                return replace(value, const=tuple(consts))
            if all(c is not UNKNOWN for c in consts) and all(
                isinstance(c, (str, int)) for c in consts
            ):
                return replace(value, const=tuple(consts))
            return value
        if isinstance(node, ast.Dict):
            keys = []
            for k, v in zip(node.keys, node.values):
                value = self.expr(v, env)
                key = self.expr(k, env).const if k is not None else UNKNOWN
                keys.append((key, value))
            if any(k is UNKNOWN for k, _ in keys):
                return combine(*(v for _, v in keys))
            return Val(keys=tuple(keys), safe=all(v.safe for _, v in keys))
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value, env)
            index = self.expr(node.slice, env)
            if base.items is not None and isinstance(index.const, int):
                try:
                    return base.items[index.const]
                except IndexError:
                    return base.flat()
            if base.keys is not None and index.const is not UNKNOWN:
                found = dict(base.keys).get(index.const)
                if found is not None:
                    return found
            folded = fold_subscript(base.const, index.const)
            if folded is not UNKNOWN:
                return const(folded)
            if base.tag == "request":
                return source(INJECTION_KINDS, node.lineno)
            flat = base.flat()
            return replace(flat, text=flat.text or base.text)
        if isinstance(node, ast.Slice):
            parts = [self.expr(p, env) for p in (node.lower, node.upper, node.step) if p]
            values = [
                None if p is None else self.expr(p, env).const
                for p in (node.lower, node.upper, node.step)
            ]
            if all(v is not UNKNOWN for v in values):
                return const(slice(*values))
            return combine(*parts) if parts else SAFE
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            inner = dict(env)
            for gen in node.generators:
                element = self.element(self.expr(gen.iter, inner))
                self.assign(gen.target, element, inner, ast.Pass(lineno=node.lineno))
            return combine(self.expr(node.elt, inner))
        if isinstance(node, ast.DictComp):
            inner = dict(env)
            for gen in node.generators:
                self.assign(
                    gen.target,
                    self.element(self.expr(gen.iter, inner)),
                    inner,
                    ast.Pass(lineno=node.lineno),
                )
            return combine(self.expr(node.key, inner), self.expr(node.value, inner))
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value, env)
            env[node.target.id] = value
            return value
        if isinstance(node, (ast.Await, ast.Starred)):
            return self.expr(node.value, env)
        if isinstance(node, ast.Lambda):
            return NOTHING
        return NOTHING

    @staticmethod
    def boolop(node: ast.BoolOp, values: list[Val]) -> Val:
        verdicts = [truth(v) for v in values]
        if isinstance(node.op, ast.And):
            if any(v is False for v in verdicts):
                return const(False)
            if all(v is True for v in verdicts):
                return values[-1]
        else:
            if any(v is True for v in verdicts):
                return next(v for v, d in zip(values, verdicts) if d is True)
            if all(v is False for v in verdicts):
                return values[-1]
        return join(*values)

    @staticmethod
    def element(container: Val) -> Val:
        if container.items:
            return join(*container.items)
        if isinstance(container.const, (str, tuple)):
            return SAFE
        return container.flat()

    def qualify(self, name: str) -> str:
        head, _, rest = name.partition(".")
        base = self.imports.get(head)
        if base is None:
            return name
        return f"{base}.{rest}" if rest else base

    # --- calls -------------------------------------------------------------------------------

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

    # --- sinks -------------------------------------------------------------------------------

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


# --- helpers -----------------------------------------------------------------------------------


def dotted(node: ast.expr | None) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def import_aliases(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    aliases = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                aliases[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                aliases[head] = head
    elif node.module and not node.level:
        for alias in node.names:
            aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def merge_into(env: dict[str, Val], a: dict[str, Val], b: dict[str, Val]) -> None:
    merged = {}
    for name in {*a, *b}:
        if name in a and name in b:
            merged[name] = a[name] if a[name] is b[name] else join(a[name], b[name])
        else:
            merged[name] = join(a.get(name, NOTHING), b.get(name, NOTHING))
    env.clear()
    env.update(merged)


def store_key(container: Val, key, value: Val) -> Val:
    if container.keys is not None and key is not UNKNOWN:
        keys = dict(container.keys)
        keys[key] = value
        return replace(container, keys=tuple(keys.items()))
    if container.items is not None and isinstance(key, int):
        items = list(container.items)
        if -len(items) <= key < len(items):
            items[key] = value
            return replace(container, items=tuple(items))
    return replace(combine(container, value), tag=container.tag)


def clean(env: dict[str, Val], names: set[str]) -> None:
    for name in names:
        if name in env and env[name].tainted:
            env[name] = env[name].without(INJECTION_KINDS)


_VALIDATION_METHODS = frozenset(
    {
        "isdigit",
        "isnumeric",
        "isdecimal",
        "isalnum",
        "isalpha",
        "isidentifier",
        "match",
        "fullmatch",
        "startswith",
        "endswith",
        "is_safe_url",
        "url_has_allowed_host_and_scheme",
        "search",
    }
)


def validated_names(test: ast.expr) -> tuple[set[str], bool]:
    """Names an ``if`` test validates, and whether the test passes for valid values.

    ``if "'" in name: return`` rejects bad values (negative); ``if name in ALLOWED:`` and
    ``if re.fullmatch(..., name):`` accept good ones (positive). Truthiness, ``None`` and length
    checks validate nothing.
    """
    negated = False
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        negated = not negated
        test = test.operand
    if isinstance(test, ast.BoolOp):
        names: set[str] = set()
        signs = set()
        for value in test.values:
            found, positive = validated_names(value)
            if found:
                names |= found
                signs.add(positive)
        if len(signs) != 1:
            return set(), False
        positive = signs.pop()
        if isinstance(test.op, ast.Or) and positive:
            return set(), False  # any one passing check lets a value through
        return names, positive != negated
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op = test.ops[0]
        left, right = test.left, test.comparators[0]
        if isinstance(op, (ast.In, ast.NotIn)):
            if isinstance(left, ast.Constant):  # "'" in value: a blacklist probe
                return _names(right), isinstance(op, ast.NotIn) != negated
            return _names(left), isinstance(op, ast.In) != negated
        if (
            isinstance(op, (ast.Eq, ast.NotEq))
            and not _is_none(left)
            and not _is_none(right)
            and (isinstance(right, ast.Constant) or isinstance(left, ast.Constant))
        ):
            return _names(left) | _names(right), isinstance(op, ast.Eq) != negated
    if isinstance(test, ast.Call):
        func = test.func
        method = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if method in _VALIDATION_METHODS:
            names = set()
            if isinstance(func, ast.Attribute) and not (
                isinstance(func.value, ast.Name) and func.value.id == "re"
            ):
                names |= _names(func.value)
            for arg in test.args:
                names |= _names(arg)
            return names, not negated
    return set(), False


def _names(node: ast.expr) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            name = dotted(sub)
            if name:
                found.add(name)
    return found


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def pattern_matches(pattern: ast.pattern, value) -> bool | None:
    if value is UNKNOWN:
        return None
    if isinstance(pattern, ast.MatchValue) and isinstance(pattern.value, ast.Constant):
        return pattern.value.value == value
    if isinstance(pattern, ast.MatchSingleton):
        return pattern.value is value
    if isinstance(pattern, ast.MatchOr):
        verdicts = [pattern_matches(p, value) for p in pattern.patterns]
        if any(v is True for v in verdicts):
            return True
        return False if all(v is False for v in verdicts) else None
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is None:
        return True
    return None


def _is_route(node: ast.FunctionDef | ast.AsyncFunctionDef, imports: dict[str, str]) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = dotted(target) or ""
        if name.rsplit(".", 1)[-1] in ROUTE_DECORATORS and "." in name:
            return True
        if name in ("api_view", "require_http_methods", "require_GET", "require_POST"):
            return True
    return False


def _secretish(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in S.SECRET_NAME_WORDS)

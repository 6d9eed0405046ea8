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
from dataclasses import replace

from reviewer.analyzers import sec_sinks as S
from reviewer.analyzers.sec_ast import (
    REQUEST_NAMES,
    clean,
    dotted,
    import_aliases,
    is_route_handler,
    merge_into,
    names_in,
    pattern_matches,
    secretish,
    store_key,
    validated_names,
)
from reviewer.analyzers.sec_calls import CallEffects
from reviewer.analyzers.sec_checks import Flow
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


class _Exit(Exception):
    pass


class FunctionWalk(CallEffects):
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
        self.is_route = is_route_handler(node, self.imports)
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
                names_in(stmt.value)
                if isinstance(getattr(stmt, "value", None), ast.Call)
                else set()
            )
            self.derived[target.id] = {n for n in sources if n in env and n != target.id}
            if value.text and value.safe and isinstance(stmt, ast.Assign):
                self.flows.append(
                    Flow(sink=S.SQL_INJECTION, line=stmt.lineno, call="", state="safe")
                )
            if value.taint & {"rand"} and secretish(target.id):
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
                and (secretish(container) or (isinstance(key.const, str) and secretish(key.const)))
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


__all__ = ["Flow", "FunctionWalk", "dotted", "import_aliases"]

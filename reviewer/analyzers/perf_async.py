"""Blocking calls on sync handles inside ``async def``: files, HTTP clients, DB connections.

ruff's ASYNC2xx rules (run by the performance agent) flag blocking *functions* called in
async code: ``open()``, ``requests.get``, ``time.sleep``, ``subprocess.run``. What they miss
is the object those calls return, used later: ``f.read()`` on a file opened earlier (or
passed in, annotated ``TextIOWrapper``), ``client.get()`` on an ``httpx.Client`` or a
``requests.Session``, ``conn.execute()`` on a ``sqlite3``/``psycopg2`` connection. Each such
call stalls the event loop and every other task on it, as flake8-async's ASYNC212/232 say.

A handle's kind is followed through a function in statement order (assignments from
constructors, annotated parameters and variables, ``with ... as``, aliases), starting from
the module-level bindings visible where the function is defined; rebinding a name to
anything else forgets it. Branches are not merged: the last binding in source order wins,
which is what a reader assumes too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from reviewer.analyzers.base import Hit, SourceFile
from reviewer.analyzers.perf_ast import PerfRuleAnalyzer, annotation_name, import_aliases, qualified
from reviewer.findings import Severity


@dataclass(frozen=True)
class HandleKind:
    rule: str
    what: str
    advice: str
    # None: every method call blocks (except ``cheap``); else only these methods do.
    blocking: frozenset[str] | None
    cheap: frozenset[str] = frozenset()


_HTTP_VERBS = frozenset(
    {
        "close",
        "delete",
        "get",
        "head",
        "options",
        "patch",
        "post",
        "put",
        "request",
        "send",
        "stream",
    }
)
FILE = HandleKind(
    "blocking-file-call-in-async-function",
    "a synchronous file object",
    "use an async file API (anyio.Path / aiofiles) or run it in a thread "
    "(`await asyncio.to_thread(...)`)",
    None,
    frozenset({"fileno", "isatty", "readable", "writable", "seekable"}),
)
HTTPX = HandleKind(
    "blocking-http-call-httpx-in-async-function",
    "a synchronous httpx.Client",
    "use httpx.AsyncClient and await it",
    _HTTP_VERBS,
)
REQUESTS = HandleKind(
    "blocking-http-call-in-async-function",
    "a requests.Session (synchronous)",
    "use an async client (httpx.AsyncClient, aiohttp) or run it in a thread",
    _HTTP_VERBS,
)
URLLIB3 = HandleKind(
    "blocking-http-call-in-async-function",
    "a synchronous urllib3 pool",
    "use an async client (httpx.AsyncClient, aiohttp) or run it in a thread",
    None,
)
DB = HandleKind(
    "blocking-db-call-in-async-function",
    "a synchronous database connection",
    "use an async driver (aiosqlite, asyncpg, psycopg's AsyncConnection) or run it in a thread",
    None,
    frozenset({"cursor"}),
)

# Qualified names of classes (for annotations) and of calls that return a handle.
_TYPES: dict[str, HandleKind] = {
    **{f"io.{n}": FILE for n in ("TextIOWrapper", "BufferedReader", "BufferedWriter")},
    **{f"io.{n}": FILE for n in ("BufferedRandom", "FileIO")},
    "httpx.Client": HTTPX,
    "requests.Session": REQUESTS,
    "requests.sessions.Session": REQUESTS,
    **{
        f"urllib3.{n}": URLLIB3
        for n in (
            "HTTPConnectionPool",
            "HTTPSConnectionPool",
            "PoolManager",
            "ProxyManager",
            "connectionpool.ConnectionPool",
            "connectionpool.HTTPConnectionPool",
            "connectionpool.HTTPSConnectionPool",
            "poolmanager.PoolManager",
            "poolmanager.ProxyManager",
            "request.RequestMethods",
        )
    },
    "sqlite3.Connection": DB,
    "sqlite3.Cursor": DB,
}
_FACTORIES: dict[str, HandleKind] = {
    "open": FILE,
    "io.open": FILE,
    "codecs.open": FILE,
    "httpx.Client": HTTPX,
    "requests.Session": REQUESTS,
    "requests.session": REQUESTS,
    "urllib3.PoolManager": URLLIB3,
    "urllib3.ProxyManager": URLLIB3,
    "urllib3.HTTPConnectionPool": URLLIB3,
    "urllib3.HTTPSConnectionPool": URLLIB3,
    "urllib3.connection_from_url": URLLIB3,
    **{
        f"{m}.connect": DB for m in ("sqlite3", "psycopg2", "pymysql", "MySQLdb", "mysql.connector")
    },
    "psycopg.connect": DB,
    "psycopg.Connection.connect": DB,
}
# Connecting is itself a blocking round trip (unlike building an HTTP client object).
_BLOCKING_FACTORIES = frozenset(name for name, kind in _FACTORIES.items() if kind is DB)


@dataclass
class Env:
    """What each name holds at this point; ``declared`` keeps annotated names' types.

    A name annotated ``f: TextIOWrapper`` keeps that type when plain assignments rebind it
    (a type checker holds the code to the declaration); a new annotation replaces it.
    """

    kinds: dict[str, HandleKind] = field(default_factory=dict)
    declared: dict[str, HandleKind | None] = field(default_factory=dict)

    def copy(self) -> Env:
        return Env(dict(self.kinds), dict(self.declared))

    def get(self, name: str) -> HandleKind | None:
        return self.kinds.get(name)

    def set(self, name: str, kind: HandleKind | None, *, declare: bool = False) -> None:
        if declare:
            self.declared[name] = kind
        elif name in self.declared:
            kind = self.declared[name]
        if kind is None:
            self.kinds.pop(name, None)
        else:
            self.kinds[name] = kind

    def forget(self, name: str) -> None:
        self.kinds.pop(name, None)
        self.declared.pop(name, None)


class BlockingHandleAnalyzer(PerfRuleAnalyzer):
    name = "perf-async"

    def check(self, source: SourceFile, tree: ast.Module) -> list[Hit]:
        walker = _Walker(self, source, import_aliases(tree))
        walker.block(tree.body, Env(), in_async=False)
        return walker.hits


class _Walker:
    def __init__(self, analyzer: BlockingHandleAnalyzer, source: SourceFile, aliases: dict):
        self.analyzer = analyzer
        self.source = source
        self.aliases = aliases
        self.hits: list[Hit] = []

    # --- kinds ---------------------------------------------------------------------------

    def kind_of_value(self, node: ast.AST | None, env: Env) -> HandleKind | None:
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.Await):
            return None
        if isinstance(node, ast.Call):
            name = qualified(node.func, self.aliases)
            if name in _FACTORIES:
                return _FACTORIES[name]
            # conn.cursor() on a sync DB connection is a sync cursor.
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "cursor"
                and self.kind_of_value(func.value, env) is DB
            ):
                return DB
        return None

    def kind_of_annotation(self, annotation: ast.AST | None) -> HandleKind | None:
        name = annotation_name(annotation, self.aliases)
        return _TYPES.get(name) if name else None

    # --- statements ----------------------------------------------------------------------

    def block(self, body: list[ast.stmt], env: Env, *, in_async: bool) -> None:
        for statement in body:
            self.statement(statement, env, in_async=in_async)

    def statement(self, node: ast.stmt, env: Env, *, in_async: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.function(node, env)
            return
        if isinstance(node, ast.ClassDef):
            self.block(node.body, Env(), in_async=False)
            return
        if in_async:
            self.calls(node, env)
        if isinstance(node, ast.Assign):
            kind = self.kind_of_value(node.value, env)
            for target in node.targets:
                self.bind(target, kind, env)
        elif isinstance(node, ast.AnnAssign):
            kind = self.kind_of_annotation(node.annotation) or self.kind_of_value(node.value, env)
            if isinstance(node.target, ast.Name):
                env.set(node.target.id, kind, declare=True)
            else:
                self.bind(node.target, kind, env)
        elif isinstance(node, ast.AugAssign):
            self.bind(node.target, None, env)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if item.optional_vars is not None:
                    kind = None
                    if isinstance(node, ast.With):
                        kind = self.kind_of_value(item.context_expr, env)
                    self.bind(item.optional_vars, kind, env)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.bind(node.target, None, env)
        for block_name in ("body", "orelse", "finalbody"):
            inner = getattr(node, block_name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                self.block(inner, env, in_async=in_async)
        for handler in getattr(node, "handlers", ()):
            self.block(handler.body, env, in_async=in_async)
        for case in getattr(node, "cases", ()):
            self.block(case.body, env, in_async=in_async)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, outer: Env) -> None:
        env = outer.copy()
        arguments = node.args
        for argument in [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *(a for a in (arguments.vararg, arguments.kwarg) if a is not None),
        ]:
            env.forget(argument.arg)
            if argument not in (arguments.vararg, arguments.kwarg):
                kind = self.kind_of_annotation(argument.annotation)
                env.set(argument.arg, kind, declare=argument.annotation is not None)
        self.block(node.body, env, in_async=isinstance(node, ast.AsyncFunctionDef))

    @staticmethod
    def bind(target: ast.AST, kind: HandleKind | None, env: Env) -> None:
        if isinstance(target, ast.Name):
            env.set(target.id, kind)
        elif isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for element in ast.walk(target):
                if isinstance(element, ast.Name):
                    env.set(element.id, None)

    # --- calls ---------------------------------------------------------------------------

    def calls(self, statement: ast.stmt, env: Env) -> None:
        for node in _own_expressions(statement):
            if isinstance(node, ast.NamedExpr):
                self.bind(node.target, self.kind_of_value(node.value, env), env)
            if not isinstance(node, ast.Call):
                continue
            name = qualified(node.func, self.aliases)
            if name in _BLOCKING_FACTORIES:
                self.report(node, DB, name or "connect")
                continue
            func = node.func
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
                continue
            kind = env.get(func.value.id)
            if kind is None or func.attr in kind.cheap:
                continue
            if kind.blocking is None or func.attr in kind.blocking:
                self.report(node, kind, f"{func.value.id}.{func.attr}()")

    def report(self, node: ast.Call, kind: HandleKind, call: str) -> None:
        self.hits.append(
            self.analyzer.hit(
                self.source,
                node,
                rule=kind.rule,
                severity=Severity.MEDIUM,
                confidence=0.8,
                message=f"`{call}` blocks the event loop: it is a call on {kind.what} inside "
                f"`async def`, so every other task waits for it; {kind.advice}.",
            )
        )


def _own_expressions(statement: ast.stmt):
    """The expression nodes a statement evaluates itself: not its nested blocks or scopes."""
    stack: list[ast.AST] = []
    for name, value in ast.iter_fields(statement):
        if name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        if isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, ast.AST))
        elif isinstance(value, ast.AST):
            stack.append(value)
    ordered = []
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        ordered.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return ordered

"""Architecture findings: import cycles that an import added by the PR closes.

The snapshot carries the contents of the changed files only, so the graph is built from them:
each changed module's module-level imports (the ones that run at import time; imports inside
functions are the usual way to *break* a cycle, and ``if TYPE_CHECKING:`` imports never run),
resolved against the repository's module names (``repo_files``). A cycle is reported when it
runs through changed modules only and at least one of its edges is an import on a changed line;
the finding sits on that line. Cycles through unchanged modules are invisible here and are not
guessed at. One finding per cycle, however many of its edges changed, to stay quiet.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from reviewer.analyzers.arch_contracts import RepoLayout
from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity


@dataclass(frozen=True)
class _Edge:
    target: str
    line: int
    end_line: int
    changed: bool


class ImportCycleAnalyzer(Analyzer):
    name = "import-cycles"
    tool = "import-cycles"

    def __init__(self, layout: RepoLayout, known_modules: frozenset[str] = frozenset()) -> None:
        """``known_modules``: every module of the repository (from ``repo_files``), if known."""
        self.layout = layout
        self.known_modules = known_modules

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        return self.analyze_all([source])

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        modules: dict[str, SourceFile] = {}
        for source in sources:
            module = self.layout.module_of(source.path)
            if module is not None:
                modules[module] = source
        known = self.known_modules | set(modules)
        graph = {
            module: list(_edges(source, module, known)) for module, source in modules.items()
        }
        graph = {
            module: [edge for edge in edges if edge.target in graph and edge.target != module]
            for module, edges in graph.items()
        }
        output = AnalyzerOutput()
        reported: set[frozenset[str]] = set()
        for module in sorted(graph):
            for edge in graph[module]:
                if not edge.changed:
                    continue
                path = _path(graph, edge.target, module)
                if path is None:
                    continue
                cycle = [module, *path]
                key = frozenset(cycle)
                if key in reported:
                    continue
                reported.add(key)
                output.hits.append(self._hit(modules[module], edge, cycle))
        return output

    def _hit(self, source: SourceFile, edge: _Edge, cycle: list[str]) -> Hit:
        chain = " → ".join(f"`{name}`" for name in cycle)
        return Hit(
            Finding(
                path=source.path,
                line=edge.line,
                end_line=edge.end_line if edge.end_line > edge.line else None,
                category=Category.ARCHITECTURE,
                severity=Severity.MEDIUM,
                rule="import-cycle",
                message=f"This import closes an import cycle: {chain}. Modules in a cycle "
                "cannot be understood, tested or loaded on their own, and the import order "
                "decides whether a name exists yet. Move the shared part into its own module, "
                "or import lazily where it is used.",
                confidence=0.8,
                source=self.source,
            ),
            anchor=f"import-cycle {' '.join(sorted(cycle))}",
        )


def _edges(source: SourceFile, module: str, known: set[str] | frozenset[str]) -> Iterator[_Edge]:
    is_package = PurePosixPath(source.path).stem == "__init__"
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in _module_level_imports(source.syntax_tree().body):
        last = node.end_lineno or node.lineno
        changed = source.touches(node.lineno, last)
        for target in _targets(node, package, known):
            resolved = _resolve(target, known)
            if resolved is not None:
                yield _Edge(resolved, node.lineno, last, changed)


def _targets(
    node: ast.Import | ast.ImportFrom, package: list[str], known: set[str] | frozenset[str]
) -> Iterator[str]:
    """The modules a statement imports: ``from a import b`` is ``a.b`` if that is a module, else ``a``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        if node.level - 1 > len(package):
            return
        base = package[: len(package) - (node.level - 1)]
        module = ".".join([*base, *([node.module] if node.module else [])])
    else:
        module = node.module or ""
    for alias in node.names:
        full = f"{module}.{alias.name}" if module else alias.name
        if alias.name != "*" and full in known:
            yield full
        elif module:
            yield module


def _resolve(name: str, known: set[str] | frozenset[str]) -> str | None:
    """The module ``name`` refers to: itself if known, else the nearest known parent package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (not in functions, not TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            ):
                yield from _module_level_imports(node.orelse)
            else:
                yield from _module_level_imports(node.body)
                yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar | ast.With):
            for block in ("body", "orelse", "finalbody"):
                yield from _module_level_imports(getattr(node, block, []))


def _path(graph: dict[str, list[_Edge]], start: str, goal: str) -> list[str] | None:
    """The shortest module path from ``start`` to ``goal`` (both included), breadth first."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    for current in queue:
        if current == goal:
            chain = [current]
            while previous[chain[-1]] is not None:
                chain.append(previous[chain[-1]])  # type: ignore[arg-type]
            return chain[::-1]
        for edge in graph.get(current, []):
            if edge.target not in previous:
                previous[edge.target] = current
                queue.append(edge.target)
    return None

"""Architecture findings: imports the PR adds that break the repository's own import contracts.

Contracts are read, in the formats teams already use, from the snapshot's ``config_files``:
import-linter (``.importlinter``, ``setup.cfg``/``tox.ini`` ``[importlinter...]`` sections,
``pyproject.toml`` ``[tool.importlinter]``: ``layers``, ``forbidden`` and ``independence``
contracts) and tach (``tach.toml``/``[tool.tach]`` modules with ``depends_on``, plus
``tach.domain.toml`` files). Only direct imports on changed lines are judged: an indirect
chain needs every file's imports, which the snapshot does not carry. With no contract the
analyzer reports nothing (the import rules and cycle check cover that case).

Module names come from the repository's file list (``repo_files``): a file's dotted name is
its path below the source root (the folder above its top-most ``__init__.py`` chain, or a
configured tach source root).
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity


@dataclass(frozen=True)
class Rule:
    """One contract, reduced to what a direct import can break."""

    name: str
    kind: str  # "layers" | "forbidden" | "independence" | "tach"
    # layers: highest first; each level a tuple of sibling modules and whether they are
    # independent of each other (``|`` in import-linter) or not (``:``).
    levels: tuple[tuple[tuple[str, ...], bool], ...] = ()
    containers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    ignore: tuple[tuple[str, str], ...] = ()
    # tach: module -> the modules it may depend on.
    depends: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RepoLayout:
    """How to name a file's module: source roots, longest first."""

    roots: tuple[str, ...] = ("",)

    def module_of(self, path: str) -> str | None:
        pure = PurePosixPath(path)
        if pure.suffix not in {".py", ".pyi"}:
            return None
        for root in self.roots:
            prefix = f"{root.rstrip('/')}/" if root not in {"", "."} else ""
            if path.startswith(prefix):
                parts = list(PurePosixPath(path[len(prefix) :]).with_suffix("").parts)
                if parts and parts[-1] == "__init__":
                    parts = parts[:-1]
                if parts:
                    return ".".join(parts)
        return None


def layout_from_files(repo_files: Sequence[str], extra_roots: Iterable[str] = ()) -> RepoLayout:
    """Source roots: the configured ones if any, else the parents of top-level packages."""
    configured = {str(root) for root in extra_roots}
    if configured:
        return RepoLayout(tuple(sorted(configured, key=len, reverse=True)))
    packages = {str(PurePosixPath(p).parent) for p in repo_files if p.endswith("/__init__.py")}
    roots: set[str] = set()
    for package in packages:
        parent = str(PurePosixPath(package).parent)
        if parent not in packages:
            roots.add("" if parent == "." else parent)
    if not roots:
        roots = {"src", ""}
    return RepoLayout(tuple(sorted(roots, key=len, reverse=True)))


def read_contracts(config_files: Mapping[str, str]) -> tuple[list[Rule], list[str]]:
    """The contracts in the repository's config files, and any source roots they declare."""
    rules: list[Rule] = []
    roots: list[str] = []
    for name in (".importlinter", "setup.cfg", "tox.ini"):
        if name in config_files:
            rules.extend(_importlinter_ini(config_files[name]))
    pyproject = _toml(config_files.get("pyproject.toml"))
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    if isinstance(tool.get("importlinter"), dict):
        rules.extend(_importlinter_toml(tool["importlinter"]))
    tach = _toml(config_files.get("tach.toml")) or tool.get("tach") or {}
    if isinstance(tach, dict) and (
        tach or any(p.endswith("tach.domain.toml") for p in config_files)
    ):
        rule, tach_roots = _tach(tach, config_files)
        if rule is not None:
            rules.append(rule)
        roots.extend(tach_roots)
    return rules, roots


class ContractAnalyzer(Analyzer):
    """Judges each import on a changed line against the contracts."""

    name = "import-contracts"
    tool = "import-contracts"

    def __init__(self, rules: Sequence[Rule], layout: RepoLayout) -> None:
        self.rules = list(rules)
        self.layout = layout

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        output = AnalyzerOutput()
        importer = self.layout.module_of(source.path)
        if not self.rules or importer is None:
            return output
        is_package = PurePosixPath(source.path).stem == "__init__"
        for node, imported in imports_of(source.syntax_tree(), importer, is_package):
            if not source.touches(node.lineno, node.end_lineno or node.lineno):
                continue
            for rule in self.rules:
                why = _breaks(rule, importer, imported)
                if why:
                    output.hits.append(self._hit(source, node, rule, importer, imported, why))
                    break
        return output

    def _hit(
        self, source: SourceFile, node: ast.stmt, rule: Rule, importer: str, imported: str, why: str
    ) -> Hit:
        last = node.end_lineno or node.lineno
        return Hit(
            Finding(
                path=source.path,
                line=node.lineno,
                end_line=last if last > node.lineno else None,
                category=Category.ARCHITECTURE,
                severity=Severity.MEDIUM,
                rule=f"import-contract-{rule.kind}",
                message=f"`{importer}` imports `{imported}`, which breaks the contract "
                f'"{rule.name}": {why}',
                confidence=0.9,
                source=self.source,
            )
        )


def imports_of(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[ast.stmt, str]]:
    """``(statement, imported module)`` for every import, relative ones resolved.

    ``from a import b`` yields ``a.b`` (which may be a module or a name in ``a``; contracts
    match by prefix so both work). Imports under ``if TYPE_CHECKING:`` are skipped: they do
    not run, and import-linter excludes them by default too.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in _runtime_imports(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
            continue
        if node.level:
            if node.level - 1 > len(package):
                continue
            base = package[: len(package) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        for alias in node.names:
            if alias.name == "*" or not target:
                yield node, target or alias.name
            else:
                yield node, f"{target}.{alias.name}"


def _runtime_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _runtime_imports(node.orelse)
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.TryStar):
            for block in ("body", "orelse", "finalbody"):
                yield from _runtime_imports(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from _runtime_imports(handler.body)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _breaks(rule: Rule, importer: str, imported: str) -> str | None:
    """Why ``importer -> imported`` breaks ``rule``, or None."""
    if any(
        fnmatch.fnmatchcase(importer, src)
        and fnmatch.fnmatchcase(imported, dst)
        or (_within(importer, src) and _within(imported, dst))
        for src, dst in rule.ignore
    ):
        return None
    if rule.kind == "layers":
        return _breaks_layers(rule, importer, imported)
    if rule.kind == "forbidden":
        if any(_within(importer, s) for s in rule.sources):
            hit = next((f for f in rule.forbidden if _within(imported, f)), None)
            if hit:
                return f"`{hit}` is forbidden to it."
        return None
    if rule.kind == "independence":
        mine = next((m for m in rule.modules if _within(importer, m)), None)
        theirs = next((m for m in rule.modules if _within(imported, m)), None)
        if mine and theirs and mine != theirs:
            return f"`{mine}` and `{theirs}` must stay independent of each other."
        return None
    if rule.kind == "tach":
        mine = _owner(importer, rule.depends)
        theirs = _owner(imported, rule.depends)
        allowed = rule.depends.get(mine or "", frozenset())
        if mine and theirs and not _within(theirs, mine) and theirs not in allowed:
            return f"`{mine}` does not declare a dependency on `{theirs}`."
        return None
    return None


def _breaks_layers(rule: Rule, importer: str, imported: str) -> str | None:
    for container in rule.containers or ("",):
        low, high = _place(rule, container, importer), _place(rule, container, imported)
        if low is None or high is None or low[1] == high[1]:
            continue
        if high[0] < low[0]:
            return f"`{low[1]}` is a lower layer than `{high[1]}`, so it may not import it."
        if high[0] == low[0] and rule.levels[low[0]][1]:
            return f"`{low[1]}` and `{high[1]}` are independent layers."
    return None


def _place(rule: Rule, container: str, module: str) -> tuple[int, str] | None:
    """The level index and full name of the layer ``module`` belongs to, if any."""
    for index, (siblings, _) in enumerate(rule.levels):
        for layer in siblings:
            full = f"{container}.{layer}" if container else layer
            if _within(module, full):
                return index, full
    return None


def _owner(module: str, modules: Iterable[str]) -> str | None:
    owners = [m for m in modules if _within(module, m)]
    return max(owners, key=len) if owners else None


# --- reading the formats ------------------------------------------------------------------


def _split(value: str | Sequence[str]) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return [str(item).strip() for item in value if str(item).strip()]


def _contract(name: str, options: Mapping[str, str | list]) -> Rule | None:
    kind = str(options.get("type", "")).strip()
    ignore = []
    for entry in _split(options.get("ignore_imports", [])):
        if "->" in entry:
            src, dst = (part.strip() for part in entry.split("->", 1))
            ignore.append((src, dst))
    if kind == "layers":
        levels = []
        for line in _split(options.get("layers", [])):
            line = line.strip("()")  # optional layers; we judge them when present
            independent = "|" in line
            siblings = tuple(part.strip() for part in re.split(r"[|:]", line) if part.strip())
            if siblings:
                levels.append((siblings, independent))
        containers = tuple(_split(options.get("containers", [])))
        return Rule(
            name, "layers", levels=tuple(levels), containers=containers, ignore=tuple(ignore)
        )
    if kind == "forbidden":
        return Rule(
            name,
            "forbidden",
            sources=tuple(_split(options.get("source_modules", []))),
            forbidden=tuple(_split(options.get("forbidden_modules", []))),
            ignore=tuple(ignore),
        )
    if kind == "independence":
        return Rule(
            name,
            "independence",
            modules=tuple(_split(options.get("modules", []))),
            ignore=tuple(ignore),
        )
    return None


def contract_from_options(name: str, options: Mapping[str, str | list]) -> Rule | None:
    """One import-linter-style contract from its options (``type``, ``layers``, ...), or None."""
    return _contract(name, options)


def _importlinter_ini(text: str) -> list[Rule]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    rules = []
    for section in parser.sections():
        if section.startswith("importlinter:contract:"):
            options = dict(parser.items(section))
            rule = _contract(options.get("name", section.split(":", 2)[2]), options)
            if rule is not None:
                rules.append(rule)
    return rules


def _importlinter_toml(table: Mapping) -> list[Rule]:
    rules = []
    for options in table.get("contracts", []) or []:
        if isinstance(options, dict):
            rule = _contract(str(options.get("name", options.get("id", "contract"))), options)
            if rule is not None:
                rules.append(rule)
    return rules


def _tach(table: Mapping, config_files: Mapping[str, str]) -> tuple[Rule | None, list[str]]:
    roots = [str(root) for root in table.get("source_roots", ["."])]
    depends: dict[str, frozenset[str]] = {}
    for module in table.get("modules", []) or []:
        if isinstance(module, dict):
            paths = module.get("paths") or [module.get("path")]
            for path in paths:
                if path:
                    depends[str(path)] = frozenset(_tach_deps(module.get("depends_on", []), ""))
    layout = RepoLayout(tuple(sorted(roots, key=len, reverse=True)))
    for path, text in config_files.items():
        if not path.endswith("tach.domain.toml"):
            continue
        domain = layout.module_of(str(PurePosixPath(path).parent / "__init__.py"))
        parsed = _toml(text)
        if domain is None or not parsed:
            continue
        root = parsed.get("root")
        if isinstance(root, dict):
            depends[domain] = frozenset(_tach_deps(root.get("depends_on", []), domain))
        for module in parsed.get("modules", []) or []:
            if isinstance(module, dict) and module.get("path"):
                depends[f"{domain}.{module['path']}"] = frozenset(
                    _tach_deps(module.get("depends_on", []), domain)
                )
    if not depends:
        return None, roots
    return Rule("tach modules", "tach", depends=depends), roots


def _tach_deps(entries: Iterable, domain: str) -> Iterator[str]:
    for entry in entries:
        path = entry.get("path") if isinstance(entry, dict) else entry
        if not path:
            continue
        path = str(path)
        if path.startswith("//"):
            yield path[2:]
        elif domain:
            yield f"{domain}.{path}"
        else:
            yield path


def _toml(text: str | None) -> dict:
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}

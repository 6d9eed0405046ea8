"""Architecture findings from an AST scan of imports: banned modules and new star imports.

Deliberately quiet: with no contract configured (no banned modules) the only rule is
``from x import *`` outside ``__init__.py`` (where re-exporting is its usual, legitimate use).
Layering contracts beyond a ban list belong in the repository's own import-linter config.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity


class ImportRulesAnalyzer(Analyzer):
    name = "imports"
    tool = "imports"

    def __init__(self, banned: Mapping[str, str] | None = None) -> None:
        """``banned`` maps a module (its submodules are banned too) to why, which may be ''."""
        self.banned = dict(banned or {})

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        output = AnalyzerOutput()
        package = _package_of(source.path)
        is_init = PurePosixPath(source.path).name == "__init__.py"
        for node in ast.walk(source.syntax_tree()):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            first, last = node.lineno, node.end_lineno or node.lineno
            if not source.touches(first, last):
                continue
            for module in _imported_modules(node, package):
                banned = self._ban_for(module)
                if banned is not None:
                    reason = self.banned[banned]
                    output.hits.append(
                        self._hit(
                            source,
                            node,
                            "banned-import",
                            Severity.MEDIUM,
                            0.95,
                            f"`{module}` is banned here by the repository's import contract"
                            + (f": {reason}" if reason else "."),
                        )
                    )
                    break
            if (
                isinstance(node, ast.ImportFrom)
                and any(alias.name == "*" for alias in node.names)
                and not is_init
            ):
                output.hits.append(
                    self._hit(
                        source,
                        node,
                        "star-import",
                        Severity.LOW,
                        0.9,
                        f"`from {'.' * node.level}{node.module or ''} import *` hides where "
                        "names come from and couples this module to everything the other "
                        "one exports; import the names used.",
                    )
                )
        return output

    def _ban_for(self, module: str) -> str | None:
        for banned in self.banned:
            if module == banned or module.startswith(banned + "."):
                return banned
        return None

    def _hit(
        self,
        source: SourceFile,
        node: ast.stmt,
        rule: str,
        severity: Severity,
        confidence: float,
        message: str,
    ) -> Hit:
        last = node.end_lineno or node.lineno
        return Hit(
            Finding(
                path=source.path,
                line=node.lineno,
                end_line=last if last > node.lineno else None,
                category=Category.ARCHITECTURE,
                severity=severity,
                rule=rule,
                message=message,
                confidence=confidence,
                source=self.source,
            )
        )


def _package_of(path: str) -> list[str]:
    """The dotted package a file sits in, guessed from its path (a leading ``src/`` dropped)."""
    parts = list(PurePosixPath(path).parent.parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    return parts


def _imported_modules(node: ast.Import | ast.ImportFrom, package: list[str]) -> Iterator[str]:
    """Every module the statement may import: ``from a import b`` may import ``a`` and ``a.b``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        if node.level - 1 > len(package):
            return
        base = package[: len(package) - (node.level - 1)]
        module = ".".join([*base, *(node.module.split(".") if node.module else [])])
    else:
        module = node.module or ""
    if module:
        yield module
    for alias in node.names:
        if alias.name != "*":
            yield f"{module}.{alias.name}" if module else alias.name

"""Quality findings from ruff's design, dead-code, naming and error-prone rules, on repo thresholds.

A second ruff run next to the bug-pattern one (``ruff``): these rules need ``--preview`` (some
pylint ports are still preview in ruff, and preview changes other rules' behaviour, so they
are kept apart) and take the repository's own thresholds (``max-args`` ...) and disabled
checks from :mod:`reviewer.analyzers.qual_lint_config`. ruff ports pylint's design checks
(PLR09xx) at a fraction of pylint's cost, so pylint itself is not run.

Left out on purpose, as noise in ordinary code: ``PLR6301`` (no-self-use), ``SIM115`` (open
outside ``with``: handles returned or closed later are normal), ``N806``/``N815`` (mixed-case
names mirror external APIs and maths), ``PLR2004`` (magic numbers).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence

from reviewer.analyzers.base import AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.qual_lint_config import LintSettings
from reviewer.analyzers.ruff_check import RuffAnalyzer
from reviewer.analyzers.ruff_rules import RuleInfo
from reviewer.findings import Category, Severity

_M, _L, _I = Severity.MEDIUM, Severity.LOW, Severity.INFO

# code -> (how it matters, the pylint message a repository would disable it by).
DESIGN_RULES: dict[str, tuple[RuleInfo, str]] = {
    "PLR0913": (RuleInfo(_L, 0.8), "too-many-arguments"),
    "PLR0917": (RuleInfo(_L, 0.75), "too-many-positional-arguments"),
    "PLR0912": (RuleInfo(_L, 0.75), "too-many-branches"),
    "PLR0915": (RuleInfo(_L, 0.75), "too-many-statements"),
    "PLR0911": (RuleInfo(_L, 0.7), "too-many-return-statements"),
    "PLR0914": (RuleInfo(_L, 0.7), "too-many-locals"),
    "PLR0916": (RuleInfo(_L, 0.75), "too-many-boolean-expressions"),
    "PLR1702": (RuleInfo(_L, 0.75), "too-many-nested-blocks"),
    "PLR0904": (RuleInfo(_L, 0.7), "too-many-public-methods"),
    "PLW0603": (RuleInfo(_L, 0.75), "global-statement"),
    "PLW0602": (RuleInfo(_L, 0.8), "global-variable-not-assigned"),
    "RET502": (RuleInfo(_M, 0.8), "inconsistent-return-statements"),
    "RET503": (RuleInfo(_M, 0.75), "inconsistent-return-statements"),
    "RET505": (RuleInfo(_I, 0.7), "no-else-return"),
    "PLR1711": (RuleInfo(_I, 0.85), "useless-return"),
    "SIM103": (RuleInfo(_I, 0.8), "simplifiable-if-statement"),
    "A001": (RuleInfo(_L, 0.8), "redefined-builtin"),
    "A002": (RuleInfo(_L, 0.8), "redefined-builtin"),
    "ARG001": (RuleInfo(_L, 0.7), "unused-argument"),
    "ARG002": (RuleInfo(_L, 0.6), "unused-argument"),
    "ARG003": (RuleInfo(_L, 0.6), "unused-argument"),
    "ARG004": (RuleInfo(_L, 0.6), "unused-argument"),
    "N801": (RuleInfo(_I, 0.7), "invalid-name"),
    "N802": (RuleInfo(_I, 0.7), "invalid-name"),
    "N803": (RuleInfo(_I, 0.7), "invalid-name"),
    "N816": (RuleInfo(_I, 0.65), "invalid-name"),
    "BLE001": (RuleInfo(_L, 0.75, "CWE-396"), "broad-exception-caught"),
    "TRY002": (RuleInfo(_L, 0.65, "CWE-397"), "broad-exception-raised"),
    "B025": (RuleInfo(_M, 0.9), "duplicate-except"),
    "PLR0124": (RuleInfo(_M, 0.9), "comparison-with-itself"),
    "PLR0133": (RuleInfo(_M, 0.9), "comparison-of-constants"),
    "PLW1641": (RuleInfo(_M, 0.8), "eq-without-hash"),
    "PLW1514": (RuleInfo(_L, 0.7), "unspecified-encoding"),
    "B909": (RuleInfo(_M, 0.85), "modified-iterating-list"),
    "PLE4703": (RuleInfo(_M, 0.85), "modified-iterating-set"),
    "T100": (RuleInfo(_M, 0.9), "forgotten-debug-statement"),
    "PLR1722": (RuleInfo(_L, 0.8), "consider-using-sys-exit"),
    "PLR1704": (RuleInfo(_M, 0.8), "redefined-argument-from-local"),
    "PLW0642": (RuleInfo(_M, 0.8), "self-cls-assignment"),
    "PLW0128": (RuleInfo(_M, 0.85), "redeclared-assigned-name"),
    "PLW0129": (RuleInfo(_M, 0.9), "assert-on-string-literal"),
    "PLW0177": (RuleInfo(_M, 0.9), "nan-comparison"),
    "PLW0711": (RuleInfo(_M, 0.85), "binary-op-exception"),
    "RUF012": (RuleInfo(_M, 0.75), "dangerous-default-value"),
}
# Naming kinds a repository may restyle, and the rule that checks each one.
_NAMING_RULES = {"N801": "class", "N802": "function", "N803": "argument", "N816": "const"}
# Decorators that turn class attributes into per-instance field defaults.
_RECORD_DECORATORS = frozenset({"s", "attrs", "define", "frozen", "mutable", "dataclass"})
_RECORD_BASES = frozenset({"NamedTuple", "TypedDict"})
_MUTATORS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault", "pop", "remove", "clear"}
)


class RuffDesignAnalyzer(RuffAnalyzer):
    """ruff ``--preview`` with the design rules, on the repository's thresholds."""

    def __init__(self, settings: LintSettings | None = None, *, binary: str | None = None) -> None:
        self.settings = settings or LintSettings()
        rules = {
            code: info
            for code, (info, pylint_name) in DESIGN_RULES.items()
            if not self.settings.is_disabled(pylint_name, code)
            and _NAMING_RULES.get(code) not in self.settings.custom_naming
        }
        super().__init__("ruff-design", category=Category.QUALITY, rules=rules, binary=binary)

    def _command(self, paths: list[str]) -> list[str]:
        command = super()._command(paths)
        separator = command.index("--")
        return [*command[:separator], "--preview", *self._overrides(), *command[separator:]]

    def _overrides(self) -> list[str]:
        s = self.settings
        values = {
            "max-args": s.max_args,
            "max-positional-args": s.max_positional,
            "max-locals": s.max_locals,
            "max-branches": s.max_branches,
            "max-statements": s.max_statements,
            "max-returns": s.max_returns,
            "max-nested-blocks": s.max_nested_blocks,
            "max-public-methods": s.max_public_methods,
            "max-bool-expr": s.max_bool_expr,
        }
        overrides = [f"lint.pylint.{key} = {value}" for key, value in values.items()]
        if s.allowed_builtins:
            overrides.append(f"lint.flake8-builtins.ignorelist = {json.dumps(s.allowed_builtins)}")
        if s.dummy_variables_rgx:
            overrides.append(f"lint.dummy-variable-rgx = {json.dumps(s.dummy_variables_rgx)}")
        return [part for override in overrides for part in ("--config", override)]

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        if not self.rules:
            return AnalyzerOutput()
        output = super().analyze_all(sources, deadline=deadline)
        by_path = {source.path: source for source in sources}
        output.hits = [hit for hit in output.hits if _keep(hit, by_path.get(hit.finding.path))]
        return output


def _keep(hit: Hit, source: SourceFile | None) -> bool:
    """Drop ruff hits that are noise in context (class-level mutables that are not shared)."""
    if source is None or hit.finding.rule != "mutable-class-default":  # RUF012
        return True
    cls = _enclosing_class(source.syntax_tree(), hit.finding.line)
    return cls is not None and _mutable_attribute_is_shared(cls, hit.finding.line)


def _enclosing_class(tree: ast.Module, line: int) -> ast.ClassDef | None:
    found = None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ClassDef)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
            and (found is None or node.lineno > found.lineno)
        ):
            found = node
    return found


def _mutable_attribute_is_shared(cls: ast.ClassDef, line: int) -> bool:
    """Whether a class-level mutable value is really shared between instances.

    It is in record classes (NamedTuple, attrs, dataclass-style decorators: the value becomes
    every instance's default) and when a method mutates it in place through ``self``. A
    config-holder class (Django's ``Meta``, an admin's ``list_display``) only reads it.
    """
    if _is_record(cls):
        return True
    names = {
        target.id
        for statement in cls.body
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno)
        for target in _targets(statement)
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(cls):
        if (
            (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _MUTATORS
                and _is_self_attribute(node.func.value, names)
            )
            or (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Store | ast.Del)
                and _is_self_attribute(node.value, names)
            )
            or (isinstance(node, ast.AugAssign) and _is_self_attribute(node.target, names))
        ):
            return True
    return False


def _is_record(cls: ast.ClassDef) -> bool:
    for decorator in cls.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _RECORD_DECORATORS:
            return True
    return any(
        (base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")) in _RECORD_BASES
        for base in cls.bases
    )


def _targets(statement: ast.stmt) -> list[ast.expr]:
    if isinstance(statement, ast.Assign):
        return statement.targets
    if isinstance(statement, ast.AnnAssign):
        return [statement.target]
    return []


def _is_self_attribute(node: ast.expr, names: set[str]) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in names
        and isinstance(node.value, ast.Name)
        and node.value.id in {"self", "cls"}
    )

"""Framework and stdlib pitfalls: imports of removed modules, and Django model field mistakes.

- ``removed-module``: an import of a module that current Python or Django no longer ship
  (PEP 594's dead batteries, ``distutils``/``imp``, Django 2.0-4.0 removals). The import fails
  on the versions a PR should target, and the table says what replaced it.
- Django model fields, from the rules Django's own documentation gives for ``null`` and
  ``blank`` (docs: "Field options"):
  ``string-field-null`` (``null=True`` on a text field gives two "no data" values, NULL and
  ``''``), ``unique-blank-string-field`` (``unique=True, blank=True`` without ``null=True``:
  two blank rows collide on ``''``), ``blank-without-null`` (``blank=True`` on a numeric/date
  field without ``null=True`` or a default: saving the empty form value fails), and
  ``float-money-field`` (``FloatField`` for an amount of money: binary rounding; Django has
  ``DecimalField`` for this).

Model fields are recognised by their class name on a ``models.`` (or directly imported) call
inside a class body, so plain functions taking ``null=``/``blank=`` are not touched.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.qual_lint_config import LintSettings
from reviewer.findings import Severity

# Module -> what replaced it. A module's submodules are covered too.
REMOVED_MODULES: dict[str, str] = {
    # Python 3.12 (PEP 632, PEP 594 first wave)
    "distutils": "removed in Python 3.12: use setuptools or packaging",
    "imp": "removed in Python 3.12: use importlib",
    "asynchat": "removed in Python 3.12: use asyncio",
    "asyncore": "removed in Python 3.12: use asyncio",
    "smtpd": "removed in Python 3.12: use aiosmtpd",
    # Python 3.13 (PEP 594)
    **{
        name: "removed in Python 3.13 (PEP 594)"
        for name in (
            "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap",
            "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau",
            "telnetlib", "uu", "xdrlib", "lib2to3",
        )
    },
    # Django
    "django.core.urlresolvers": "removed in Django 2.0: use django.urls",
    "django.forms.extras": "removed in Django 2.0: import the widgets from django.forms.widgets",
    "django.utils.six": "removed in Django 3.0: use Python 3 directly (or the six package)",
    "django.utils.lru_cache": "removed in Django 3.0: use functools.lru_cache",
    "django.utils.decorators.available_attrs": "removed in Django 3.0",
    "django.contrib.postgres.fields.jsonb": "removed in Django 4.0: use models.JSONField",
    "django.conf.urls.url": "removed in Django 4.0: use django.urls.re_path",
    "django.utils.encoding.force_text": "removed in Django 4.0: use force_str",
    "django.utils.encoding.smart_text": "removed in Django 4.0: use smart_str",
    "django.utils.translation.ugettext": "removed in Django 4.0: use gettext",
    "django.utils.translation.ugettext_lazy": "removed in Django 4.0: use gettext_lazy",
    "django.utils.translation.ungettext": "removed in Django 4.0: use ngettext",
    "django.utils.http.urlquote": "removed in Django 4.0: use urllib.parse.quote",
}

_STRING_FIELDS = frozenset(
    {"CharField", "TextField", "SlugField", "EmailField", "URLField", "FilePathField"}
)
_BLANK_NEEDS_NULL = frozenset(
    {
        "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
        "PositiveSmallIntegerField", "PositiveBigIntegerField", "FloatField", "DecimalField",
        "DateField", "DateTimeField", "TimeField", "DurationField",
    }
)  # fmt: skip
_MONEY = re.compile(r"(price|amount|cost|balance|salary|fee|payment|total_due|money)", re.IGNORECASE)


class FrameworkAnalyzer(Analyzer):
    name = "quality-frameworks"
    tool = "quality-ast"

    def __init__(self, settings: LintSettings | None = None) -> None:
        self.settings = settings or LintSettings()

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        tree = source.syntax_tree()
        hits = [*self._removed_imports(source, tree)]
        if "django" in source.text:
            for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
                hits.extend(self._model_fields(source, cls))
        return AnalyzerOutput(
            hits=[hit for hit in hits if not self.settings.is_disabled(hit.finding.rule)]
        )

    def _removed_imports(self, source: SourceFile, tree: ast.Module) -> Iterator[Hit]:
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                reason = removed_reason(name)
                if reason is not None:
                    yield self._hit(
                        source, node.lineno, "removed-module", Severity.MEDIUM, 0.85,
                        f"`{name}` is {reason}; this import fails on current versions.",
                    )  # fmt: skip
                    break

    def _model_fields(self, source: SourceFile, cls: ast.ClassDef) -> Iterator[Hit]:
        for statement in cls.body:
            if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)):
                continue
            field = _field_class(statement.value)
            if field is None:
                continue
            options = {
                kw.arg: kw.value.value
                for kw in statement.value.keywords
                if kw.arg and isinstance(kw.value, ast.Constant)
            }
            has_default = any(kw.arg == "default" for kw in statement.value.keywords)
            target = statement.targets[0]
            attribute = target.id if isinstance(target, ast.Name) else ""
            line = statement.lineno
            if field in _STRING_FIELDS:
                if options.get("null") is True and options.get("unique") is not True:
                    yield self._hit(
                        source, line, "string-field-null", Severity.LOW, 0.75,
                        f"`null=True` on a {field} gives two values for \"no data\" (NULL and "
                        "''); Django's convention is an empty string. Drop `null=True` unless "
                        "the field is also unique and blank.",
                    )  # fmt: skip
                elif (
                    options.get("unique") is True
                    and options.get("blank") is True
                    and options.get("null") is not True
                ):
                    yield self._hit(
                        source, line, "unique-blank-string-field", Severity.MEDIUM, 0.8,
                        f"A unique, blank {field} without `null=True` stores '' for every "
                        "blank row, so the second blank row violates the unique constraint. "
                        "Add `null=True`.",
                    )  # fmt: skip
            elif field in _BLANK_NEEDS_NULL:
                if options.get("blank") is True and options.get("null") is not True and not has_default:
                    yield self._hit(
                        source, line, "blank-without-null", Severity.MEDIUM, 0.75,
                        f"`blank=True` lets forms submit an empty {field}, but without "
                        "`null=True` (or a default) the database cannot store it. Add "
                        "`null=True`.",
                    )  # fmt: skip
                if field == "FloatField" and _MONEY.search(attribute):
                    yield self._hit(
                        source, line, "float-money-field", Severity.LOW, 0.7,
                        f"`{attribute}` looks like an amount of money but is a FloatField: "
                        "binary floats round (0.1 + 0.2 != 0.3). Use DecimalField.",
                    )  # fmt: skip

    def _hit(
        self,
        source: SourceFile,
        line: int,
        rule: str,
        severity: Severity,
        confidence: float,
        message: str,
    ) -> Hit:
        return Hit(self.quality_finding(source, line, line, rule, severity, confidence, message))


def removed_reason(module: str) -> str | None:
    """Why ``module`` (or the package it sits in) can no longer be imported, or None."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        reason = REMOVED_MODULES.get(".".join(parts[:end]))
        if reason is not None:
            return reason
    return None


def _field_class(call: ast.Call) -> str | None:
    """``CharField`` for ``models.CharField(...)``/``CharField(...)`` when it is a model field."""
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        if func.value.id != "models":
            return None
        name = func.attr
    elif isinstance(func, ast.Name):
        name = func.id
    else:
        return None
    return name if name in _STRING_FIELDS or name in _BLANK_NEEDS_NULL else None

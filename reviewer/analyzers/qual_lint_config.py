"""A repository's own lint thresholds and disabled checks, read from its pylint/ruff config files.

A team that raised ``max-args`` to 8 or disabled ``invalid-name`` has already decided those
questions; a review bot that re-opens them is noise. We read the files pylint and ruff read
(``.pylintrc``/``pylintrc``, ``setup.cfg``/``tox.ini`` ``[pylint.*]`` sections,
``pyproject.toml`` ``[tool.pylint.*]`` and ``[tool.ruff]``, ``ruff.toml``) from the snapshot's
``config_files`` and fall back to pylint's defaults. Only options we act on are parsed; a file
that does not parse is ignored (the defaults apply), never an error.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# pylint option -> our LintSettings field (pylint's defaults are the field defaults).
_THRESHOLDS = {
    "max-args": "max_args",
    "max-positional-arguments": "max_positional",
    "max-locals": "max_locals",
    "max-branches": "max_branches",
    "max-statements": "max_statements",
    "max-returns": "max_returns",
    "max-nested-blocks": "max_nested_blocks",
    "max-public-methods": "max_public_methods",
    "max-attributes": "max_attributes",
    "max-bool-expr": "max_bool_expr",
}
# ruff's [lint.pylint] option -> our field.
_RUFF_THRESHOLDS = {
    "max-args": "max_args",
    "max-positional-args": "max_positional",
    "max-locals": "max_locals",
    "max-branches": "max_branches",
    "max-statements": "max_statements",
    "max-returns": "max_returns",
    "max-nested-blocks": "max_nested_blocks",
    "max-public-methods": "max_public_methods",
    "max-bool-expr": "max_bool_expr",
}
# Naming kind -> its PEP 8 style as pylint spells it (underscores dropped, lower case).
_NAMING_STYLES = {
    "function": "snakecase",
    "method": "snakecase",
    "argument": "snakecase",
    "variable": "snakecase",
    "class": "pascalcase",
    "const": "uppercase",
}


@dataclass(frozen=True)
class LintSettings:
    """What the quality rules need from a repository's configuration (pylint defaults)."""

    max_args: int = 5
    max_positional: int = 5
    max_locals: int = 15
    max_branches: int = 12
    max_statements: int = 50
    max_returns: int = 6
    max_nested_blocks: int = 5
    max_public_methods: int = 20
    max_attributes: int = 7
    max_bool_expr: int = 5
    # pylint message names (``invalid-name``) the repository disabled.
    disabled: frozenset[str] = frozenset()
    # ruff codes or prefixes the repository ignores (``ARG``, ``N802``).
    ruff_ignored: frozenset[str] = frozenset()
    allowed_builtins: tuple[str, ...] = ()
    dummy_variables_rgx: str | None = None
    # Naming kinds (``function``, ``class``, ...) for which the repo set its own style/regex.
    custom_naming: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def is_disabled(self, pylint_name: str, ruff_code: str | None = None) -> bool:
        if pylint_name in self.disabled:
            return True
        if ruff_code is None:
            return False
        return any(ruff_code.startswith(prefix) for prefix in self.ruff_ignored)


def read_lint_settings(config_files: Mapping[str, str]) -> LintSettings:
    """The settings from root-level config files; pylint's defaults where nothing is said."""
    options: dict[str, str] = {}
    ruff: dict[str, Any] = {}
    for name in ("setup.cfg", "tox.ini", "pylintrc", ".pylintrc"):  # later wins, like pylint
        text = config_files.get(name)
        if text is not None:
            options.update(_ini_pylint_options(text, plain=name.endswith("pylintrc")))
    pyproject = _toml(config_files.get("pyproject.toml"))
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    if isinstance(tool.get("pylint"), dict):
        options.update(_toml_pylint_options(tool["pylint"]))
    if isinstance(tool.get("ruff"), dict):
        ruff = tool["ruff"]
    for name in ("ruff.toml", ".ruff.toml"):
        parsed = _toml(config_files.get(name))
        if parsed:
            ruff = parsed
    return _settings(options, ruff)


def _settings(options: Mapping[str, str], ruff: Mapping[str, Any]) -> LintSettings:
    settings = LintSettings()
    updates: dict[str, Any] = {}
    for option, attr in _THRESHOLDS.items():
        value = _int(options.get(option))
        if value is not None:
            updates[attr] = value
    lint = ruff.get("lint", {}) if isinstance(ruff.get("lint"), dict) else {}
    pylint_ruff = lint.get("pylint", ruff.get("pylint", {}))
    if isinstance(pylint_ruff, dict):
        for option, attr in _RUFF_THRESHOLDS.items():
            value = _int(pylint_ruff.get(option))
            if value is not None:
                updates[attr] = value
    disabled = {
        item
        for item in _split(options.get("disable", ""))
        if item != "all"  # "disable=all" + per-file enables: we cannot see those enables
    }
    ignored = {str(code) for code in [*lint.get("ignore", []), *ruff.get("ignore", [])]}
    builtins = tuple(_split(options.get("allowed-redefined-builtins", "")))
    custom = {
        kind
        for kind, pep8 in _NAMING_STYLES.items()
        if options.get(f"{kind}-rgx")
        or options.get(f"{kind}-naming-style", pep8).lower().replace("_", "") != pep8
    }
    dummy = options.get("dummy-variables-rgx")
    if dummy and not _valid_regex(dummy):
        dummy = None
    return replace(
        settings,
        **updates,
        disabled=frozenset(disabled),
        ruff_ignored=frozenset(ignored),
        allowed_builtins=builtins,
        dummy_variables_rgx=dummy,
        custom_naming=frozenset(custom),
    )


def _ini_pylint_options(text: str, *, plain: bool) -> dict[str, str]:
    """Options of pylint sections: any section of a pylintrc, ``[pylint.*]`` elsewhere."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {}
    options: dict[str, str] = {}
    for section in parser.sections():
        lowered = section.lower()
        if plain or lowered.startswith("pylint"):
            for key, value in parser.items(section):
                options[key.strip().lower().replace("_", "-")] = value.strip()
    return options


def _toml_pylint_options(table: Mapping[str, Any]) -> dict[str, str]:
    options: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            options.update(_toml_pylint_options(value))
        elif isinstance(value, list):
            options[key.lower()] = ",".join(str(item) for item in value)
        else:
            options[key.lower()] = str(value)
    return options


def _toml(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _split(value: str) -> list[str]:
    return [item.strip() for item in re.split(r"[,\s]+", value) if item.strip()]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def _valid_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True

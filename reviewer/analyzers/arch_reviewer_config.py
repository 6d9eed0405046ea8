"""The ``[architecture]`` table of a repository's ``.reviewer.toml``: banned modules and contracts.

For teams that do not run import-linter, the same contract model lives in our own config file
(read from the BASE branch by ``prepare``, so a PR cannot loosen its own rules)::

    [architecture]
    banned = { "pickle" = "untrusted data; use json", "myapp.legacy" = "being removed" }

    [[architecture.contracts]]
    name = "layers"
    type = "layers"                     # "layers" | "forbidden" | "independence"
    layers = ["myapp.web", "myapp.services", "myapp.domain"]   # highest first

A malformed file or entry is ignored rather than failing the review: the review still runs
with whatever else is configured.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field

from reviewer.analyzers.arch_contracts import Rule, contract_from_options

CONFIG_NAME = ".reviewer.toml"


@dataclass(frozen=True)
class ArchitectureConfig:
    """What ``.reviewer.toml`` says about architecture."""

    banned: dict[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()


def read_architecture_config(config_files: Mapping[str, str]) -> ArchitectureConfig:
    text = config_files.get(CONFIG_NAME)
    if not text:
        return ArchitectureConfig()
    try:
        table = tomllib.loads(text).get("architecture", {})
    except tomllib.TOMLDecodeError:
        return ArchitectureConfig()
    if not isinstance(table, dict):
        return ArchitectureConfig()
    return ArchitectureConfig(banned=_banned(table.get("banned")), rules=_rules(table.get("contracts")))


def _banned(value: object) -> dict[str, str]:
    """``{"module" = "reason"}``; a plain list of modules is accepted too (no reasons)."""
    if isinstance(value, dict):
        return {str(k).strip(): str(v) for k, v in value.items() if str(k).strip()}
    if isinstance(value, list):
        return {str(item).strip(): "" for item in value if str(item).strip()}
    return {}


def _rules(value: object) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        return ()
    rules = []
    for index, options in enumerate(value):
        if not isinstance(options, dict):
            continue
        rule = contract_from_options(str(options.get("name", f"contract {index + 1}")), options)
        if rule is not None:
            rules.append(rule)
    return tuple(rules)

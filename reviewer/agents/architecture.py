"""The architecture agent: import contracts, the ban list, import cycles, and star imports.

Contracts (import-linter, tach, ``.reviewer.toml``) and module names need repository context
beyond the changed files: the agent reads them from the snapshot's ``config_files`` and
``repo_files`` and builds its analyzers per run. With no contract only the ban list, the cycle
check among changed modules and the star-import rule apply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.arch_contracts import (
    ContractAnalyzer,
    RepoLayout,
    layout_from_files,
    read_contracts,
)
from reviewer.analyzers.arch_cycles import ImportCycleAnalyzer
from reviewer.analyzers.arch_reviewer_config import read_architecture_config
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.import_rules import ImportRulesAnalyzer
from reviewer.findings import Category
from reviewer.snapshot import PullRequestSnapshot


def architecture_analyzers(
    options: AgentOptions,
    contracts: ContractAnalyzer | None = None,
    cycles: ImportCycleAnalyzer | None = None,
) -> list[Analyzer]:
    analyzers: list[Analyzer] = [ImportRulesAnalyzer(banned=options.banned_imports)]
    if contracts is not None:
        analyzers.append(contracts)
    if cycles is not None:
        analyzers.append(cycles)
    return analyzers


def _paths(snapshot: PullRequestSnapshot) -> list[str]:
    return snapshot.repo_files or [changed.path for changed in snapshot.files]


def contract_analyzer(
    snapshot: PullRequestSnapshot, layout: RepoLayout | None = None
) -> ContractAnalyzer | None:
    """The contract checker for this repository, or None when it declares no contract."""
    rules, roots = read_contracts(snapshot.config_files)
    rules = [*rules, *read_architecture_config(snapshot.config_files).rules]
    if not rules:
        return None
    return ContractAnalyzer(rules, layout or layout_from_files(_paths(snapshot), roots))


def cycle_analyzer(snapshot: PullRequestSnapshot) -> ImportCycleAnalyzer | None:
    """The cycle check, when at least two Python modules changed (a cycle needs two)."""
    python = [f for f in snapshot.files if f.path.endswith((".py", ".pyi"))]
    if len(python) < 2:
        return None
    _, roots = read_contracts(snapshot.config_files)
    paths = _paths(snapshot)
    layout = layout_from_files(paths, roots)
    known = frozenset(
        module for path in paths if (module := layout.module_of(path)) is not None
    )
    return ImportCycleAnalyzer(layout, known)


@dataclass(frozen=True)
class ArchitectureAgent(Agent):
    """An agent whose analyzers are configured from the repository's import contracts."""

    def _review(self, snapshot: PullRequestSnapshot, options: AgentOptions):
        contracts = contract_analyzer(snapshot)
        cycles = cycle_analyzer(snapshot)
        banned = read_architecture_config(snapshot.config_files).banned
        if banned:
            options = options.model_copy(
                update={"banned_imports": {**banned, **options.banned_imports}}
            )
        bound = replace(
            self, analyzers=lambda opts: architecture_analyzers(opts, contracts, cycles)
        )
        return Agent._review(bound, snapshot, options)


ARCHITECTURE = ArchitectureAgent(
    name="architecture", category=Category.ARCHITECTURE, analyzers=architecture_analyzers
)

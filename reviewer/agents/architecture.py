"""The architecture agent: the repository's import contracts, the ban list, and star imports.

Contracts (import-linter, tach) and module names need repository context beyond the changed
files: the agent reads them from the snapshot's ``config_files`` and ``repo_files`` and builds
its analyzers per run. With neither present only the ban list and star-import rule apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.arch_contracts import (
    ContractAnalyzer,
    Rule,
    layout_from_files,
    read_contracts,
)
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.import_rules import ImportRulesAnalyzer
from reviewer.findings import Category
from reviewer.snapshot import PullRequestSnapshot


def architecture_analyzers(
    options: AgentOptions, contracts: ContractAnalyzer | None = None
) -> list[Analyzer]:
    analyzers: list[Analyzer] = [ImportRulesAnalyzer(banned=options.banned_imports)]
    if contracts is not None:
        analyzers.append(contracts)
    return analyzers


def contract_analyzer(snapshot: PullRequestSnapshot) -> ContractAnalyzer | None:
    """The contract checker for this repository, or None when it declares no contract."""
    rules: Sequence[Rule]
    rules, roots = read_contracts(snapshot.config_files)
    if not rules:
        return None
    paths = snapshot.repo_files or [changed.path for changed in snapshot.files]
    return ContractAnalyzer(rules, layout_from_files(paths, roots))


@dataclass(frozen=True)
class ArchitectureAgent(Agent):
    """An agent whose analyzers are configured from the repository's import contracts."""

    def _review(self, snapshot: PullRequestSnapshot, options: AgentOptions):
        contracts = contract_analyzer(snapshot)
        bound = replace(self, analyzers=lambda opts: architecture_analyzers(opts, contracts))
        return Agent._review(bound, snapshot, options)


ARCHITECTURE = ArchitectureAgent(
    name="architecture", category=Category.ARCHITECTURE, analyzers=architecture_analyzers
)

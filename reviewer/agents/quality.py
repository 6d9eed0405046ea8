"""The quality agent: ruff's bug-pattern and design rules, radon's limits, and our AST checks.

The design rules and AST checks take the repository's own thresholds and disabled checks
(its pylint/ruff config, from the snapshot's ``config_files``), so the agent builds them per
run from the snapshot rather than from options alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.qual_ast_rules import QualityAstAnalyzer
from reviewer.analyzers.qual_lint_config import LintSettings, read_lint_settings
from reviewer.analyzers.qual_ruff_design import RuffDesignAnalyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.findings import Category
from reviewer.snapshot import PullRequestSnapshot


def quality_analyzers(
    options: AgentOptions, settings: LintSettings | None = None
) -> list[Analyzer]:
    settings = settings or LintSettings()
    return [
        ANALYZERS["ruff"],
        ANALYZERS["radon"],
        RuffDesignAnalyzer(settings),
        QualityAstAnalyzer(settings),
    ]


@dataclass(frozen=True)
class QualityAgent(Agent):
    """An agent whose analyzers are configured from the repository's lint config."""

    def _review(self, snapshot: PullRequestSnapshot, options: AgentOptions):
        settings = read_lint_settings(snapshot.config_files)
        bound = replace(self, analyzers=lambda opts: quality_analyzers(opts, settings))
        return Agent._review(bound, snapshot, options)


QUALITY = QualityAgent(name="quality", category=Category.QUALITY, analyzers=quality_analyzers)

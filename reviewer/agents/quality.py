"""The quality agent: ruff's bug-pattern and design rules, radon's limits, and our AST checks.

The design rules and AST checks take the repository's own thresholds and disabled checks
(its pylint/ruff config, from the snapshot's ``config_files``), and the "no test changed"
note needs the repository's file list, so the agent builds its analyzers per run from the
snapshot rather than from options alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.qual_ast_rules import QualityAstAnalyzer
from reviewer.analyzers.qual_correctness import QualityCorrectnessAnalyzer
from reviewer.analyzers.qual_frameworks import FrameworkAnalyzer
from reviewer.analyzers.qual_lint_config import LintSettings, read_lint_settings
from reviewer.analyzers.qual_ruff_design import RuffDesignAnalyzer
from reviewer.analyzers.qual_untested import UntestedChangeAnalyzer, untested_change_analyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.findings import Category
from reviewer.snapshot import PullRequestSnapshot


def quality_analyzers(
    options: AgentOptions,
    settings: LintSettings | None = None,
    untested: UntestedChangeAnalyzer | None = None,
) -> list[Analyzer]:
    settings = settings or LintSettings()
    analyzers = [
        ANALYZERS["ruff"],
        ANALYZERS["radon"],
        RuffDesignAnalyzer(settings),
        QualityAstAnalyzer(settings),
        QualityCorrectnessAnalyzer(settings),
        FrameworkAnalyzer(settings),
        ANALYZERS["js-quality"],
    ]
    if untested is not None and untested.active:
        analyzers.append(untested)
    return analyzers


@dataclass(frozen=True)
class QualityAgent(Agent):
    """An agent whose analyzers are configured from the repository's lint config and tree."""

    def _review(self, snapshot: PullRequestSnapshot, options: AgentOptions):
        settings = read_lint_settings(snapshot.config_files)
        changed = [f.path for f in snapshot.files] + [
            f.previous_path for f in snapshot.files if f.previous_path
        ]
        untested = untested_change_analyzer(snapshot.repo_files, changed)
        bound = replace(
            self, analyzers=lambda opts: quality_analyzers(opts, settings, untested)
        )
        return Agent._review(bound, snapshot, options)


QUALITY = QualityAgent(name="quality", category=Category.QUALITY, analyzers=quality_analyzers)

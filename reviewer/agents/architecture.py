"""The architecture agent: import rules, with the repository's ban list from the options."""

from __future__ import annotations

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.import_rules import ImportRulesAnalyzer
from reviewer.findings import Category


def architecture_analyzers(options: AgentOptions) -> list[Analyzer]:
    return [ImportRulesAnalyzer(banned=options.banned_imports)]


ARCHITECTURE = Agent(
    name="architecture", category=Category.ARCHITECTURE, analyzers=architecture_analyzers
)

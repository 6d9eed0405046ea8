"""The security agent: bandit's checks on the Python files the pull request changes."""

from __future__ import annotations

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.findings import Category


def security_analyzers(options: AgentOptions) -> list[Analyzer]:
    return [ANALYZERS["bandit"]]


SECURITY = Agent(name="security", category=Category.SECURITY, analyzers=security_analyzers)

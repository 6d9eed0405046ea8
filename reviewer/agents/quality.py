"""The quality agent: ruff's bug-pattern rules plus radon's complexity and length limits."""

from __future__ import annotations

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.findings import Category


def quality_analyzers(options: AgentOptions) -> list[Analyzer]:
    return [ANALYZERS["ruff"], ANALYZERS["radon"]]


QUALITY = Agent(name="quality", category=Category.QUALITY, analyzers=quality_analyzers)

"""The performance agent: ruff's blocking-call-in-async, wasted-work and comprehension rules."""

from __future__ import annotations

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.findings import Category


def performance_analyzers(options: AgentOptions) -> list[Analyzer]:
    return [ANALYZERS["ruff-performance"]]


PERFORMANCE = Agent(
    name="performance", category=Category.PERFORMANCE, analyzers=performance_analyzers
)

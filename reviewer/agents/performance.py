"""The performance agent: ruff's async/wasted-work rules plus our N+1, blocking-handle and pattern rules."""

from __future__ import annotations

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.findings import Category


def performance_analyzers(options: AgentOptions) -> list[Analyzer]:
    return [
        ANALYZERS[name]
        for name in ("ruff-performance", "perf-queries", "perf-async", "perf-patterns")
    ]


PERFORMANCE = Agent(
    name="performance", category=Category.PERFORMANCE, analyzers=performance_analyzers
)

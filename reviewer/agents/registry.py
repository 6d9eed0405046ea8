"""The agents by name (the names of ``reviewer.payloads.AGENT_NAMES``) and the one way to run one."""

from __future__ import annotations

import time
from collections.abc import Mapping

from reviewer.agents.architecture import ARCHITECTURE
from reviewer.agents.base import Agent, AgentOptions
from reviewer.agents.performance import PERFORMANCE
from reviewer.agents.quality import QUALITY
from reviewer.agents.security import SECURITY
from reviewer.payloads import AgentResult, AgentStatus
from reviewer.snapshot import PullRequestSnapshot

AGENTS: dict[str, Agent] = {
    agent.name: agent for agent in (SECURITY, PERFORMANCE, QUALITY, ARCHITECTURE)
}


def analysed_suffixes() -> frozenset[str]:
    """File suffixes at least one registered analyzer reads (for "not analysed" notes)."""
    from reviewer.analyzers.registry import ANALYZERS

    return frozenset().union(*(a.languages for a in ANALYZERS.values()))


def run_agent(
    name: str,
    snapshot: PullRequestSnapshot,
    *,
    options: AgentOptions | None = None,
    agents: Mapping[str, Agent] | None = None,
) -> AgentResult:
    """Run one agent on a snapshot. Never raises: any failure is ``status="failed"`` + error.

    ``agents`` replaces the registry (tests pass agents built from fake analyzers).
    """
    started = time.perf_counter()
    try:
        agent = (AGENTS if agents is None else agents)[name]
        return agent.run(snapshot, options)
    except Exception as exc:  # noqa: BLE001 - never raise into the chord
        return AgentResult(
            agent=name,
            status=AgentStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            duration_s=time.perf_counter() - started,
        )

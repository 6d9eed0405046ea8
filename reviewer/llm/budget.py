"""The per-PR token budget: split across agents, filled with the riskiest units, cut into chunks.

Agents run in separate worker processes, so the split is a fixed share per agent computed
the same way everywhere (no coordination needed). Within its share an agent takes units in
risk order; a unit that does not fit is *clipped* (left to the static analyzers) and named in
the review. A share larger than one request's chunk size becomes several requests (chunks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reviewer.llm.selection import Unit
from reviewer.llm.tokens import TokenCounter

# Security and architecture get more: their models reason over more context per finding.
DEFAULT_SHARES: Mapping[str, float] = {
    "security": 0.32,
    "performance": 0.22,
    "quality": 0.22,
    "architecture": 0.24,
}


@dataclass(frozen=True)
class BudgetPolicy:
    """Knobs from settings: the PR's tokens (prompt + answer), per-request limits, shares."""

    tokens_per_pr: int = 7_500  # the measured default (docs/llm.md); settings override it
    max_chunk_tokens: int = 3_000
    max_output_tokens: int = 600
    # Prompt tokens every request costs besides the code (rules, schema, task, known findings).
    overhead_tokens: int = 350
    # Units scoring below this for an agent are left to its static analyzers: a hunk with no
    # risk signal rarely yields an LLM finding worth its tokens.
    min_risk: float = 3.0
    shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))

    def agent_tokens(self, agent: str) -> int:
        total = sum(self.shares.values()) or 1.0
        return int(self.tokens_per_pr * self.shares.get(agent, 0.0) / total)


@dataclass
class AgentPlan:
    """What one agent's LLM pass will send, and what it leaves out (with reasons)."""

    agent: str
    chunks: list[list[Unit]] = field(default_factory=list)
    clipped: list[Unit] = field(default_factory=list)
    irrelevant: list[Unit] = field(default_factory=list)
    planned_tokens: int = 0

    @property
    def covered(self) -> list[Unit]:
        return [unit for chunk in self.chunks for unit in chunk]


def plan_agent(
    agent: str, units: Sequence[Unit], policy: BudgetPolicy, count: TokenCounter
) -> AgentPlan:
    """Pick and chunk this agent's units within its share of the PR budget.

    Each request costs ``overhead + code + max_output`` tokens; requests are added while the
    share allows, riskiest units first. Units below ``min_risk`` for this agent are not sent.
    """
    plan = AgentPlan(agent=agent)
    share = policy.agent_tokens(agent)
    per_request = policy.overhead_tokens + policy.max_output_tokens
    code_room = max(policy.max_chunk_tokens - policy.overhead_tokens, 0)
    ranked = sorted(units, key=lambda u: (-u.risk.get(agent, 0.0), u.path, u.start))
    spent = 0
    current: list[Unit] = []
    current_tokens = 0
    for unit in ranked:
        if unit.risk.get(agent, 0.0) < max(policy.min_risk, 1e-9):
            plan.irrelevant.append(unit)
            continue
        cost = count(unit.render()) + 1
        if cost > code_room:
            plan.clipped.append(unit)
            continue
        if current and current_tokens + cost <= code_room and spent + cost <= share:
            current.append(unit)
            current_tokens += cost
            spent += cost
            continue
        if spent + per_request + cost > share:
            plan.clipped.append(unit)
            continue
        if current:
            plan.chunks.append(current)
        current, current_tokens = [unit], cost
        spent += per_request + cost
    if current:
        plan.chunks.append(current)
    plan.planned_tokens = spent
    return plan

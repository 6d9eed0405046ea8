"""One request for several agents, when a re-review's changed code is small.

After a push, each agent would send the same changed function with its own fixed overhead
(system rules, framing, answer), which costs more than the code itself. When one request
covering every agent that wants that code needs fewer tokens than one request each, the
agents share it: each agent process computes the same :class:`JointPlan` (pure, from the same
units), the first to :meth:`JointStore.claim` its key makes the call and publishes every
agent's share, the others wait for it. An agent that cannot get its share in time (the
owner died) falls back to its own request. Tokens and cost are split evenly between the
agents of the call, so each agent's result (and the PR's ledger) still says what it used.

The call runs on the strongest model among the agents' models (highest input price): an
agent routed to a cheap model loses nothing by being reviewed by a stronger one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from reviewer.llm.budget import BudgetPolicy
from reviewer.llm.calls import CallUsage, ChunkAnswer, ChunkRequest, ChunkReviewer
from reviewer.llm.pricing import PriceTable
from reviewer.llm.schema import LLMFinding
from reviewer.llm.selection import Unit

log = logging.getLogger(__name__)


class JointStore(Protocol):
    """Where agents of one review meet for a joint request (Redis across worker processes)."""

    def claim(self, key: str, ttl_s: float) -> bool:
        """True for exactly one caller per key (until ``ttl_s`` passes): it makes the call."""

    def publish(self, key: str, shares: dict) -> None: ...

    def wait(self, key: str, timeout_s: float) -> dict | None:
        """The published shares, or None when they did not come (the owner died or timed out)."""


class MemoryJointStore:
    """A :class:`JointStore` in one process (the local CLI's in-process worker, tests, benchmarks)."""

    def __init__(self) -> None:
        self.claimed: set[str] = set()
        self.published: dict[str, dict] = {}

    def claim(self, key: str, ttl_s: float) -> bool:
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    def publish(self, key: str, shares: dict) -> None:
        self.published[key] = shares

    def wait(self, key: str, timeout_s: float) -> dict | None:
        return self.published.get(key)


@dataclass(frozen=True)
class JointPlan:
    agents: tuple[str, ...]  # the agents sharing the call, in canvas order
    units: tuple[Unit, ...]  # every unit any of them wants
    per_agent: Mapping[str, tuple[Unit, ...]]
    model: str
    key: str
    prompt_tokens: int  # the joint request's prompt, measured
    separate_tokens: int  # what the agents' own requests would have needed (prompts + answers)


Measure = Callable[[Sequence[str], Sequence[Unit]], int]


def plan_joint(
    units: Sequence[Unit],
    *,
    agents: Sequence[str],
    models: Mapping[str, str],
    prices: PriceTable,
    policy: BudgetPolicy,
    measure: Measure,
    scope_key: str,
) -> JointPlan | None:
    """The joint request for these units, or None when one request per agent is as cheap.

    ``measure(agents, units)`` gives a request's prompt tokens; ``scope_key`` names the review
    and prompt version, so that only agents of the same run share a call.
    """
    per_agent = {
        agent: tuple(u for u in units if u.risk.get(agent, 0.0) >= max(policy.min_risk, 1e-9))
        for agent in agents
    }
    sharing = tuple(agent for agent in agents if per_agent[agent])
    if len(sharing) < 2:
        return None
    wanted = {u.key: u for agent in sharing for u in per_agent[agent]}
    joint_units = tuple(sorted(wanted.values(), key=lambda u: (u.path, u.start)))
    prompt = measure(sharing, joint_units)
    if prompt > policy.max_chunk_tokens:
        return None  # not small: the agents' own plans and budget shares apply
    separate = sum(measure([agent], per_agent[agent]) + policy.max_output_tokens for agent in sharing)
    if prompt + policy.max_output_tokens >= separate:
        return None
    model = max((models.get(a) or next(iter(models.values())) for a in sharing),
                key=lambda m: (prices.price(m).input, m))
    digest = hashlib.sha256()
    for part in (scope_key, model, ",".join(sharing), *(u.render() for u in joint_units)):
        digest.update(part.encode())
        digest.update(b"\0")
    return JointPlan(
        agents=sharing, units=joint_units, per_agent={a: per_agent[a] for a in sharing}, model=model,
        key=digest.hexdigest()[:32], prompt_tokens=prompt, separate_tokens=separate,
    )


def joint_answer(
    plan: JointPlan,
    agent: str,
    *,
    store: JointStore,
    request: Callable[[], ChunkRequest],
    reviewer: ChunkReviewer,
    wait_s: float,
    claim_ttl_s: float,
) -> ChunkAnswer | None:
    """This agent's share of the joint call: made here (first caller) or waited for.

    None when the share did not come (the caller then sends its own request). Never raises:
    a broken store is the same as no share.
    """
    try:
        if store.claim(plan.key, claim_ttl_s):
            shares = split_answer(reviewer(request()), plan.agents)
            store.publish(plan.key, {a: answer_to_json(s) for a, s in shares.items()})
            return shares[agent]
        published = store.wait(plan.key, wait_s)
    except Exception:  # the store is a coordination aid: without it, the agent goes alone
        log.warning("llm.joint_store_failed", exc_info=True)
        return None
    if not published or agent not in published:
        return None
    return answer_from_json(published[agent])


def split_answer(answer: ChunkAnswer, agents: Sequence[str]) -> dict[str, ChunkAnswer]:
    """Each agent's findings (by the ``agent`` tag; untagged ones go to the first agent) and
    an even share of every call's tokens (the first agents take the remainder)."""
    findings: dict[str, list[LLMFinding]] = {agent: [] for agent in agents}
    for finding in answer.findings:
        owner = getattr(finding, "agent", None)
        owner = owner if owner in findings else agents[0]
        findings[owner].append(LLMFinding(**finding.model_dump(exclude={"agent"})))
    out = {}
    for index, agent in enumerate(agents):
        calls = [
            CallUsage(
                model=c.model,
                estimated_prompt_tokens=_share(c.estimated_prompt_tokens, index, len(agents)),
                prompt_tokens=_share(c.prompt_tokens, index, len(agents)),
                completion_tokens=_share(c.completion_tokens, index, len(agents)),
                cached_tokens=_share(c.cached_tokens, index, len(agents)),
            )
            for c in answer.calls
        ]
        out[agent] = ChunkAnswer(
            findings=findings[agent], calls=calls, malformed=answer.malformed,
            unavailable=answer.unavailable, cache_hit=answer.cache_hit,
        )
    return out


def _share(total: int, index: int, parts: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def answer_to_json(answer: ChunkAnswer) -> dict:
    return {
        "findings": [f.model_dump(mode="json") for f in answer.findings],
        "calls": [asdict(c) for c in answer.calls],
        "malformed": answer.malformed,
        "unavailable": answer.unavailable,
    }


def answer_from_json(data: dict) -> ChunkAnswer:
    return ChunkAnswer(
        findings=[LLMFinding.model_validate(f) for f in data.get("findings") or []],
        calls=[CallUsage(**c) for c in data.get("calls") or []],
        malformed=data.get("malformed"),
        unavailable=data.get("unavailable"),
    )

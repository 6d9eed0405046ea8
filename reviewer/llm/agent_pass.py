"""An agent's LLM pass: plan within budget and dollar cap, review chunks, merge with static.

Pure orchestration: the chunk reviewer, the spend ledger (shared per PR across processes)
and the nonce source are passed in. Never raises; every way of not using the LLM ends as a
mode and a note on the AgentResult, and the static findings are always kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from reviewer.findings import Category, Finding
from reviewer.llm.budget import AgentPlan, BudgetPolicy, plan_agent
from reviewer.llm.calls import ChunkAnswer, ChunkRequest, ChunkReviewer
from reviewer.llm.joint import JointPlan, JointStore, joint_answer, plan_joint
from reviewer.llm.mapping import map_findings
from reviewer.llm.pricing import PriceTable
from reviewer.llm.prompts import (
    PROMPT_VERSION,
    BoundaryCollision,
    build_messages,
    repo_instructions,
)
from reviewer.llm.schema import schema_prompt_tokens
from reviewer.llm.selection import Focus, build_units, focus_units
from reviewer.llm.tokens import TokenCounter, count_messages
from reviewer.payloads import AgentResult, SkipNote
from reviewer.snapshot import PullRequestSnapshot

MODE_LLM = "llm"
MODE_UNAVAILABLE = "static (llm unavailable)"
MODE_COST_CAP = "static (llm cost cap)"
MODE_MALFORMED = "static (llm answer invalid)"


class SpendLedger(Protocol):
    """Dollars spent on one PR so far, shared by its agents (Redis in production)."""

    def spent(self) -> float: ...

    def add(self, usd: float) -> float: ...


class MemoryLedger:
    """A ledger for one process (tests, benchmarks, the local CLI without Redis)."""

    def __init__(self) -> None:
        self.total = 0.0

    def spent(self) -> float:
        return self.total

    def add(self, usd: float) -> float:
        self.total += usd
        return self.total


@dataclass(frozen=True)
class LLMPassConfig:
    models: Mapping[str, str]
    policy: BudgetPolicy = field(default_factory=BudgetPolicy)
    usd_cap_per_pr: float = 1.0
    # Few-shot lines from the learning loop (``reviewer.learning.few_shot_text``); part of
    # every request's measured fixed part, so the token budget still holds.
    examples: str = ""


@dataclass(frozen=True)
class Rereview:
    """A re-review after a push: only code the push changed is sent (``focus``, from the
    incremental scope); unchanged hunks — reviewed or clipped before — are not sent again,
    their earlier findings are carried over. With a ``store``, the agents of the run share
    one request for that code when it is cheaper (``reviewer.llm.joint``)."""

    focus: Focus
    since_sha: str = ""
    store: JointStore | None = None
    run_key: str = ""  # the review: only agents of the same run share a request
    agents: tuple[str, ...] = ("security", "performance", "quality", "architecture")
    wait_s: float = 120.0  # how long an agent waits for the share another agent is fetching


def run_llm_pass(
    agent: str,
    snapshot: PullRequestSnapshot,
    static: AgentResult,
    *,
    reviewer: ChunkReviewer,
    config: LLMPassConfig,
    count: TokenCounter,
    prices: PriceTable,
    ledger: SpendLedger,
    nonce: Callable[[], str],
    rereview: Rereview | None = None,
) -> AgentResult:
    """``static`` plus what the LLM found on this agent's riskiest hunks, with usage and notes."""
    model = config.models.get(agent) or next(iter(config.models.values()))
    units, file_skips = build_units(snapshot)
    unchanged = []
    if rereview is not None:
        units, unchanged = focus_units(units, rereview.focus)
    instructions = repo_instructions(snapshot.config_files, sorted({unit.path for unit in units}))
    # The request's fixed part (rules, task, known findings, instructions), measured rather
    # than assumed, so that planned chunks really fit the budget.
    followup = rereview is not None
    fixed = _messages(agent, [], snapshot, static.findings, instructions, nonce, config, followup)
    policy = replace(config.policy, overhead_tokens=count_messages(fixed, count) + schema_prompt_tokens(count) + 16)
    plan = plan_agent(agent, units, policy, count)
    notes = [SkipNote(path=p, reason=f"not sent to the LLM: {r}") for p, r in sorted(file_skips.items())]
    tally = _Tally()
    stop: tuple[str, str] | None = None  # (mode, note) once the pass must end
    done_chunks = 0
    shared = _joint_plan(agent, units, snapshot, static, instructions, nonce, config, count, prices, rereview)
    if shared is not None:  # one request for several agents replaces this agent's own plan
        model = shared.model
        plan = AgentPlan(agent=agent, chunks=[list(shared.per_agent[agent])])
    for index, chunk in enumerate(plan.chunks):
        agents = shared.agents if shared is not None else agent
        messages = _messages(agents, chunk if shared is None else shared.units, snapshot, static.findings,
                             instructions, nonce, config, followup)
        prompt = count_messages(messages, count) + schema_prompt_tokens(count, joint=shared is not None)
        estimate = prices.cost(model, prompt, policy.max_output_tokens)
        if ledger.spent() + estimate > config.usd_cap_per_pr:
            stop = (MODE_COST_CAP, f"per-PR LLM cost cap ${config.usd_cap_per_pr:g} reached")
            _clip(notes, agent, plan.chunks[index:], "PR cost cap reached")
            break
        request = ChunkRequest(
            agent=agent,
            code="\n\n".join(unit.code() for unit in chunk),
            prompt_version=PROMPT_VERSION,
            model=model,
            messages=messages,
            max_output_tokens=policy.max_output_tokens,
            agents=shared.agents if shared is not None else (),
        )
        answer = None
        if shared is not None:
            answer = joint_answer(
                shared, agent, store=rereview.store, request=lambda r=request: r, reviewer=reviewer,
                wait_s=rereview.wait_s, claim_ttl_s=rereview.wait_s,
            )
            if answer is None:  # the share did not come: this agent's own request after all
                model = config.models.get(agent) or model
                request = replace(request, agents=(), model=model, messages=_messages(
                    agent, chunk, snapshot, static.findings, instructions, nonce, config, followup))
                shared = None
        if answer is None:
            answer = reviewer(request)
        cost = tally.add(answer, prices)
        if cost:
            ledger.add(cost)
        if answer.unavailable is not None:
            stop = (MODE_UNAVAILABLE, f"LLM unavailable: {answer.unavailable}")
            _clip(notes, agent, plan.chunks[index:], "LLM unavailable")
            break
        if answer.malformed is not None:
            tally.malformed += 1
            _clip(notes, agent, [chunk], "LLM answer invalid")
            continue
        found, dropped = map_findings(
            answer.findings, list(shared.units) if shared is not None else chunk, category=Category(agent) if agent in Category._value2member_map_ else Category.QUALITY,
            model=model, static=static.findings,
        )
        tally.findings.extend(found)
        tally.dropped += dropped
        done_chunks += 1
    _clip(notes, agent, [plan.clipped], "over the PR token budget")
    mode, error = _outcome(stop, done_chunks, tally, plan)
    if rereview is not None and unchanged:
        since = f" since {rereview.since_sha[:12]}" if rereview.since_sha else ""
        error = _join(error, (
            f"re-review: {len(unchanged)} hunk(s) unchanged{since} not sent again (reviewed or "
            "clipped in the earlier review; clipped ones stay clipped, earlier findings are kept)"
        ))
    return static.model_copy(
        update={
            "findings": _merge(static.findings, tally.findings),
            "skipped": list(dict.fromkeys([*static.skipped, *notes])),
            "error": _join(static.error, error),
            "tokens": static.tokens + tally.tokens,
            "cost_usd": round(static.cost_usd + tally.cost, 6),
            "cache_hits": static.cache_hits + tally.cache_hits,
            "cache_layers": _sum_layers(static.cache_layers, tally.cache_layers),
            "mode": mode,
        }
    )


@dataclass
class _Tally:
    findings: list[Finding] = field(default_factory=list)
    tokens: int = 0
    cost: float = 0.0
    cache_hits: int = 0
    malformed: int = 0
    dropped: int = 0
    cache_layers: dict[str, int] = field(default_factory=dict)

    def add(self, answer: ChunkAnswer, prices: PriceTable) -> float:
        cost = sum(
            prices.cost(c.model, c.prompt_tokens, c.completion_tokens, c.cached_tokens) for c in answer.calls
        )
        self.tokens += sum(c.total for c in answer.calls)
        self.cost += cost
        self.cache_layers = _sum_layers(self.cache_layers, answer.cache_layers)
        # units answered from the cache (exact or near); a cache without layer counts: requests
        self.cache_hits += (
            answer.cache_layers.get("exact", 0) + answer.cache_layers.get("near", 0)
            if answer.cache_layers else int(answer.cache_hit)
        )
        return cost


def _sum_layers(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in dict.fromkeys([*a, *b])}


def _joint_plan(agent, units, snapshot, static, instructions, nonce, config, count, prices, rereview) -> JointPlan | None:
    """The joint request this agent takes part in on a re-review, if any (same in every agent)."""
    if rereview is None or rereview.store is None or not units:
        return None

    def measure(agents, chosen) -> int:
        # static findings differ per agent process only for this agent; the plan must be the
        # same in every process, so it is measured without them
        messages = _messages(list(agents), list(chosen), snapshot, [], instructions, nonce, config, followup=True)
        return count_messages(messages, count) + schema_prompt_tokens(count, joint=len(agents) > 1)

    shared = plan_joint(
        units, agents=rereview.agents, models=config.models, prices=prices, policy=config.policy,
        measure=measure, scope_key=f"{rereview.run_key}|{PROMPT_VERSION}",
    )
    return shared if shared is not None and agent in shared.agents else None


def _messages(agent, chunk, snapshot, known, instructions, nonce, config, followup=False) -> list[dict[str, str]]:
    for _ in range(8):
        try:
            return build_messages(
                agent, chunk, nonce=nonce(), known=known, instructions=instructions,
                title=snapshot.title, examples=config.examples, followup=followup,
            )
        except BoundaryCollision:
            continue
    raise RuntimeError("could not find a boundary nonce absent from the pull request")


def _clip(notes: list[SkipNote], agent: str, chunks, why: str) -> None:
    for path in dict.fromkeys(unit.path for chunk in chunks for unit in chunk):
        notes.append(SkipNote(path=path, reason=f"LLM ({agent}): not reviewed, {why}"))


def _outcome(stop, done: int, tally: _Tally, plan: AgentPlan) -> tuple[str, str | None]:
    covered = f"LLM reviewed {len(plan.covered)} hunk(s) in {len(plan.chunks)} request(s)"
    if plan.clipped:
        covered += f"; {len(plan.clipped)} clipped by the token budget"
    if stop is not None:
        mode, note = stop
        return (MODE_LLM if done else mode), note
    if plan.chunks and not done and tally.malformed:
        return MODE_MALFORMED, f"LLM answers invalid after one repair ({tally.malformed} request(s))"
    if tally.malformed:
        return MODE_LLM, f"{covered}; {tally.malformed} answer(s) invalid after repair"
    return MODE_LLM, (covered if plan.clipped else None)


def _merge(static: list[Finding], llm: list[Finding]) -> list[Finding]:
    seen = {f.fingerprint for f in static}
    out = list(static)
    for f in llm:
        if f.fingerprint not in seen:
            seen.add(f.fingerprint)
            out.append(f)
    return out


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None

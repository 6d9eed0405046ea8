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
from reviewer.llm.mapping import map_findings
from reviewer.llm.pricing import PriceTable
from reviewer.llm.prompts import (
    PROMPT_VERSION,
    BoundaryCollision,
    build_messages,
    repo_instructions,
)
from reviewer.llm.selection import build_units
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
) -> AgentResult:
    """``static`` plus what the LLM found on this agent's riskiest hunks, with usage and notes."""
    model = config.models.get(agent) or next(iter(config.models.values()))
    units, file_skips = build_units(snapshot)
    instructions = repo_instructions(snapshot.config_files, sorted({unit.path for unit in units}))
    # The request's fixed part (rules, task, known findings, instructions), measured rather
    # than assumed, so that planned chunks really fit the budget.
    fixed = _messages(agent, [], snapshot, static.findings, instructions, nonce, config)
    policy = replace(config.policy, overhead_tokens=count_messages(fixed, count) + 16)
    plan = plan_agent(agent, units, policy, count)
    notes = [SkipNote(path=p, reason=f"not sent to the LLM: {r}") for p, r in sorted(file_skips.items())]
    tally = _Tally()
    stop: tuple[str, str] | None = None  # (mode, note) once the pass must end
    done_chunks = 0
    for index, chunk in enumerate(plan.chunks):
        messages = _messages(agent, chunk, snapshot, static.findings, instructions, nonce, config)
        estimate = prices.cost(model, count_messages(messages, count), policy.max_output_tokens)
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
        )
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
            answer.findings, chunk, category=Category(agent) if agent in Category._value2member_map_ else Category.QUALITY,
            model=model, static=static.findings,
        )
        tally.findings.extend(found)
        tally.dropped += dropped
        done_chunks += 1
    _clip(notes, agent, [plan.clipped], "over the PR token budget")
    mode, error = _outcome(stop, done_chunks, tally, plan)
    return static.model_copy(
        update={
            "findings": _merge(static.findings, tally.findings),
            "skipped": list(dict.fromkeys([*static.skipped, *notes])),
            "error": _join(static.error, error),
            "tokens": static.tokens + tally.tokens,
            "cost_usd": round(static.cost_usd + tally.cost, 6),
            "cache_hits": static.cache_hits + tally.cache_hits,
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

    def add(self, answer: ChunkAnswer, prices: PriceTable) -> float:
        cost = sum(
            prices.cost(c.model, c.prompt_tokens, c.completion_tokens, c.cached_tokens) for c in answer.calls
        )
        self.tokens += sum(c.total for c in answer.calls)
        self.cost += cost
        self.cache_hits += int(answer.cache_hit)
        return cost


def _messages(agent, chunk, snapshot, known, instructions, nonce, config) -> list[dict[str, str]]:
    for _ in range(8):
        try:
            return build_messages(
                agent, chunk, nonce=nonce(), known=known, instructions=instructions,
                title=snapshot.title,
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

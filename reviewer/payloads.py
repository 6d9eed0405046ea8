"""Typed, small messages passed between the canvas' tasks (JSON only; content goes by id)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from reviewer.findings import Finding

AGENT_NAMES: tuple[str, ...] = ("security", "performance", "quality", "architecture")


class AgentStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


class ReviewRef(BaseModel):
    """What ``prepare`` hands the agents: the review to work on, not its content."""

    model_config = ConfigDict(extra="forbid")

    review_id: int
    head_sha: str | None = None
    files: int = 0


class SkipNote(BaseModel):
    """A file (or part of one) an agent could not analyse, and why; shown in the review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    reason: str


class AgentResult(BaseModel):
    """What one agent returns into the chord. Agents never raise: failure is a status."""

    model_config = ConfigDict(extra="forbid")

    agent: str
    status: AgentStatus
    findings: list[Finding] = []
    skipped: list[SkipNote] = []
    error: str | None = None
    duration_s: float = 0.0
    tokens: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0
    # LLM similarity cache lookups by layer: {"exact": n, "near": n, "miss": n} (units)
    cache_layers: dict[str, int] = {}
    mode: str = Field(default="static", description="static | llm | static (llm unavailable)")

"""The LLM pass as the tasks use it: one object per process, built from plain values.

``augment`` is the only entry point: static result in, static + LLM result out, never
raising (an unexpected bug degrades the agent to static-only with the error named).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial

import openai
import redis

from reviewer.adapters.llm.breaker import CircuitBreaker
from reviewer.adapters.llm.client import OpenAICompleter, RetryPolicy
from reviewer.adapters.llm.joint_store import RedisJointStore
from reviewer.adapters.llm.ledger import RedisSpendLedger
from reviewer.adapters.llm.limiter import RateLimiter
from reviewer.adapters.llm.tokens import token_counter
from reviewer.incremental import IncrementalScope
from reviewer.llm.agent_pass import (
    MODE_UNAVAILABLE,
    LLMPassConfig,
    Rereview,
    SpendLedger,
    run_llm_pass,
)
from reviewer.llm.budget import BudgetPolicy
from reviewer.llm.cache import DEFAULT_THRESHOLD, CachedChunkReviewer, CacheStore, Embed
from reviewer.llm.calls import ChunkReviewer, Complete, review_chunk
from reviewer.llm.joint import JointStore, MemoryJointStore
from reviewer.llm.pricing import PriceTable
from reviewer.llm.selection import Focus
from reviewer.llm.tokens import TokenCounter
from reviewer.payloads import AgentResult, AgentStatus
from reviewer.snapshot import PullRequestSnapshot

log = logging.getLogger(__name__)


@dataclass
class LLMReviewService:
    complete: Complete
    config: LLMPassConfig
    prices: PriceTable
    count: TokenCounter
    redis_client: redis.Redis | None = None
    breaker: CircuitBreaker | None = None
    cache_store: CacheStore | None = None
    embed: Embed | None = None
    cache_threshold: float = DEFAULT_THRESHOLD
    joint_wait_s: float = 120.0
    _memory_joint: JointStore | None = None

    def joint_store(self) -> JointStore:
        """Redis when there is one (agents in several processes), else one per process."""
        if self.redis_client is not None:
            return RedisJointStore(self.redis_client)
        if self._memory_joint is None:
            self._memory_joint = MemoryJointStore()
        return self._memory_joint

    def rereview(self, scope: dict | None, *, review_key: str) -> Rereview | None:
        """The options of a re-review run from the incremental scope ``prepare`` stored with
        the review (None for a full review, or a scope stored without changed lines)."""
        if not scope:
            return None
        parsed = IncrementalScope.model_validate(scope)
        if not parsed.changed:
            return None
        focus: Focus = {p: None if lines is None else frozenset(lines) for p, lines in parsed.changed.items()}
        return Rereview(focus=focus, since_sha=parsed.since_sha, store=self.joint_store(),
                        run_key=review_key, wait_s=self.joint_wait_s)

    def chunk_reviewer(self) -> ChunkReviewer:
        """The call path, behind the similarity cache when a store is configured."""
        call = partial(review_chunk, complete=self.complete, count=self.count)
        if self.cache_store is None:
            return call
        return CachedChunkReviewer(inner=call, store=self.cache_store, embed=self.embed, threshold=self.cache_threshold)

    def ledger(self, review_key: str) -> SpendLedger:
        if self.redis_client is None:
            from reviewer.llm.agent_pass import MemoryLedger

            return MemoryLedger()
        return RedisSpendLedger(self.redis_client, review_key)

    def augment(
        self, agent: str, snapshot: PullRequestSnapshot, static: AgentResult, *, review_key: str,
        examples: str = "", rereview: Rereview | None = None,
    ) -> AgentResult:
        if static.status != AgentStatus.OK:
            return static
        try:
            return run_llm_pass(
                agent,
                snapshot,
                static,
                reviewer=self.chunk_reviewer(),
                config=replace(self.config, examples=examples) if examples else self.config,
                count=self.count,
                prices=self.prices,
                ledger=self.ledger(review_key),
                nonce=lambda: secrets.token_hex(8),
                rereview=rereview,
            )
        except Exception as exc:
            log.exception("llm.pass_failed agent=%s", agent)
            note = f"LLM pass failed: {type(exc).__name__}: {exc}"[:500]
            return static.model_copy(
                update={"mode": MODE_UNAVAILABLE, "error": "; ".join(p for p in (static.error, note) if p)}
            )


def build_llm_service(
    *,
    api_key: str,
    base_url: str | None,
    models: Mapping[str, str],
    prices_toml: str,
    redis_client: redis.Redis | None,
    policy: BudgetPolicy | None = None,
    usd_cap_per_pr: float = 1.0,
    requests_per_window: int = 500,
    tokens_per_window: int = 200_000,
    window_s: float = 60.0,
    breaker_threshold: int = 5,
    breaker_cooldown_s: float = 60.0,
    retry: RetryPolicy | None = None,
    timeout_s: float = 60.0,
    json_schema: bool = True,
    cache_store: CacheStore | None = None,
    embeddings: str = "local",
    embeddings_model: str = "text-embedding-3-small",
    cache_threshold: float = DEFAULT_THRESHOLD,
) -> LLMReviewService:
    """Everything the LLM pass needs, from plain values (the tasks layer reads settings)."""
    policy = policy or BudgetPolicy()
    retry = retry or RetryPolicy()
    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)
    limiter = breaker = None
    if redis_client is not None:
        limiter = RateLimiter(
            redis_client, requests_per_window=requests_per_window,
            tokens_per_window=tokens_per_window, window_s=window_s,
        )
        breaker = CircuitBreaker(
            redis_client, threshold=breaker_threshold, cooldown_s=breaker_cooldown_s,
            probe_timeout_s=timeout_s * retry.max_attempts,
        )
    completer = OpenAICompleter(client, limiter=limiter, breaker=breaker, retry=retry, json_schema=json_schema)
    return LLMReviewService(
        complete=completer,
        config=LLMPassConfig(models=dict(models), policy=policy, usd_cap_per_pr=usd_cap_per_pr),
        prices=PriceTable.from_toml(prices_toml),
        count=token_counter(),
        redis_client=redis_client,
        breaker=breaker,
        cache_store=cache_store,
        embed=_embedder(embeddings, client, embeddings_model) if cache_store is not None else None,
        cache_threshold=cache_threshold,
        joint_wait_s=timeout_s * retry.max_attempts,
    )


def _embedder(kind: str, client: openai.OpenAI, model: str) -> Embed | None:
    """``local`` (MiniLM in numpy; exact hits only if its package is missing), ``openai``, ``none``."""
    from reviewer.adapters.llm.embeddings import (
        EmbeddingsUnavailable,
        OpenAIEmbedder,
        shared_local_embedder,
    )

    if kind == "openai":
        return OpenAIEmbedder(client.embeddings.create, model=model)
    if kind == "local":
        try:
            return shared_local_embedder()
        except EmbeddingsUnavailable:
            log.warning("llm.cache_embeddings_unavailable: near hits off, exact hits still work", exc_info=True)
    return None

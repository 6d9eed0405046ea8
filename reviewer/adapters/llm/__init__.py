"""The LLM provider adapter: the openai client behind a Redis-shared limiter and circuit breaker."""

from reviewer.adapters.llm.breaker import CircuitBreaker
from reviewer.adapters.llm.client import OpenAICompleter, RetryPolicy
from reviewer.adapters.llm.ledger import RedisSpendLedger
from reviewer.adapters.llm.limiter import RateLimiter
from reviewer.adapters.llm.service import LLMReviewService, build_llm_service
from reviewer.adapters.llm.tokens import token_counter

__all__ = [
    "CircuitBreaker",
    "LLMReviewService",
    "OpenAICompleter",
    "RateLimiter",
    "RedisSpendLedger",
    "RetryPolicy",
    "build_llm_service",
    "token_counter",
]

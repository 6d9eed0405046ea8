"""Chat completions through the ``openai`` client: limiter, retries, breaker, JSON-schema fallback.

Works with any OpenAI-compatible endpoint (``OPENAI_BASE_URL``: OpenAI, Azure's v1 endpoint,
vLLM, Ollama, LiteLLM). The openai client's own retries are off: ours go through the shared
limiter and honour ``retry-after``, which the client's would not coordinate across workers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import openai

from reviewer.adapters.llm.breaker import CircuitBreaker
from reviewer.adapters.llm.limiter import RateLimited, RateLimiter
from reviewer.llm.calls import Completion, LLMUnavailable
from reviewer.llm.prompts import with_schema_text
from reviewer.llm.schema import response_format

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    # The longest a call waits for a limiter slot or a retry-after before giving up.
    max_wait_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Exponential with full jitter, so a storm of workers does not retry in lockstep."""
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt))


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            return seconds / 1000 if name == "retry-after-ms" else seconds
    return None


class OpenAICompleter:
    """The ``Complete`` callable of ``reviewer.llm.calls``, backed by a real endpoint."""

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        limiter: RateLimiter | None,
        breaker: CircuitBreaker | None,
        retry: RetryPolicy = RetryPolicy(),
        json_schema: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.breaker = breaker
        self.retry = retry
        self.json_schema = json_schema
        self.sleep = sleep
        self._schema_refused: set[str] = set()

    def __call__(
        self, *, model: str, messages: list[dict[str, str]], max_tokens: int, estimated_tokens: int,
        joint: bool = False,
    ) -> Completion:
        if self.breaker is not None and not self.breaker.allow():
            raise LLMUnavailable("circuit breaker open")
        try:
            completion = self._with_retries(model, messages, max_tokens, estimated_tokens, joint)
        except LLMUnavailable:
            if self.breaker is not None and self.breaker.record_failure():
                log.warning("llm.breaker_opened model=%s", model)
            raise
        if self.breaker is not None:
            self.breaker.record_success()
        return completion

    def _with_retries(self, model, messages, max_tokens, estimated_tokens, joint=False) -> Completion:
        last = "no attempt made"
        for attempt in range(self.retry.max_attempts):
            if self.limiter is not None:
                try:
                    self.limiter.acquire(estimated_tokens, max_wait_s=self.retry.max_wait_s)
                except RateLimited as exc:
                    raise LLMUnavailable(str(exc)) from exc
            try:
                return self._create(model, messages, max_tokens, joint)
            except openai.RateLimitError as exc:
                wait = _retry_after(exc) or self.retry.backoff(attempt)
                last = f"429 rate limited (retry-after {wait:g}s)"
                if self.limiter is not None:
                    self.limiter.pause(wait)  # every worker backs off, not only this one
                if wait > self.retry.max_wait_s:
                    break
                if self.limiter is None:
                    self.sleep(wait)
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in (408, 409):
                    raise LLMUnavailable(f"provider refused the request: HTTP {exc.status_code}") from exc
                last = f"HTTP {exc.status_code}"
                self.sleep(_retry_after(exc) or self.retry.backoff(attempt))
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                last = type(exc).__name__
                self.sleep(self.retry.backoff(attempt))
        raise LLMUnavailable(f"{last} after {self.retry.max_attempts} attempt(s)")

    def _create(self, model: str, messages, max_tokens: int, joint: bool = False) -> Completion:
        kwargs: dict = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
        use_schema = self.json_schema and model not in self._schema_refused
        if use_schema:
            kwargs["response_format"] = response_format(joint)
        else:  # plain JSON mode: the prompt itself must name the answer's fields
            kwargs.update(response_format={"type": "json_object"}, messages=with_schema_text(messages, joint=joint))
        try:
            response = self.client.chat.completions.create(**kwargs)
        except openai.BadRequestError as exc:
            if not use_schema or "response_format" not in str(exc).lower():
                raise
            # A server without json_schema support: plain JSON mode from now on, for this model.
            self._schema_refused.add(model)
            kwargs.update(response_format={"type": "json_object"}, messages=with_schema_text(messages, joint=joint))
            response = self.client.chat.completions.create(**kwargs)
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        cached = 0
        if usage is not None and getattr(usage, "prompt_tokens_details", None) is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        return Completion(
            text=choice.message.content if choice is not None else None,
            model=response.model or model,
            prompt_tokens=usage.prompt_tokens if usage is not None else None,
            completion_tokens=usage.completion_tokens if usage is not None else None,
            cached_tokens=cached,
        )

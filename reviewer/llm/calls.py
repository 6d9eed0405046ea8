"""One chunk through the model: the call path a similarity cache can later sit in front of.

:func:`review_chunk` takes a :class:`ChunkRequest` — (agent, code, prompt version, model) plus
the messages built from them — and returns the validated findings (or why there are none).
It never raises: a provider failure is ``unavailable``, bad output twice is ``malformed``.
The network call itself is the injected ``complete`` (``reviewer.adapters.llm``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from reviewer.llm.prompts import repair_messages
from reviewer.llm.schema import LLMFinding, MalformedAnswer, parse_answer, schema_prompt_tokens
from reviewer.llm.tokens import TokenCounter, count_messages


class LLMUnavailable(Exception):
    """The provider cannot be used now (circuit open, retries exhausted, rate-limit wait too long)."""


@dataclass(frozen=True)
class Completion:
    """A provider's answer and its ``usage`` (None when the server sent none)."""

    text: str | None
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0


class Complete(Protocol):
    """The network call; ``joint`` asks for the answer schema whose findings name their agent."""

    def __call__(
        self, *, model: str, messages: list[dict[str, str]], max_tokens: int, estimated_tokens: int,
        joint: bool = False,
    ) -> Completion: ...


@dataclass(frozen=True)
class ChunkRequest:
    """What a chunk review depends on; ``(agent, code, prompt_version, model)`` is its cache key."""

    agent: str
    code: str
    prompt_version: str
    model: str
    messages: list[dict[str, str]]
    max_output_tokens: int
    # Set for a joint request (one call for several agents): their names, in prompt order.
    agents: tuple[str, ...] = ()

    @property
    def joint(self) -> bool:
        return len(self.agents) > 1


@dataclass(frozen=True)
class CallUsage:
    """Tokens of one provider call: counted before it (estimate) and reported after (usage)."""

    model: str
    estimated_prompt_tokens: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class ChunkAnswer:
    findings: list[LLMFinding] = field(default_factory=list)
    calls: list[CallUsage] = field(default_factory=list)
    malformed: str | None = None
    unavailable: str | None = None
    cache_hit: bool = False
    # Units of the request looked up in the similarity cache, by outcome (exact, near, miss).
    cache_layers: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.malformed is None and self.unavailable is None


ChunkReviewer = Callable[[ChunkRequest], ChunkAnswer]


def review_chunk(request: ChunkRequest, *, complete: Complete, count: TokenCounter) -> ChunkAnswer:
    """Ask the model once, repair once if the answer does not validate, never raise."""
    answer = ChunkAnswer()
    messages = request.messages
    problem = ""
    # the answer schema travels as response_format and is billed as prompt too
    schema = schema_prompt_tokens(count, joint=request.joint)
    for attempt in range(2):
        estimated = count_messages(messages, count) + schema
        try:
            extra = {"joint": True} if request.joint else {}
            completion = complete(
                model=request.model,
                messages=messages,
                max_tokens=request.max_output_tokens,
                estimated_tokens=estimated + request.max_output_tokens,
                **extra,
            )
        except LLMUnavailable as exc:
            answer.unavailable = str(exc) or type(exc).__name__
            return answer
        answer.calls.append(_usage(completion, estimated, count))
        try:
            answer.findings = list(parse_answer(completion.text, joint=request.joint).findings)
            answer.malformed = None
            return answer
        except MalformedAnswer as exc:
            problem = str(exc)
            answer.malformed = f"invalid answer{' after one repair' if attempt else ''}: {problem}"
            messages = repair_messages(request.messages, completion.text or "", problem, joint=request.joint)
    return answer


def _usage(completion: Completion, estimated: int, count: TokenCounter) -> CallUsage:
    prompt = completion.prompt_tokens if completion.prompt_tokens is not None else estimated
    answer = completion.completion_tokens
    if answer is None:
        answer = count(completion.text or "")
    return CallUsage(
        model=completion.model,
        estimated_prompt_tokens=estimated,
        prompt_tokens=prompt,
        completion_tokens=answer,
        cached_tokens=completion.cached_tokens,
    )

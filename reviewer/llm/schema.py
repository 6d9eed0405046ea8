"""The answer the model must give, as pydantic models, and its parsing (strict, then lenient).

The schema is the only channel from the model to the bot: findings on lines, nothing else.
There is no field that could approve, merge, label or mention anyone, so a PR that talks the
model into "approving" can at most produce findings, which are validated like any other.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reviewer.llm.tokens import TokenCounter

SCHEMA_NAME = "review_findings"
MAX_FINDINGS_PER_ANSWER = 25


class MalformedAnswer(ValueError):
    """The model's text is not JSON matching :class:`LLMAnswer`; the message says why."""


class LLMFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The schema is sent with every request and billed as prompt: descriptions only where the
    # field name and the system rules do not say it (line numbers: rule 2).
    path: str
    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)
    severity: Literal["critical", "high", "medium", "low", "info"]
    rule: str = Field(max_length=80, description="kebab-case id")
    cwe: str | None = None
    message: str = Field(max_length=2000)
    confidence: float = Field(ge=0.0, le=1.0)
    suggestion: str | None = Field(default=None, max_length=4000, description="replacement for line..end_line")


class LLMAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    findings: list[LLMFinding] = Field(max_length=MAX_FINDINGS_PER_ANSWER)


class JointFinding(LLMFinding):
    """A finding of a joint request (several agents in one call), tagged with its agent."""

    agent: str | None = None


class JointAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    findings: list[JointFinding] = Field(max_length=MAX_FINDINGS_PER_ANSWER)


def _strict(schema: dict) -> dict:
    """OpenAI's strict structured outputs: every property required, no extra properties;
    nullable fields as ``type: [T, "null"]`` rather than pydantic's longer ``anyOf``."""
    if schema.get("type") == "object" and "properties" in schema:
        schema["required"] = list(schema["properties"])
        schema["additionalProperties"] = False
    for value in schema.values():
        if isinstance(value, dict):
            _strict(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _strict(item)
    for key in ("default", "title", "maxItems", "maxLength", "minimum", "maximum"):
        schema.pop(key, None)
    options = schema.get("anyOf")
    if isinstance(options, list) and all(set(o) == {"type"} and isinstance(o["type"], str) for o in options):
        schema["type"] = [o["type"] for o in schema.pop("anyOf")]
    return schema


def _inline(schema: dict) -> dict:
    """The schema without ``$defs``/``$ref`` (one finding model, used once): fewer tokens."""
    defs = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/") and len(node) == 1:
                return resolve(dict(defs[ref.removeprefix("#/$defs/")]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def response_format(joint: bool = False) -> dict:
    """The ``response_format`` for OpenAI-compatible servers that support JSON schemas."""
    model = JointAnswer if joint else LLMAnswer
    schema = _strict(_inline(model.model_json_schema()))
    for finding in (schema["properties"]["findings"]["items"],):
        finding.pop("description", None)  # the class docstring: not for the model
    return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}


def schema_prompt_tokens(count: TokenCounter, *, joint: bool = False) -> int:
    """The prompt tokens a provider bills for :func:`response_format`'s schema.

    OpenAI puts the schema in front of the system message (its prompt-caching guide: "the
    structured output schema serves as a prefix to the system message") and bills it as
    input. How many tokens is not documented; a user's measurement (openai/openai-cookbook
    #2140): the schema's JSON without ``required``/``additionalProperties``/``$schema``,
    plus 9. The fake provider bills the same, so budgets, estimates and the benchmark all
    include it.
    """
    return count(_billed_schema_text(joint)) + 9


@functools.cache
def _billed_schema_text(joint: bool) -> str:
    return billed_schema_text(response_format(joint)["json_schema"]["schema"])


def billed_schema_text(schema: dict) -> str:
    """The part of a JSON schema a provider bills as prompt (see :func:`schema_prompt_tokens`)."""

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("required", "additionalProperties", "$schema")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return json.dumps(strip(schema), separators=(",", ":"))


def schema_text() -> str:
    """The schema as compact JSON, for servers (and the fallback prompt) without json_schema."""
    return json.dumps(LLMAnswer.model_json_schema(), separators=(",", ":"))


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)


def parse_answer(text: str | None, *, joint: bool = False) -> LLMAnswer | JointAnswer:
    """The validated answer, or :class:`MalformedAnswer` saying what was wrong.

    Accepts the JSON inside one Markdown code fence (models add them despite instructions);
    anything else around the object is an error, not something to guess at.
    """
    if text is None or not text.strip():
        raise MalformedAnswer("empty answer")
    match = _FENCE.match(text)
    body = match["body"] if match else text
    try:
        return (JointAnswer if joint else LLMAnswer).model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise MalformedAnswer(problems[:600]) from None

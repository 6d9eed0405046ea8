"""The answer the model must give, as pydantic models, and its parsing (strict, then lenient).

The schema is the only channel from the model to the bot: findings on lines, nothing else.
There is no field that could approve, merge, label or mention anyone, so a PR that talks the
model into "approving" can at most produce findings, which are validated like any other.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_NAME = "review_findings"
MAX_FINDINGS_PER_ANSWER = 25


class MalformedAnswer(ValueError):
    """The model's text is not JSON matching :class:`LLMAnswer`; the message says why."""


class LLMFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="file path exactly as shown in the code section")
    line: int = Field(ge=1, description="head line number of the first line concerned (a + line)")
    end_line: int | None = Field(default=None, ge=1, description="last line concerned, or null")
    severity: Literal["critical", "high", "medium", "low", "info"]
    rule: str = Field(max_length=80, description="short kebab-case id, e.g. sql-injection")
    cwe: str | None = Field(default=None, description="e.g. CWE-89, or null")
    message: str = Field(max_length=2000, description="what is wrong and why it matters")
    confidence: float = Field(ge=0.0, le=1.0)
    suggestion: str | None = Field(
        default=None, max_length=4000, description="replacement text for line..end_line, or null"
    )


class LLMAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    findings: list[LLMFinding] = Field(max_length=MAX_FINDINGS_PER_ANSWER)


def _strict(schema: dict) -> dict:
    """OpenAI's strict structured outputs: every property required, no extra properties."""
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
    return schema


def response_format() -> dict:
    """The ``response_format`` for OpenAI-compatible servers that support JSON schemas."""
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": _strict(LLMAnswer.model_json_schema())},
    }


def schema_text() -> str:
    """The schema as compact JSON, for servers (and the fallback prompt) without json_schema."""
    return json.dumps(LLMAnswer.model_json_schema(), separators=(",", ":"))


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)


def parse_answer(text: str | None) -> LLMAnswer:
    """The validated answer, or :class:`MalformedAnswer` saying what was wrong.

    Accepts the JSON inside one Markdown code fence (models add them despite instructions);
    anything else around the object is an error, not something to guess at.
    """
    if text is None or not text.strip():
        raise MalformedAnswer("empty answer")
    match = _FENCE.match(text)
    body = match["body"] if match else text
    try:
        return LLMAnswer.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise MalformedAnswer(problems[:600]) from None

"""Reading a plain-text reply to the bot's comment: does it accept or reject the finding?

Only used with an LLM; without one only ``/reviewer accept|reject`` count. The reply and the
finding are untrusted (a PR author writes the one and influences the other), so both go
between nonce boundaries like every prompt of the LLM pass, and the answer comes back in the
pass's own findings schema (``reviewer.llm.schema``, the completer's structured output): one
item on the finding's line whose ``rule`` is the verdict. Reusing the schema keeps the one
strict, pydantic-validated answer channel, in which nothing can approve, merge or mention
anyone: the worst a reply can do is be read as a vote, which is what it is anyway.
Pure: the call itself is made by the tasks layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reviewer.feedback import Verdict
from reviewer.llm.prompts import BoundaryCollision, system_message
from reviewer.llm.schema import LLMFinding

#: Bump when the wording changes.
CLASSIFIER_PROMPT_VERSION = "2025-06-reply-r1"
#: The fake OpenAI server and the logs tell classification requests apart by this line.
CLASSIFIER_AGENT = "feedback"
#: Below this confidence a reading is not a verdict.
MIN_CONFIDENCE = 0.6

_VERDICTS = {"accepted": Verdict.ACCEPTED, "rejected": Verdict.REJECTED}


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    reason: str | None


def classification_messages(
    reply: str, *, path: str, line: int, rule: str, message: str, nonce: str
) -> list[dict[str, str]]:
    """The chat messages asking what ``reply`` says about the finding.

    Raises :class:`BoundaryCollision` when ``nonce`` occurs in the untrusted text, so the
    caller retries with a fresh one (a reply cannot forge the closing boundary).
    """
    untrusted = f"Finding {rule} at {path}:{line}: {message}\n\nDeveloper's reply:\n{reply}"
    if nonce in untrusted:
        raise BoundaryCollision(nonce)
    data = (
        f"Pull request data, boundary code {nonce}:\n<<<UNTRUSTED-{nonce}>>>\n{untrusted}\n"
        f"<<<END-UNTRUSTED-{nonce}>>>"
    )
    task = "\n".join([
        f"reviewer-agent: {CLASSIFIER_AGENT}",
        (
            "Task: the data above is a finding the review bot posted and a developer's reply to "
            "it. Decide what the reply says about the finding."
        ),
        (
            "Answer with exactly one item in the findings list: "
            f'path "{path}", line {line}, end_line null, severity "info", cwe null, suggestion null, '
            'rule = "accepted" when the developer agrees the finding is right or will fix it, '
            '"rejected" when they say it is wrong, irrelevant, noise or will not be acted on, '
            '"unclear" otherwise (a question, thanks, unrelated talk); message = the developer\'s '
            "reason in at most one short sentence of your own words; confidence = how sure you are."
        ),
        "Answer with the JSON object now.",
    ])
    return [
        system_message(),  # the agents' rules; the schema goes as response_format
        {"role": "user", "content": data},
        {"role": "user", "content": task},
    ]


def classification_from_answer(answer: Sequence[LLMFinding]) -> Classification | None:
    """The verdict in a validated answer, or None (unclear, unsure, or no usable item)."""
    item = next((a for a in answer if a.rule.strip().lower() in _VERDICTS), None)
    if item is None or item.confidence < MIN_CONFIDENCE:
        return None
    verdict = _VERDICTS[item.rule.strip().lower()]
    reason = " ".join(item.message.split())[:500] or None
    return Classification(verdict, reason if verdict is Verdict.REJECTED else None)

"""Asking an LLM for a fix: the prompt for one finding and the parsing of its answer.

Used for the few confident findings that no deterministic rewrite covers. The model gets
the finding's lines with some context (numbered, between nonce boundaries like every prompt
of the LLM pass: the code, the finding's message and the path are untrusted) and answers in
the pass's own findings schema (``reviewer.llm.schema``, the completer's structured output):
one finding on exactly the lines asked about whose ``suggestion`` is their replacement.
Reusing the schema keeps one strict, pydantic-validated answer format and one JSON-mode
fallback. What comes back is only a candidate :class:`Fix`: it is validated like every
other fix (applied to the head file, parsed, linted) before it is offered. Pure: the call
itself is made by the tasks layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from reviewer.findings import Finding
from reviewer.fixes.source import Fix, Source
from reviewer.llm.prompts import BoundaryCollision, system_message
from reviewer.llm.schema import LLMFinding

#: Bump when the wording changes (recorded with the call, like the agents' prompt version).
FIX_PROMPT_VERSION = "2026-11-fix-r2"
#: The fake OpenAI server and the logs tell fix requests apart by this line.
FIX_AGENT = "fixes"
#: Lines of context shown above and below the finding's lines.
CONTEXT_LINES = 12
#: A fix longer than this is not a local fix any more: it is advice.
MAX_REPLACEMENT_LINES = 40


def excerpt(source: Source, finding: Finding, *, context: int = CONTEXT_LINES) -> str:
    """The finding's lines (marked ``*``) and their context, numbered as in the head file."""
    first = max(1, finding.line - context)
    last = min(len(source.lines), finding.last_line + context)
    out = [f"### {finding.path} (lines {first}-{last})"]
    for number in range(first, last + 1):
        mark = "*" if finding.line <= number <= finding.last_line else " "
        out.append(f"{mark}{number}|{source.lines[number - 1]}")
    return "\n".join(out)


def fix_messages(
    finding: Finding, source: Source, *, nonce: str, instructions: str = ""
) -> list[dict[str, str]]:
    """The chat messages asking for the replacement of ``finding``'s lines.

    Raises :class:`BoundaryCollision` when ``nonce`` occurs in the untrusted text, so the
    caller retries with a fresh one (a PR cannot forge the closing boundary).
    """
    untrusted = (
        f"Finding {finding.rule} ({finding.severity.value}): {finding.message}\n\n"
        f"{excerpt(source, finding)}"
    )
    if nonce in untrusted or nonce in instructions:
        raise BoundaryCollision(nonce)
    data = (
        f"Pull request data, boundary code {nonce}:\n<<<UNTRUSTED-{nonce}>>>\n{untrusted}\n"
        f"<<<END-UNTRUSTED-{nonce}>>>"
    )
    span = f"line {finding.line}" if finding.last_line == finding.line else (
        f"lines {finding.line}-{finding.last_line}"
    )
    task = [
        f"reviewer-agent: {FIX_AGENT}",
        f"Task: write a fix for the finding above by replacing {span} of {finding.path} (marked *).",
        (
            "Answer with exactly one finding in the findings list: "
            f'path "{finding.path}", line {finding.line}, end_line {finding.last_line}, '
            f'rule "{finding.rule}", severity "{finding.severity.value}", cwe null, '
            "message = one sentence on what the fix changes, confidence = how sure you are "
            "that the fix is correct and complete, suggestion = the exact new text of those "
            "lines (complete lines with their indentation, no line numbers, no markers, no "
            "code fence)."
        ),
        (
            "The replacement must be valid code in place, keep the behaviour the code intends, "
            "and touch nothing outside those lines (it may have more or fewer lines). If no "
            "safe fix fits in those lines alone, answer with suggestion null."
        ),
    ]
    if instructions:
        task += ["Repository instructions (from the repository's base-branch configuration):", instructions]
    task.append("Answer with the JSON object now.")
    return [
        system_message(),
        {"role": "user", "content": data},
        {"role": "user", "content": "\n".join(task)},
    ]


def fix_from_answer(finding: Finding, source: Source, answer: Sequence[LLMFinding]) -> Fix | None:
    """The candidate fix in a validated answer, or None when the answer offers none.

    Only an item on exactly the finding's path and lines counts; a null or unchanged
    suggestion, or one that is not plausibly a local fix, gives None.
    """
    item = next(
        (
            a
            for a in answer
            if a.path == finding.path
            and a.line == finding.line
            and (a.end_line or a.line) == finding.last_line
            and a.suggestion is not None
        ),
        None,
    )
    if item is None or item.suggestion is None:
        return None
    replacement = item.suggestion.replace("\r\n", "\n").rstrip("\n")
    if replacement.lstrip().startswith("```") or replacement.count("\n") >= MAX_REPLACEMENT_LINES:
        return None
    if finding.last_line > len(source.lines):
        return None
    current = "\n".join(source.lines[finding.line - 1 : finding.last_line])
    if replacement == current:
        return None
    return Fix(finding.line, finding.last_line, replacement)

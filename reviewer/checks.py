"""The "reviewer" check run's payloads: progress while agents run, then a conclusion.

GitHub shows a check run on the commit within seconds of the webhook: ``queued`` when the
review is prepared, ``in_progress`` with a line per finished agent, and ``completed`` with a
conclusion — ``failure`` when a finding is at or above the configured severity, ``neutral``
when an agent failed (the review is incomplete, so it can neither pass nor fail the PR),
else ``success`` — and the findings as annotations. GitHub takes at most 50 annotations per
request, so they go in batches: the first with the completing update, the rest in more.
Pure: builds :class:`reviewer.ports.CheckRunUpdate` values, sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from reviewer.findings import Finding, Severity
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus
from reviewer.ports import CheckAnnotation, CheckRunOutput, CheckRunUpdate
from reviewer.render import neutralise

CHECK_NAME = "reviewer"
ANNOTATIONS_PER_REQUEST = 50
SUMMARY_LIMIT = 60_000
_LEVEL = {
    Severity.CRITICAL: "failure",
    Severity.HIGH: "failure",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def external_id(review_id: int) -> str:
    """The tag on our check run, so a redelivered ``prepare`` finds it instead of adding one."""
    return f"reviewer:review:{review_id}"


def queued(details_url: str | None) -> CheckRunUpdate:
    return CheckRunUpdate(
        status="queued",
        details_url=details_url,
        output=CheckRunOutput(title="Review queued", summary="The review is about to start."),
    )


def cancelled(reason: str) -> CheckRunUpdate:
    """Completes the run of a review that will not happen (PR closed, head moved on)."""
    return CheckRunUpdate(
        conclusion="cancelled",
        output=CheckRunOutput(title="Review cancelled", summary=neutralise(reason, 1_000)),
    )


def progress(done: Mapping[str, AgentResult], agents: tuple[str, ...] = AGENT_NAMES) -> CheckRunUpdate:
    """``in_progress`` with one line per agent: done (with its findings) or still running."""
    lines = []
    for name in agents:
        result = done.get(name)
        if result is None:
            lines.append(f"- {name}: running")
        elif result.status == AgentStatus.OK:
            n = len(result.findings)
            lines.append(f"- {name} done ({n} finding{'s' if n != 1 else ''})")
        else:
            lines.append(f"- {name} {result.status.value}: {neutralise(result.error or 'no detail', 300)}")
    finished = sum(1 for name in agents if name in done)
    return CheckRunUpdate(
        status="in_progress",
        output=CheckRunOutput(
            title=f"Reviewing: {finished} of {len(agents)} agents done",
            summary="\n".join(lines),
        ),
    )


def conclusion(
    findings: list[Finding], agents: Mapping[str, AgentResult], fail_severity: Severity
) -> str:
    """``neutral`` if an agent did not finish, ``failure`` at or above ``fail_severity``, else ``success``."""
    if any(a.status in (AgentStatus.FAILED, AgentStatus.TIMEOUT) for a in agents.values()):
        return "neutral"
    if any(f.severity.rank >= fail_severity.rank for f in findings):
        return "failure"
    return "success"


def annotation(finding: Finding) -> CheckAnnotation:
    return CheckAnnotation(
        path=finding.path,
        start_line=finding.line,
        end_line=finding.last_line,
        annotation_level=_LEVEL[finding.severity],
        message=neutralise(finding.message, 4_000),
        title=f"{finding.severity.value} · {finding.category.value} · {finding.rule}"[:255],
    )


def batches(findings: list[Finding], size: int = ANNOTATIONS_PER_REQUEST) -> list[list[CheckAnnotation]]:
    """The findings' annotations, worst first, in chunks GitHub accepts."""
    notes = [annotation(f) for f in sorted(findings, key=Finding.sort_key)]
    return [notes[i : i + size] for i in range(0, len(notes), size)]


def completion(
    findings: list[Finding],
    agents: Mapping[str, AgentResult],
    *,
    fail_severity: Severity,
    summary: str,
    details_url: str | None = None,
) -> list[CheckRunUpdate]:
    """The updates that complete the run: the first sets the conclusion with up to 50
    annotations, each further one carries the next 50 (output title and summary repeated,
    as GitHub requires with every output)."""
    verdict = conclusion(findings, agents, fail_severity)
    count = len(findings)
    title = {
        "failure": f"{count} finding(s), some at or above {fail_severity.value}",
        "neutral": f"{count} finding(s); the review is incomplete",
        "success": f"{count} finding(s), none at or above {fail_severity.value}",
    }[verdict]
    text = summary if len(summary) <= SUMMARY_LIMIT else summary[: SUMMARY_LIMIT - 20] + "\n\n_… truncated._"
    chunks = batches(findings) or [[]]
    updates = [
        CheckRunUpdate(
            status="completed",
            conclusion=verdict,
            details_url=details_url,
            output=CheckRunOutput(title=title, summary=text, annotations=chunks[0]),
        )
    ]
    updates += [
        CheckRunUpdate(output=CheckRunOutput(title=title, summary=text, annotations=chunk))
        for chunk in chunks[1:]
    ]
    return updates

"""Running the review canvas' tasks in the test process against the fake GitHub, with agents
replaced by a runner that flags chosen calls (for the re-review, config and command tests)."""

from __future__ import annotations

import re

from reviewer.findings import Category, Finding, Severity, fingerprint_for
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus
from reviewer.webhooks import Decision, DecisionKind
from tasks.intake import IntakeResult, accept_delivery

#: What the security agent flags: rule name per call pattern.
FLAGGED = {"danger-call": re.compile(r"danger\("), "eval-call": re.compile(r"\beval\(")}


def flagging_runner(seen: list[set[str]]):
    """Agent runner: the security agent flags the calls in :data:`FLAGGED` with fingerprints
    computed from the code (as the real analyzers do); every agent records in ``seen`` the
    files it was given."""

    def run(name, snapshot):
        seen.append({f.path for f in snapshot.files if f.head_content is not None})
        findings = []
        if name == "security":
            for f in snapshot.files:
                for number, text in enumerate((f.head_content or "").splitlines(), start=1):
                    for rule, pattern in FLAGGED.items():
                        if pattern.search(text):
                            findings.append(
                                Finding(
                                    path=f.path, line=number, category=Category.SECURITY,
                                    severity=Severity.HIGH, rule=rule,
                                    message=f"{rule} on `{text.strip()}`", confidence=0.9,
                                    source="static:test",
                                    fingerprint=fingerprint_for(
                                        path=f.path, rule=rule, category="security", code=text
                                    ),
                                )
                            )
        return AgentResult(agent=name, status=AgentStatus.OK, findings=findings)

    return run


def module(flagged: dict[int, str], lines: int = 60, prefix: str = "") -> str:
    """A module of ``lines`` assignments where line n is ``flagged[n]`` when given."""
    body = [flagged.get(n, f"value_{n} = {n}") for n in range(1, lines + 1)]
    return prefix + "\n".join(body) + "\n"


def deliver(services, app, repo: str, pr, action: str, delivery: str) -> IntakeResult:
    """A pull_request delivery through intake, as the web view sends it. The broker takes the
    canvas' first task; no worker runs it: the test runs the tasks with :func:`run_review`."""
    decision = Decision(
        kind=DecisionKind.REVIEW, reason=action, event="pull_request", action=action, repo=repo,
        number=pr.number, head_sha=pr.head_sha, base_sha=pr.base_sha,
    )
    return accept_delivery(services, app, delivery_id=delivery, event="pull_request", decision=decision)


def run_review(app, review_id: int) -> None:
    """prepare → the four agents → generate_fixes → post_review, in this process."""
    app.tasks["reviewer.prepare"](review_id)
    results = [
        app.tasks["reviewer.run_agent"]({"review_id": review_id}, agent=name, review_id=review_id)
        for name in AGENT_NAMES
    ]
    merged = app.tasks["reviewer.generate_fixes"](results, review_id=review_id)
    app.tasks["reviewer.post_review"](merged, review_id=review_id)

"""Check-run payloads: progress lines, the conclusion from a severity threshold, batches of 50."""

from __future__ import annotations

from reviewer import checks
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import AgentResult, AgentStatus


def _finding(i: int, severity: Severity) -> Finding:
    return Finding(
        path="a.py", line=i + 1, category=Category.QUALITY, severity=severity, rule="r",
        message=f"m{i}", confidence=0.9, source="static:t", fingerprint=f"fp{i}",
    )


def _ok(name: str, findings=()) -> AgentResult:
    return AgentResult(agent=name, status=AgentStatus.OK, findings=list(findings))


def test_progress_names_each_finished_agent_and_its_findings():
    done = {"security": _ok("security", [_finding(i, Severity.LOW) for i in range(3)])}
    update = checks.progress(done)
    assert update.status == "in_progress"
    assert "security done (3 findings)" in update.output.summary
    assert "performance: running" in update.output.summary
    assert update.output.title == "Reviewing: 1 of 4 agents done"


def test_conclusion_follows_the_threshold_and_failed_agents():
    agents = {"quality": _ok("quality")}
    assert checks.conclusion([_finding(0, Severity.HIGH)], agents, Severity.HIGH) == "failure"
    assert checks.conclusion([_finding(0, Severity.MEDIUM)], agents, Severity.HIGH) == "success"
    assert checks.conclusion([_finding(0, Severity.MEDIUM)], agents, Severity.MEDIUM) == "failure"
    broken = {**agents, "security": AgentResult(agent="security", status=AgentStatus.FAILED, error="x")}
    assert checks.conclusion([_finding(0, Severity.CRITICAL)], broken, Severity.HIGH) == "neutral"


def test_completion_batches_annotations_by_fifty():
    findings = [_finding(i, Severity.MEDIUM if i % 2 else Severity.HIGH) for i in range(120)]
    updates = checks.completion(findings, {}, fail_severity=Severity.HIGH, summary="s")
    assert [len(u.output.annotations) for u in updates] == [50, 50, 20]
    assert updates[0].status == "completed" and updates[0].conclusion == "failure"
    assert all(u.status is None and u.conclusion is None for u in updates[1:])
    assert all(u.output.title and u.output.summary for u in updates)
    # worst first, every finding once, with GitHub's levels
    notes = [a for u in updates for a in u.output.annotations]
    assert sorted(a.message for a in notes) == sorted(f.message for f in findings)
    assert notes[0].annotation_level == "failure" and notes[-1].annotation_level == "warning"


def test_completion_without_findings_is_one_successful_update():
    [update] = checks.completion([], {"quality": _ok("quality")}, fail_severity=Severity.HIGH, summary="s")
    assert update.conclusion == "success" and update.output.annotations == []

"""The summary comment: marker, counts, agent status, skipped files, usage, link, size."""

from __future__ import annotations

from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import AgentResult, AgentStatus, SkipNote
from reviewer.render import GITHUB_BODY_LIMIT
from reviewer.summary import SUMMARY_MARKER, build_summary, is_summary


def _finding(i: int, category=Category.SECURITY, severity=Severity.HIGH) -> Finding:
    return Finding(
        path=f"f{i}.py", line=1, category=category, severity=severity, rule="r",
        message="m", confidence=0.9, source="static:t", fingerprint=f"fp{i}",
    )


def _summary(findings, agents, skipped=(), **kw):
    args = {
        "head_sha": "a" * 40,
        "dashboard_url": "http://x/dashboard/reviews/7",
        "llm_used": False,
        "inline_count": min(len(findings), 2),
    }
    args.update(kw)
    return build_summary(findings, agents, list(skipped), **args)


def test_summary_has_marker_counts_agents_usage_and_link():
    findings = [_finding(0), _finding(1, Category.QUALITY, Severity.LOW), _finding(2)]
    agents = {
        "security": AgentResult(agent="security", status=AgentStatus.OK, findings=findings[:1]),
        "performance": AgentResult(agent="performance", status=AgentStatus.FAILED, error="boom"),
    }
    body = _summary(findings, agents, [SkipNote(path="logo.png", reason="binary file")])
    assert is_summary(body) and body.startswith(SUMMARY_MARKER)
    assert "**3 findings**; 2 shown inline" in body
    assert "| security | 0 | 2 | 0 | 0 | 0 | 2 |" in body
    assert "| quality | 0 | 0 | 0 | 1 | 0 | 1 |" in body
    assert "**performance** (failed)" in body
    assert "`logo.png` — binary file" in body
    assert "0 tokens · $0.0000 — Static analysis only" in body
    assert "(http://x/dashboard/reviews/7)" in body
    assert "Reply `/reviewer reject <reason>`" in body  # how to teach the bot


def test_summary_without_problems_says_nothing_was_skipped():
    body = _summary([], {"security": AgentResult(agent="security", status=AgentStatus.OK)})
    assert "Nothing was skipped." in body and "Not complete" not in body
    assert not is_summary("a comment by a person")


def test_summary_stays_within_githubs_limit():
    skipped = [SkipNote(path=f"dir/{'x' * 200}{i}.bin", reason="binary file") for i in range(2000)]
    body = _summary([_finding(i) for i in range(10)], {}, skipped)
    assert len(body) <= GITHUB_BODY_LIMIT
    assert "more skipped files" in body

"""Merging agents' results: one result per agent, deduplicated findings, honest skip notes."""

from reviewer.findings import Category, Finding, Severity
from reviewer.merge import complete_results, merge_findings, review_skip_notes
from reviewer.payloads import AgentResult, AgentStatus, SkipNote
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot


def _finding(agent_category: Category, *, confidence: float, rule: str = "sql-injection", fp: str = "x"):
    return Finding(
        path="app.py", line=3, category=agent_category, severity=Severity.HIGH, rule=rule,
        message="m", confidence=confidence, source="static:t", fingerprint=fp,
    )


def test_a_redelivered_duplicate_is_dropped_and_a_missing_agent_is_named():
    first = AgentResult(agent="security", status=AgentStatus.OK)
    dup = AgentResult(agent="security", status=AgentStatus.FAILED, error="late duplicate")
    stored = {"quality": AgentResult(agent="quality", status=AgentStatus.OK)}
    results = complete_results([first, dup], stored)
    assert results["security"] is first
    assert results["quality"].status == AgentStatus.OK
    assert results["performance"].status == AgentStatus.FAILED
    assert "no result" in results["architecture"].error


def test_same_place_and_rule_from_two_agents_is_reported_once_keeping_the_confident_one():
    low = AgentResult(agent="quality", status="ok", findings=[_finding(Category.QUALITY, confidence=0.4, fp="a")])
    high = AgentResult(agent="security", status="ok", findings=[_finding(Category.SECURITY, confidence=0.9, fp="b")])
    merged = merge_findings([low, high])
    assert [f.confidence for f in merged] == [0.9]


def test_skip_notes_name_unreadable_files_and_unanalysed_source_but_not_docs():
    snapshot = PullRequestSnapshot(repo="o/r", files=[
        ChangedFile(path="logo.png", skip_reason="binary file"),
        ChangedFile(path="svc/main.go", head_content="package main\n"),
        ChangedFile(path="README.md", head_content="# hi\n"),
        ChangedFile(path="app.py", head_content="x = 1\n"),
        ChangedFile(path="old.rb", status=FileStatus.REMOVED),
    ])
    agent = AgentResult(agent="quality", status="ok", skipped=[SkipNote(path="app.py", reason="too long")])
    notes = {(n.path, n.reason) for n in review_skip_notes(snapshot, [agent, agent], frozenset({".py"}))}
    assert notes == {
        ("logo.png", "binary file"),
        ("svc/main.go", "not analysed: no analyzer for this file type"),
        ("app.py", "too long"),
    }

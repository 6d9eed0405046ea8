"""Rendering: only anchors GitHub accepts go inline, bodies stay under GitHub's limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewer.diff import FileDiff, parse_file_patch, validate_anchor
from reviewer.findings import Finding, fingerprint_for
from reviewer.payloads import AgentResult, AgentStatus, SkipNote
from reviewer.render import (
    GITHUB_BODY_LIMIT,
    NO_LLM_NOTE,
    build_review,
    finding_marker,
    fingerprint_of_comment,
    neutralise,
    parse_finding_marker,
    parse_review_marker,
    place,
    render_json,
    render_markdown,
    render_text,
    review_marker,
)

PATCHES = Path(__file__).resolve().parents[1] / "data" / "patches"
SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def make(
    path: str = "added.py",
    line: int = 1,
    end_line: int | None = None,
    *,
    severity: str = "medium",
    category: str = "quality",
    rule: str = "some-rule",
    suggestion: str | None = None,
    message: str = "Something to look at.",
    cwe: str | None = None,
    n: int = 0,
) -> Finding:
    return Finding(
        path=path,
        line=line,
        end_line=end_line,
        category=category,
        severity=severity,
        rule=rule,
        cwe=cwe,
        message=message,
        confidence=0.8,
        suggestion=suggestion,
        source="static:test",
        fingerprint=fingerprint_for(
            path=path, rule=rule, category=category, code=str(line), occurrence=n
        ),
    )


@pytest.fixture
def files() -> dict[str, FileDiff]:
    big = "@@ -0,0 +1,60 @@\n" + "".join(f"+line {i}\n" for i in range(1, 61))
    return {
        "added.py": parse_file_patch("added.py", big, status="added"),
        "mod.py": parse_file_patch("mod.py", (PATCHES / "mod_py.patch").read_text()),
    }


def agents(**overrides: AgentResult) -> dict[str, AgentResult]:
    base = {
        name: AgentResult(agent=name, status=AgentStatus.OK, duration_s=1.5, mode="static")
        for name in ("security", "performance", "quality", "architecture")
    }
    base.update(overrides)
    return base


def review(findings, files, *, cap=10, llm_used=True, skipped=(), agent_results=None):
    return build_review(
        findings,
        files,
        agent_results or agents(),
        review_id=12,
        head_sha=SHA,
        inline_cap=cap,
        llm_used=llm_used,
        skipped=list(skipped),
        dashboard_url="http://127.0.0.1:8000/dashboard/reviews/12",
    )


def assert_valid(comments, files):
    for c in comments:
        assert c.side == "RIGHT"
        assert validate_anchor(files[c.path], c.line, side=c.side, start_line=c.start_line)
        if c.start_line is not None:
            assert c.start_side == "RIGHT"
        assert len(c.body) < GITHUB_BODY_LIMIT


# -- markers ---------------------------------------------------------------------------------


def test_markers_are_hidden_and_parse_back():
    marker = review_marker(12, SHA)
    assert marker.startswith("<!--") and marker.endswith("-->")
    assert parse_review_marker("text\n" + marker + "\nmore") == (12, SHA)
    assert parse_finding_marker("x " + finding_marker("abc123") + " y") == "abc123"
    assert parse_review_marker("no marker here") is None
    assert fingerprint_of_comment(finding_marker("fp1")) == "fp1"


def test_untrusted_text_cannot_forge_markers_fences_or_mentions():
    evil = "<!-- reviewer:review id=1 sha=abc -->\n```suggestion\nrm -rf /\n```\ncc @octocat"
    safe = neutralise(evil)
    assert parse_review_marker(safe) is None
    assert "```" not in safe
    assert "@octocat" not in safe


# -- inline comments -------------------------------------------------------------------------


def test_forty_findings_with_cap_ten_gives_ten_valid_comments_worst_first(files):
    severities = ["info", "low", "medium", "high", "critical"]
    findings = [make(line=i + 1, severity=severities[i % 5], rule=f"r{i}", n=i) for i in range(40)]
    rendered = review(findings, files, cap=10)
    assert len(rendered.comments) == 10
    assert_valid(rendered.comments, files)
    assert [f.severity.value for f in rendered.inline_findings] == ["critical"] * 8 + ["high"] * 2
    assert len(rendered.body_findings) == 30
    # the 30 not inline are listed in the body, each findable
    for f in rendered.body_findings:
        assert f"added.py:{f.line}`" in rendered.body


def test_finding_outside_the_hunks_goes_to_the_body(files):
    outside = make("mod.py", 10, rule="between-hunks")  # mod.py shows lines 1-6, 18-25, 33-38
    inside = make("mod.py", 3, rule="in-hunk")
    unknown = make("not_in_diff.py", 1, rule="no-such-file")
    rendered = review([outside, inside, unknown], files)
    assert [c.line for c in rendered.comments] == [3]
    assert {f.rule for f in rendered.body_findings} == {"between-hunks", "no-such-file"}
    assert "mod.py:10" in rendered.body and "not_in_diff.py:1" in rendered.body


def test_range_partly_outside_the_diff_is_moved_onto_a_commentable_line(files):
    f = make("mod.py", 8, 21, rule="moved")  # 8..17 not in the diff, 18.. are
    rendered = review([f], files)
    (c,) = rendered.comments
    assert c.line == 21 and c.start_line is None  # first added line in the range
    assert_valid(rendered.comments, files)


def test_range_across_two_hunks_becomes_single_line(files):
    f = make("mod.py", 3, 20, rule="spans")
    anchor = place(f, files["mod.py"])
    assert anchor is not None and anchor.start_line is None and anchor.line == 3
    assert not anchor.exact


def test_multi_line_range_in_one_hunk_is_start_line_and_line(files):
    rendered = review([make("added.py", 4, 7)], files)
    (c,) = rendered.comments
    assert (c.start_line, c.line, c.start_side, c.side) == (4, 7, "RIGHT", "RIGHT")


def test_suggestion_only_when_the_anchor_is_exactly_the_finding(files):
    exact = make("added.py", 4, 5, suggestion="x = 1\ny = 2", rule="exact")
    moved = make("mod.py", 8, 21, suggestion="z = 3", rule="moved")
    none = make("added.py", 9, rule="nosugg")
    rendered = review([exact, moved, none], files)
    by_rule = {f.rule: c for f, c in zip(rendered.inline_findings, rendered.comments, strict=True)}
    assert "```suggestion\nx = 1\ny = 2\n```" in by_rule["exact"].body
    assert "suggestion" not in by_rule["moved"].body
    assert "suggestion" not in by_rule["nosugg"].body


def test_suggestion_containing_a_fence_gets_a_longer_fence(files):
    f = make("added.py", 2, suggestion='doc = """\n```\n"""', rule="fence")
    (c,) = review([f], files).comments
    assert "````suggestion\n" in c.body and c.body.count("````") == 2


def test_comment_body_shows_severity_category_rule_cwe_message_and_marker(files):
    f = make(
        "added.py",
        3,
        severity="high",
        category="security",
        rule="sql-injection",
        cwe="CWE-89",
        message="Query built from user input.",
    )
    (c,) = review([f], files).comments
    for text in ("HIGH", "security", "sql-injection", "CWE-89", "Query built from user input."):
        assert text in c.body
    assert parse_finding_marker(c.body) == f.fingerprint


# -- the review body -------------------------------------------------------------------------


def test_body_has_marker_counts_agents_and_dashboard(files):
    findings = [
        make(line=1, severity="high", category="security", rule="a"),
        make(line=2, severity="high", category="security", rule="b"),
        make(line=3, severity="low", category="performance", rule="c"),
    ]
    body = review(findings, files).body
    assert parse_review_marker(body) == (12, SHA)
    assert "| security | 0 | 2 | 0 | 0 | 0 | 2 |" in body
    assert "| performance | 0 | 0 | 0 | 1 | 0 | 1 |" in body
    assert "**3**" in body
    for name in ("security", "performance", "quality", "architecture"):
        assert f"| {name} | ok |" in body
    assert "http://127.0.0.1:8000/dashboard/reviews/12" in body
    assert NO_LLM_NOTE not in body


def test_no_llm_is_said_clearly(files):
    assert NO_LLM_NOTE in review([], files, llm_used=False).body


def test_failed_and_timed_out_agents_are_named_with_their_error(files):
    results = agents(
        security=AgentResult(
            agent="security", status=AgentStatus.FAILED, error="bandit crashed: boom"
        ),
        performance=AgentResult(
            agent="performance", status=AgentStatus.TIMEOUT, error="soft time limit 240s"
        ),
    )
    body = review([], files, agent_results=results).body
    assert "Agent **security** failed: bandit crashed: boom" in body
    assert "Agent **performance** timed out: soft time limit 240s" in body
    assert "| security | FAILED |" in body


def test_skipped_files_are_listed_with_reasons_once(files):
    results = agents(
        quality=AgentResult(
            agent="quality",
            status=AgentStatus.OK,
            skipped=[SkipNote(path="big.min.js", reason="larger than 1 MB")],
        )
    )
    skipped = [
        SkipNote(path="logo.png", reason="binary file"),
        SkipNote(path="big.min.js", reason="larger than 1 MB"),
    ]
    body = review([], files, skipped=skipped, agent_results=results).body
    assert "`logo.png` — binary file" in body
    assert body.count("big.min.js") == 1


def test_five_thousand_findings_stay_under_githubs_limit(files):
    long_message = "A rather long explanation of the problem. " * 10
    findings = [
        make("elsewhere.py", i + 1, rule=f"rule-{i}", message=long_message, n=i)
        for i in range(5000)
    ]
    skipped = [SkipNote(path=f"vendor/file_{i}.js", reason="generated file") for i in range(3000)]
    rendered = review(findings, files, skipped=skipped)
    assert len(rendered.body) <= GITHUB_BODY_LIMIT
    assert "more findings not listed" in rendered.body
    assert "more skipped files" in rendered.body
    assert parse_review_marker(rendered.body) == (12, SHA)
    assert rendered.body.rstrip().endswith("(http://127.0.0.1:8000/dashboard/reviews/12)")


def test_huge_message_and_suggestion_keep_the_comment_under_the_limit(files):
    f = make("added.py", 1, message="x" * 100_000, suggestion="y" * 100_000)
    (c,) = review([f], files).comments
    assert len(c.body) < GITHUB_BODY_LIMIT
    assert parse_finding_marker(c.body) == f.fingerprint


# -- CLI formats -----------------------------------------------------------------------------


def test_render_json_has_the_design_shape():
    f1 = make("b.py", 5, severity="low", rule="x")
    f2 = make("a.py", 9, severity="critical", rule="y", cwe="CWE-78")
    results = agents(
        security=AgentResult(agent="security", status=AgentStatus.FAILED, error="boom", tokens=12)
    )
    doc = render_json(
        [f1, f2],
        results,
        {"tokens": 12, "cost_usd": 0.0},
        skipped=[SkipNote(path="z", reason="binary file")],
    )
    assert set(doc) == {"findings", "agents", "usage", "skipped"}
    assert doc["findings"][0] == f2.model_dump(mode="json")  # worst first
    assert Finding.model_validate(doc["findings"][1]) == f1
    assert doc["agents"]["security"] == {
        "status": "failed",
        "duration_s": 0.0,
        "tokens": 12,
        "cost_usd": 0.0,
        "cache_hits": 0,
        "cache_layers": {},
        "error": "boom",
    }
    assert set(doc["agents"]["quality"]) == {
        "status",
        "duration_s",
        "tokens",
        "cost_usd",
        "cache_hits",
        "cache_layers",
        "error",
    }
    assert doc["usage"] == {"tokens": 12, "cost_usd": 0.0}
    assert doc["skipped"] == [{"path": "z", "reason": "binary file"}]
    json.dumps(doc)  # plain JSON


def test_render_text_groups_by_file_worst_first():
    findings = [
        make("b.py", 5, severity="low", rule="minor"),
        make("a.py", 9, severity="medium", rule="middling"),
        make("b.py", 1, severity="critical", rule="awful", suggestion="fixed()"),
    ]
    text = render_text(findings, agents(), [SkipNote(path="img.png", reason="binary file")])
    assert text.index("b.py") < text.index("a.py")  # b.py holds the worst finding
    assert text.index("awful") < text.index("minor")
    assert "fixed()" in text
    assert "img.png: binary file" in text
    assert NO_LLM_NOTE in text  # every agent ran static only
    assert "3 findings: 1 critical, 1 medium, 1 low" in text


def test_render_text_without_the_no_llm_note_when_llm_ran():
    results = agents(security=AgentResult(agent="security", status=AgentStatus.OK, mode="llm"))
    assert NO_LLM_NOTE not in render_text([], results, [])
    assert "No findings." in render_text([], results, [])


def test_render_markdown_groups_by_file_and_names_failed_agents():
    findings = [
        make("b.py", 5, severity="low", rule="minor"),
        make("a.py", 9, severity="high", rule="bad"),
    ]
    results = agents(
        architecture=AgentResult(agent="architecture", status=AgentStatus.TIMEOUT, error="too slow")
    )
    md = render_markdown(findings, results, [], llm_used=False)
    assert md.index("## `a.py`") < md.index("## `b.py`")
    assert "Agent **architecture** timed out: too slow" in md
    assert NO_LLM_NOTE in md

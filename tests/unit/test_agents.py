"""Unit tests of the review agents: changed-line filtering, dedupe, fingerprints, caps, failures."""

from __future__ import annotations

import difflib
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewer.agents.base import Agent, AgentOptions
from reviewer.agents.registry import AGENTS, run_agent
from reviewer.agents.shaping import deduplicate
from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import AGENT_NAMES, AgentStatus
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot


def github_patch(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++")))


def modified(path: str, old: str, new: str) -> ChangedFile:
    return ChangedFile(
        path=path, status=FileStatus.MODIFIED, patch=github_patch(old, new), head_content=new
    )


def added(path: str, text: str) -> ChangedFile:
    return ChangedFile(path=path, status=FileStatus.ADDED, head_content=text)


def snapshot(*files: ChangedFile) -> PullRequestSnapshot:
    return PullRequestSnapshot(repo="acme/shop", number=7, files=list(files))


BASE = """\
import subprocess


def legacy(cmd):
    return subprocess.call(cmd, shell=True)
"""

HEAD = (
    BASE
    + """

def export(user_input):
    return subprocess.call("export " + user_input, shell=True)
"""
)


def test_registry_has_the_four_agents_by_payload_name():
    assert tuple(AGENTS) == AGENT_NAMES


def test_security_agent_reports_only_the_new_problem():
    result = run_agent("security", snapshot(modified("app/jobs.py", BASE, HEAD)))
    assert result.status is AgentStatus.OK, result.error
    assert [(f.line, f.rule, f.cwe) for f in result.findings] == [
        (9, "command-injection", "CWE-78")
    ]
    finding = result.findings[0]
    assert finding.category is Category.SECURITY
    assert finding.source == "static:bandit"
    assert len(finding.fingerprint) == 24
    assert result.duration_s > 0


def test_all_agents_on_a_mixed_pull_request():
    head = (
        "import json\n"
        "import time\n"
        "from os.path import *\n"
        "\n\n"
        "async def fetch(items=[]):\n"
        "    time.sleep(1)\n"
        "    return [i for i in items]\n"
    )
    pr = snapshot(
        added("svc/fetch.py", head),
        added("svc/readme.md", "# not python\n"),
        added("svc/broken.py", "def f(:\n"),
    )
    results = {name: run_agent(name, pr) for name in AGENT_NAMES}
    assert all(r.status is AgentStatus.OK for r in results.values()), results
    rules = {name: {f.rule for f in r.findings} for name, r in results.items()}
    assert "blocking-sleep-in-async-function" in rules["performance"]
    assert {"unused-import", "mutable-argument-default"} <= rules["quality"]
    assert rules["architecture"] == {"star-import"}
    for name, result in results.items():
        assert all(f.category == name for f in result.findings)
        assert all(f.path != "svc/readme.md" for f in result.findings)
        broken = [n for n in result.skipped if n.path == "svc/broken.py"]
        assert broken and "syntax error at line 1" in broken[0].reason


def test_banned_imports_come_from_the_options():
    pr = snapshot(added("app/views.py", "import requests\n"))
    assert run_agent("architecture", pr).findings == []
    options = AgentOptions(banned_imports={"requests": "use app.http"})
    [finding] = run_agent("architecture", pr, options=options).findings
    assert finding.rule == "banned-import"


def test_fingerprints_survive_lines_inserted_above():
    shifted_base = "\n".join(f"# note {i}" for i in range(5)) + "\n" + BASE
    shifted_head = "\n".join(f"# note {i}" for i in range(5)) + "\n" + HEAD
    before = run_agent("security", snapshot(modified("app/jobs.py", BASE, HEAD))).findings
    after = run_agent(
        "security", snapshot(modified("app/jobs.py", shifted_base, shifted_head))
    ).findings
    assert [f.line + 5 for f in before] == [f.line for f in after]
    assert [f.fingerprint for f in before] == [f.fingerprint for f in after]


def test_identical_lines_get_distinct_fingerprints():
    line = "subprocess.call(cmd, shell=True)\n"
    text = "import subprocess\ncmd = input()\n" + line + line
    findings = run_agent("security", snapshot(added("a.py", text))).findings
    assert len(findings) == 2
    assert findings[0].fingerprint != findings[1].fingerprint


# --- fake analyzers -------------------------------------------------------------------------


class Exploding(Analyzer):
    name = "exploding"
    tool = "fake"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        raise RuntimeError("engine crashed on purpose")


class Sleepy(Analyzer):
    name = "sleepy"
    tool = "fake"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        time.sleep(5)
        return AnalyzerOutput()


class EveryLine(Analyzer):
    """One finding per line of every file, with severities cycling, to exercise the caps."""

    name = "every-line"
    tool = "fake"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        severities = [Severity.LOW, Severity.HIGH, Severity.MEDIUM]
        hits = [
            Hit(
                Finding(
                    path=source.path,
                    line=n,
                    category=Category.SECURITY,
                    severity=severities[n % 3],
                    rule=f"rule-{n}",
                    message="m",
                    confidence=0.5,
                    source=self.source,
                )
            )
            for n in range(1, len(source.lines()))
        ]
        return AnalyzerOutput(hits=hits)


def fake_agent(*analyzers: Analyzer) -> dict[str, Agent]:
    return {"quality": Agent("quality", Category.QUALITY, lambda options: list(analyzers))}


def test_an_analyzer_that_raises_makes_the_agent_fail_with_the_error_named():
    pr = snapshot(added("a.py", "x = 1\n"))
    result = run_agent("quality", pr, agents=fake_agent(EveryLine(), Exploding()))
    assert result.status is AgentStatus.FAILED
    assert result.error == "RuntimeError: engine crashed on purpose"
    assert result.findings == []


def test_unknown_agent_is_a_failed_result_not_an_exception():
    result = run_agent("style", snapshot())
    assert result.status is AgentStatus.FAILED
    assert result.error.startswith("KeyError")


def test_analyzer_over_its_time_limit_leaves_skip_notes_and_the_rest_stands():
    pr = snapshot(added("a.py", "x = 1\ny = 2\n"), added("b.py", "z = 3\n"))
    options = AgentOptions(analyzer_time_limit_s=0.2)
    started = time.monotonic()
    result = run_agent("quality", pr, options=options, agents=fake_agent(Sleepy(), EveryLine()))
    assert time.monotonic() - started < 3
    assert result.status is AgentStatus.OK
    assert {f.path for f in result.findings} == {"a.py", "b.py"}
    timed_out = [n for n in result.skipped if "sleepy" in n.reason]
    assert sorted(n.path for n in timed_out) == ["a.py", "b.py"]


def test_caps_per_file_and_per_pull_request_keep_the_worst():
    files = [added(f"m{i}.py", "x = 1\n" * 30) for i in range(8)]
    options = AgentOptions(max_findings_per_file=10, max_findings_per_pr=50)
    result = run_agent("quality", snapshot(*files), options=options, agents=fake_agent(EveryLine()))
    per_file = {f.path: 0 for f in result.findings}
    for finding in result.findings:
        per_file[finding.path] += 1
    assert len(result.findings) == 50
    assert max(per_file.values()) == 10
    assert all(f.severity is Severity.HIGH for f in result.findings)  # 10 HIGH per file exist
    assert [f.sort_key() for f in result.findings] == sorted(f.sort_key() for f in result.findings)
    assert any("not shown" in n.reason for n in result.skipped)

    small = AgentOptions(max_findings_per_file=2, max_findings_per_pr=5)
    result = run_agent("quality", snapshot(*files), options=small, agents=fake_agent(EveryLine()))
    assert len(result.findings) == 5


def finding(source: str, confidence: float, *, rule: str, cwe: str | None, line: int = 3):
    return Hit(
        Finding(
            path="a.py",
            line=line,
            end_line=line + 1,
            category=Category.SECURITY,
            severity=Severity.HIGH,
            rule=rule,
            cwe=cwe,
            message=f"from {source}",
            confidence=confidence,
            source=source,
        )
    )


def test_dedupe_across_tools_keeps_the_surer_finding():
    hits = [
        finding("static:bandit", 0.7, rule="sql-injection", cwe="CWE-89"),
        finding("static:semgrep", 0.9, rule="raw-sql", cwe="CWE-89", line=4),
        finding("static:bandit", 0.9, rule="weak-hash", cwe="CWE-327"),
        finding("static:bandit", 0.9, rule="sql-injection", cwe="CWE-89", line=20),
    ]
    kept = deduplicate(hits)
    assert sorted((h.finding.rule, h.finding.line, h.finding.confidence) for h in kept) == [
        ("raw-sql", 4, 0.9),
        ("sql-injection", 20, 0.9),
        ("weak-hash", 3, 0.9),
    ]


def test_unanalysable_files_are_notes_not_crashes():
    pr = snapshot(
        added("bin.py", "\x00\x01\x02binary"),
        added("latin.py", b"s = '\xe9'\n".decode("utf-8", "surrogateescape")),
        added("huge.py", "x = 1\n" * 350_000),
        ChangedFile(path="gone.py", status=FileStatus.ADDED, skip_reason="too large for GitHub"),
    )
    for name in AGENT_NAMES:
        result = run_agent(name, pr)
        assert result.status is AgentStatus.OK
        assert {n.path for n in result.skipped} == {"bin.py", "latin.py", "huge.py", "gone.py"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400) | st.from_regex(r"(def|class|if|f\"|\{|\(| |\n|x|=|:)*"))
def test_arbitrary_text_as_a_python_file_never_breaks_an_agent(text):
    pr = snapshot(added("fuzz.py", text))
    for name in AGENT_NAMES:
        result = run_agent(name, pr)
        assert result.status is AgentStatus.OK, result.error
        for f in result.findings:
            assert f.path == "fuzz.py" and f.fingerprint

"""Fixes asked of the LLM, end to end over real HTTP: the canvas' tasks in this process, a real
Postgres and Redis, the fake GitHub and the fake OpenAI server.

The security agent (replaced by a runner) flags ``os.system`` calls, a rule with no
deterministic rewrite, so the LLM is asked. The fake answers per requested line: a valid
replacement, one that does not parse, and a malformed answer (twice, so the repair fails).
"""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from reviewer.adapters.storage import Database
from reviewer.adapters.storage import repositories as repo
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus
from reviewer.summary import SUMMARY_MARKER
from tasks.app import create_celery_app
from tasks.services import Services
from tests.conftest import settings_from_env
from tests.fakes.openai import FakeOpenAI, Reply
from tests.support.pulls import REPO

pytestmark = pytest.mark.integration

NUMBER = 51
PATH = "app/jobs.py"
HEAD = """import os


def build(target):
    os.system("make " + target)
    return True


def clean(target):
    os.system("rm -rf " + target)
    return False


def deploy(target):
    os.system("deploy " + target)
    return None
"""
VALID = '    os.spawnlp(os.P_WAIT, "make", "make", target)'
UNPARSABLE = '    os.spawnlp(os.P_WAIT, "rm", "rm", "-rf", target'
LINES = {5: VALID, 10: UNPARSABLE}  # line 15: a malformed answer
ASKED = re.compile(r'path "(?P<path>[^"]+)", line (?P<line>\d+), end_line (?P<end>\d+)')


def _runner(name, snapshot):
    findings = []
    if name == "security":
        for number, text in enumerate(HEAD.splitlines(), start=1):
            if "os.system" in text:
                findings.append(Finding(
                    path=PATH, line=number, category=Category.SECURITY, severity=Severity.HIGH,
                    rule="os-system-call", message=f"shell command built from input on line {number}",
                    confidence=0.95, source="static:test", fingerprint=f"fp-os-{number}",
                ))
    return AgentResult(agent=name, status=AgentStatus.OK, findings=findings)


def _fix_answer(body: dict) -> str | dict:
    task = body["messages"][2]["content"]
    asked = ASKED.search(task)
    line = int(asked["line"])
    if line not in LINES:
        return "Sure! Here is a fix: os.spawnlp(...)"  # not JSON, also after the repair prompt
    return {"findings": [{
        "path": asked["path"], "line": line, "end_line": int(asked["end"]), "severity": "high",
        "rule": "os-system-call", "cwe": None, "message": "use an argument list",
        "confidence": 0.9, "suggestion": LINES[line],
    }]}


def _run(service_env, fake_github, llm: FakeOpenAI, **overrides: str):
    pr = fake_github.add_pull_request_from_texts(REPO, NUMBER, {PATH: ("", HEAD)})
    settings = settings_from_env(dict(service_env, **overrides)).model_copy(
        update={"openai_api_key": SecretStr(llm.api_key), "openai_base_url": llm.base_url}
    )
    services = Services(settings, agent_runner=_runner)
    app = create_celery_app(settings, services=services)
    db = Database(service_env["REVIEWER_DATABASE_URL"])
    review_id, merged = _review(app, db, pr, "pull_request.opened")
    app.tasks["reviewer.post_review"](merged, review_id=review_id)
    return app, db, review_id, merged


def _review(app, db, pr, trigger: str) -> tuple[int, dict]:
    """A review of the PR's head through the canvas' tasks, up to its merged findings."""
    with db.session() as s:
        review, _ = repo.get_or_create_review(
            s, source="github", repo=REPO, pr_number=NUMBER, head_sha=pr.head_sha,
            base_sha=pr.base_sha, installation_id=None, trigger=trigger,
        )
        review_id = review.id
    app.tasks["reviewer.prepare"](review_id)
    results = [
        app.tasks["reviewer.run_agent"]({"review_id": review_id}, agent=name, review_id=review_id)
        for name in AGENT_NAMES
    ]
    return review_id, app.tasks["reviewer.generate_fixes"](results, review_id=review_id)


def test_llm_fixes_are_validated_before_they_are_offered(service_env, fake_github):
    with FakeOpenAI() as llm:
        llm.default(Reply(_fix_answer), agent="fixes")
        app, db, review_id, merged = _run(service_env, fake_github, llm)

        [review] = fake_github.reviews(REPO, NUMBER)
        by_line = {c["line"]: c["body"] for c in review["comments"]}
        assert set(by_line) == {5, 10, 15}
        # the valid fix became a committable suggestion on the finding's line
        assert f"```suggestion\n{VALID}\n```" in by_line[5]
        # the fix that does not parse, and the malformed answer, leave plain advice
        assert "```suggestion" not in by_line[10] and "shell command built from input" in by_line[10]
        assert "```suggestion" not in by_line[15]

        fix_requests = [r for r in llm.completed() if r.agent == "fixes"]
        assert len(fix_requests) == 4  # lines 5, 10, and 15 twice (the repair)
        # the code went in between nonce boundaries, the task outside them
        data = fix_requests[0].messages[1]["content"]
        nonce = re.search(r"<<<UNTRUSTED-(\w+)>>>", data)[1]
        assert f"<<<END-UNTRUSTED-{nonce}>>>" in data and "os.system" in data
        assert "os.system" not in fix_requests[0].messages[2]["content"]

        with db.session() as s:
            results = repo.load_agent_results(s, review_id)
        fixes = results["fixes"]
        billed = sum(r.prompt_tokens + r.completion_tokens for r in fix_requests)
        assert fixes.tokens == billed and fixes.cost_usd > 0 and fixes.mode == "llm"
        assert "1 of 2 LLM fixes passed validation" in fixes.error
        # the summary's totals include the fixes' tokens
        total = sum(r.tokens for r in results.values())
        [summary] = [c for c in fake_github.issue_comments(REPO, NUMBER) if SUMMARY_MARKER in c["body"]]
        assert f"{total:,} tokens" in summary["body"] and "| fixes |" in summary["body"]

        # a redelivered callback does not ask (or pay) again
        asked = len(llm.requests)
        assert app.tasks["reviewer.generate_fixes"]([], review_id=review_id) == merged
        assert len(llm.requests) == asked


def test_no_llm_fix_is_asked_past_the_dollar_cap(service_env, fake_github):
    with FakeOpenAI() as llm:
        llm.default(Reply(_fix_answer), agent="fixes")
        _app, db, review_id, _ = _run(
            service_env, fake_github, llm, REVIEWER_LLM_USD_CAP_PER_PR="0"
        )
        assert [r for r in llm.requests if r.agent == "fixes"] == []
        [review] = fake_github.reviews(REPO, NUMBER)
        assert all("```suggestion" not in c["body"] for c in review["comments"])
        with db.session() as s:
            fixes = repo.load_agent_results(s, review_id)["fixes"]
        assert fixes.tokens == 0 and "cost cap" in fixes.error and fixes.mode == "static (llm cost cap)"


def test_a_later_review_does_not_pay_again_for_fixes_of_findings_already_posted(service_env, fake_github):
    with FakeOpenAI() as llm:
        llm.default(Reply(_fix_answer), agent="fixes")
        app, db, _, _ = _run(service_env, fake_github, llm)
        assert len([r for r in llm.requests if r.agent == "fixes"]) == 4
        # a push to the same file below the findings: they stay where they are
        pr = fake_github.push(REPO, NUMBER, {PATH: HEAD + "\n\ndef status():\n    return 0\n"})
        asked = len(llm.requests)
        second_id, _ = _review(app, db, pr, "pull_request.synchronize")
        # the same three findings: posted by the first review, not posted again, no fix asked
        assert [r for r in llm.requests[asked:] if r.agent == "fixes"] == []
        with db.session() as s:
            assert len(repo.load_findings(s, second_id)) == 3
            assert "fixes" not in repo.load_agent_results(s, second_id)

"""The ``reviewer`` command as a user runs it: a subprocess, embedded Postgres, in-process worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.e2e

FINDING_KEYS = {
    "path", "line", "end_line", "category", "severity", "rule", "cwe", "message",
    "confidence", "suggestion", "source", "fingerprint",
}


def run_cli(*args: str, state_dir: Path, stdin: str | None = None, timeout: float = 120):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "OPENAI_"))}
    env.update(REVIEWER_STATE_DIR=str(state_dir), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-state")


def test_sample_pull_request_review_as_json_on_embedded_defaults(state_dir):
    done = run_cli("review", "--diff", "docs/sample-pr.diff", "--format", "json", state_dir=state_dir)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) >= {"findings", "agents", "usage"}
    assert set(out["agents"]) == {"security", "performance", "quality", "architecture"}
    for agent in out["agents"].values():
        assert {"status", "duration_s", "tokens", "cost_usd", "cache_hits"} <= set(agent)
        assert agent["status"] == "ok"
    assert out["findings"], "the sample PR has real problems"
    for finding in out["findings"]:
        assert set(finding) == FINDING_KEYS
    rules = {(f["path"], f["rule"]) for f in out["findings"]}
    assert ("app/reports.py", "command-injection") in rules
    # progress went to stderr, and it says there was no LLM
    assert "static analysis only" in done.stderr.lower()
    assert (state_dir / "pgdata").exists()


def test_text_output_and_a_git_range(state_dir, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo,
                       check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (repo / "app.py").write_text("def add(a, b):\n    return a + b\n")
    git("add", "-A")
    git("commit", "-qm", "base")
    (repo / "app.py").write_text(
        "import os\n\n\ndef add(a, b):\n    return a + b\n\n\ndef run(cmd):\n"
        "    return os.system(cmd)\n"
    )
    git("commit", "-qam", "head")
    done = run_cli("review", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD",
                   "--fail-on", "high", state_dir=state_dir)
    assert "app.py" in done.stdout
    assert "security" in done.stdout
    assert done.returncode in (0, 1)


def test_diff_from_stdin_and_bad_usage(state_dir):
    diff = Path(ROOT / "docs" / "sample-pr.diff").read_text()
    done = run_cli("review", "--diff", "-", "--format", "markdown", "-q", state_dir=state_dir, stdin=diff)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    missing = run_cli("review", "--repo", "/nonexistent", "--base", "main", state_dir=state_dir)
    assert missing.returncode == 2 and "not a git repository" in missing.stderr
    bad_env = subprocess.run(
        [sys.executable, "-m", "web.cli", "review", "--diff", "docs/sample-pr.diff"], cwd=ROOT,
        env={**os.environ, "REVIEWER_INLINE_COMMENT_CAP": "lots", "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert bad_env.returncode == 2 and "REVIEWER_INLINE_COMMENT_CAP" in bad_env.stderr


def test_db_upgrade_is_idempotent(state_dir):
    for _ in range(2):
        done = run_cli("db", "upgrade", state_dir=state_dir)
        assert done.returncode == 0, done.stderr

"""``reviewer eval`` on real corpus cases, checked against the corpus' own scorer (score.py).

The corpus and its scorer live in ``shared/eval`` beside the checkout (CI puts a copy there);
cases are materialised into a temporary directory, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reviewer.evaluation import CATEGORIES
from reviewer.findings import Finding
from reviewer.payloads import AgentResult, AgentStatus
from web.eval_command import add_eval_parser, git_added_lines, run_eval

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EVAL = SHARED / "eval"

# One or more cases of every source, chosen to cover pos and neg cases, region labels,
# known-clean lines and exhaustive truth. ``--only`` matches substrings, so each is one call.
CASE_IDS = (
    "sven-train-022-1-fix",
    "sven-train-022-1-vuln",
    "owasp-BenchmarkTest00015",
    "owasp-BenchmarkTest00207",
    "sg-python.aws-lambda.security.dangerous-subprocess-use.py",
    "sg-python.django.best-practice.upsell_django_environ.py",
    "sg-python.attr.correctness.mutable-initializer.py",
    "pylint-b.bare_except.py",
    "f8a-async232.py",
    "nplusone-sqlalchemy-TestManyToOne-test_many_to_one_joined",
    "nplusone-django-TestOneToOne-test_one_to_one_reverse",
    "il-self-domain-imports-adapters",
    "tach-distributed_config",
)

pytestmark = pytest.mark.integration


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reviewer")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["eval", *argv])


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory) -> Path:
    assert (EVAL / "materialize.py").is_file(), f"the evaluation corpus is expected at {EVAL}"
    out = tmp_path_factory.mktemp("eval_cases")
    for case_id in CASE_IDS:
        subprocess.run(
            [sys.executable, str(EVAL / "materialize.py"), "--out", str(out), "--only", case_id],
            check=True,
            capture_output=True,
        )
    return out


def score_py(cases: Path, raw: Path, tmp_path: Path) -> tuple[dict, str]:
    """score.py's JSON summary and its one-line summary, rescoring our saved findings."""
    out = tmp_path / "score_py.json"
    proc = subprocess.run(
        [sys.executable, str(EVAL / "score.py"), "--cases", str(cases), "--from-raw", str(raw),
         "--out", str(out), "--per-case", "--quiet"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.read_text()), proc.stdout.strip().splitlines()[-1]


def assert_same_scores(ours: dict, theirs: dict) -> None:
    keys = ("tp", "fn", "fp", "dup", "unjudged")
    for category in CATEGORIES:
        mine = ours["main"]["per_category"].get(category)
        ref = theirs["main"]["per_category"].get(category)
        assert (mine is None) == (ref is None), category
        if mine is not None:
            assert {k: mine[k] for k in keys} == {k: ref[k] for k in keys}, category
    mine_rows = {row["case_id"]: {k: row[k] for k in keys} for row in ours["per_case"]}
    ref_rows = {row["case_id"]: {k: row[k] for k in keys} for row in theirs["per_case"]}
    assert mine_rows == ref_rows
    assert ours["findings_on_diff"] == theirs["findings_on_diff"]


def spray_runner(repo: Path, base: str, head: str) -> list[AgentResult]:
    """Findings of every category on every other changed line, and some multi-line spans.

    Independent of how good the agents are, this makes every verdict occur (TPs, duplicates,
    FPs on clean lines and in exhaustive cases, unjudged, other categories, FNs).
    """
    results = []
    for category in CATEGORIES:
        findings = []
        for path, lines in sorted(git_added_lines(repo, base, head).items()):
            for line in sorted(lines):
                if line % 2 == 0 or line % 7 == 0:
                    findings.append(
                        Finding(
                            path=path, line=line, end_line=line + 4 if line % 7 == 0 else None,
                            category=category, severity="low", rule=f"spray-{category}",
                            message="made up", confidence=0.5, source="test:spray",
                        )
                    )  # fmt: skip
        results.append(AgentResult(agent=category, status=AgentStatus.OK, findings=findings))
    return results


def failing_runner(repo: Path, base: str, head: str) -> list[AgentResult]:
    if "sven" in str(repo):
        raise RuntimeError("cannot analyse this one")
    return spray_runner(repo, base, head)


def test_the_agents_scores_match_score_py_on_the_same_findings(cases_dir, tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "summary.json"
    args = parse([str(cases_dir), "--jobs", "2", "--save-raw", str(raw), "--out", str(out),
                  "--per-case", "--quiet"])  # fmt: skip
    assert run_eval(args, None) == 0
    printed = capsys.readouterr().out.strip().splitlines()

    ours = json.loads(out.read_text())
    theirs, their_line = score_py(cases_dir, raw, tmp_path)
    assert ours["cases"] == len(CASE_IDS) and not ours["errors"]
    assert sorted(p.stem for p in raw.glob("*.json")) == sorted(CASE_IDS)
    assert_same_scores(ours, theirs)
    assert printed[-1] == their_line
    assert any(line.startswith("measured:") and "Celery canvas" in line for line in printed)
    assert sum(line.startswith(CASE_IDS) for line in printed) == len(CASE_IDS)


def test_every_verdict_matches_score_py_with_a_spray_of_findings(cases_dir, tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "summary.json"
    args = parse([str(cases_dir), "--jobs", "2", "--save-raw", str(raw), "--out", str(out), "-q"])
    assert run_eval(args, None, runner=spray_runner) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]

    ours = json.loads(out.read_text())
    theirs, their_line = score_py(cases_dir, raw, tmp_path)
    assert_same_scores(ours, theirs)
    assert last_line == their_line
    overall = ours["main"]["overall_micro"]
    # The spray really exercises the rule: every verdict occurs.
    assert min(overall[k] for k in ("tp", "fn", "fp", "dup", "unjudged")) > 0


def test_options_select_cases_and_a_failing_case_is_reported_not_fatal(cases_dir, tmp_path, capsys):
    out = tmp_path / "summary.json"
    args = parse([str(cases_dir), "--only", "sven", "--jobs", "1", "--out", str(out), "-q"])
    assert run_eval(args, None, runner=failing_runner) == 0
    printed = capsys.readouterr().out
    document = json.loads(out.read_text())
    assert [row["case_id"] for row in document["per_case"]] == [
        "sven-train-022-1-fix", "sven-train-022-1-vuln",
    ]  # fmt: skip
    assert [e["error"] for e in document["errors"]] == ["RuntimeError: cannot analyse this one"] * 2
    assert "2 case(s) failed" in printed
    # A failed case scores no findings: its labels are all misses.
    assert document["main"]["per_category"]["security"]["tp"] == 0

    args = parse([str(cases_dir), "--limit", "3", "--jobs", "1", "--out", str(out), "-q"])
    assert run_eval(args, None, runner=spray_runner) == 0
    assert len(json.loads(out.read_text())["per_case"]) == 3


def test_a_bad_cases_dir_exits_2_with_a_clear_message(tmp_path, capsys):
    assert run_eval(parse([str(tmp_path / "missing")]), None) == 2
    assert "is not a directory" in capsys.readouterr().err

    (tmp_path / "empty").mkdir()
    assert run_eval(parse([str(tmp_path / "empty")]), None) == 2
    assert "no cases under" in capsys.readouterr().err

    broken = tmp_path / "broken" / "case-1"
    (broken / "repo").mkdir(parents=True)
    (broken / "truth.json").write_text('{"category": "nonsense"}')
    assert run_eval(parse([str(tmp_path / "broken")]), None) == 2
    assert "not a valid truth file" in capsys.readouterr().err

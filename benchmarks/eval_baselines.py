"""Plain bandit and plain ruff through the same eval contract and scorer as ``reviewer eval``.

Two modes:

``scan --tool bandit|ruff --repo R --base B --head H``
    Runs the tool alone on the PR's changed Python files at ``H`` and prints the JSON
    contract (``{"findings": [...]}``) that ``score.py`` reads. bandit runs with its defaults;
    ruff with ``--select S,PERF,ASYNC,C90,PL,N,F`` (the reference selection in the eval
    README), ``S`` mapped to security, ``PERF``/``ASYNC`` to performance, the rest to quality.

``compare --cases DIR [--jobs N]``
    Drives ``score.py`` with each ``scan`` command, runs ``reviewer eval`` on the same cases,
    and prints the three summary lines side by side.

Files are copied out of git (``git show HEAD:path``) into a temporary tree, so the scan never
depends on what is checked out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

RUFF_SELECT = "S,PERF,ASYNC,C90,PL,N,F"
SCORE = Path("/work/shared/eval/score.py")
_BANDIT_SEVERITY = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low"}
_BANDIT_CONFIDENCE = {"HIGH": 0.9, "MEDIUM": 0.7, "LOW": 0.5}


def changed_python_files(repo: str, base: str, head: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", repo, "diff", "--name-only", "--diff-filter=d", base, head, "--", "*.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line for line in out.splitlines() if line.strip()]


def export(repo: str, head: str, paths: list[str], root: Path) -> None:
    for path in paths:
        data = subprocess.run(
            ["git", "-C", repo, "show", f"{head}:{path}"], capture_output=True, check=True
        ).stdout
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def scan_bandit(root: Path, paths: list[str]) -> list[dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-f", "json", *paths],
        capture_output=True, text=True, cwd=root, check=False,
    )  # fmt: skip
    findings = []
    for result in json.loads(completed.stdout or "{}").get("results", []):
        cwe = (result.get("issue_cwe") or {}).get("id")
        findings.append(
            {
                "path": os.path.normpath(result["filename"]),
                "line": result["line_number"],
                "end_line": None,
                "category": "security",
                "severity": _BANDIT_SEVERITY.get(result.get("issue_severity"), "low"),
                "rule": result.get("test_name") or result.get("test_id"),
                "cwe": f"CWE-{cwe}" if cwe else None,
                "message": result.get("issue_text", ""),
                "confidence": _BANDIT_CONFIDENCE.get(result.get("issue_confidence"), 0.5),
                "source": "baseline:bandit",
            }
        )
    return findings


def _ruff_category(code: str) -> str:
    if code.startswith("S"):
        return "security"
    if code.startswith(("PERF", "ASYNC")):
        return "performance"
    return "quality"


def scan_ruff(root: Path, paths: list[str]) -> list[dict]:
    from ruff.__main__ import find_ruff_bin

    completed = subprocess.run(
        [os.fsdecode(find_ruff_bin()), "check", "--isolated", "--no-cache", "--exit-zero",
         "--output-format", "json", "--select", RUFF_SELECT, *paths],
        capture_output=True, text=True, cwd=root, check=False,
    )  # fmt: skip
    findings = []
    for diagnostic in json.loads(completed.stdout or "[]"):
        code = diagnostic.get("code")
        if not code:
            continue
        findings.append(
            {
                "path": os.path.relpath(diagnostic["filename"], root),
                "line": diagnostic["location"]["row"],
                "end_line": None,
                "category": _ruff_category(code),
                "severity": "medium",
                "rule": code,
                "cwe": None,
                "message": diagnostic.get("message", ""),
                "confidence": 0.7,
                "source": "baseline:ruff",
            }
        )
    return findings


def scan(tool: str, repo: str, base: str, head: str) -> dict:
    paths = changed_python_files(repo, base, head)
    if not paths:
        return {"findings": []}
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        root = Path(tmp)
        export(repo, head, paths, root)
        findings = scan_bandit(root, paths) if tool == "bandit" else scan_ruff(root, paths)
    return {"findings": findings}


def compare(cases: str, jobs: int) -> None:
    here = Path(__file__).resolve()
    python = sys.executable
    lines = {}
    for tool in ("bandit", "ruff"):
        command = (
            f"{shlex.quote(python)} {shlex.quote(str(here))} scan --tool {tool} "
            "--repo {repo} --base {base} --head {head}"
        )
        completed = subprocess.run(
            [python, str(SCORE), "--cases", cases, "--cmd", command, "--jobs", str(jobs),
             "--quiet"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        lines[tool] = completed.stdout.strip().splitlines()[-1]
    reviewer = Path(python).parent / "reviewer"
    completed = subprocess.run(
        [str(reviewer), "eval", cases, "--jobs", str(jobs), "-q"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines["reviewer"] = completed.stdout.strip().splitlines()[-1]
    width = max(map(len, lines))
    for name, line in lines.items():
        print(f"{name:<{width}} : {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    one = sub.add_parser("scan", help="run one tool on one PR and print the JSON contract")
    one.add_argument("--tool", choices=("bandit", "ruff"), required=True)
    one.add_argument("--repo", required=True)
    one.add_argument("--base", required=True)
    one.add_argument("--head", required=True)
    both = sub.add_parser("compare", help="score both tools and reviewer on a corpus")
    both.add_argument("--cases", required=True)
    both.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.mode == "scan":
        json.dump(scan(args.tool, args.repo, args.base, args.head), sys.stdout)
        print()
    else:
        compare(args.cases, args.jobs)


if __name__ == "__main__":
    main()

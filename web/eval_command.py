"""The ``reviewer eval CASES_DIR`` command: run the agents on a labelled corpus and score them.

Each case is ``CASES_DIR/<case_id>/repo`` (a git repository) beside ``truth.json`` (the
labels and the base and head SHAs), as ``shared/eval/materialize.py`` writes them. The four
agents run directly on a snapshot of each case, their results merged the way the review is
(``merge_findings``): this measures the agents, without the Celery canvas, the database or the
similarity cache. Cases run in a process pool because the analyzers are CPU-bound.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from reviewer.evaluation import (
    CATEGORIES,
    CaseTruth,
    Counts,
    ScoredFinding,
    filter_on_changed,
    format_report,
    judge_case,
    parse_added_lines,
    summarise,
)
from reviewer.payloads import AgentResult

EXIT_OK, EXIT_USAGE = 0, 2
MEASURED = (
    "the four agents called directly on each case's snapshot and merged with merge_findings "
    "(static analyzers; no Celery canvas, LLM pass or similarity cache)"
)

# Runs the agents on one case: (repository, base SHA, head SHA) -> one result per agent.
# Must be a module-level function when jobs > 1 (it is pickled to the worker processes).
Runner = Callable[[Path, str, str], Sequence[AgentResult]]


class CasesDirError(Exception):
    """CASES_DIR is missing, holds no case, or holds a case that cannot be read."""


@dataclass(frozen=True)
class EvalCase:
    """One case on disk: its directory (``repo/`` inside) and its truth."""

    case_dir: Path
    truth: CaseTruth

    @property
    def case_id(self) -> str:
        return self.truth.case_id

    @property
    def repo(self) -> Path:
        return self.case_dir / "repo"


class CaseRun(BaseModel):
    """What a worker sends back for one case: plain data, cheap to pickle."""

    case_id: str
    findings: list[dict] = []
    changed: dict[str, list[int]] = {}
    agents: dict[str, dict] = {}
    error: str | None = None
    seconds: float = 0.0


# ---- running ---------------------------------------------------------------------------------


def agents_runner(repo: Path, base: str, head: str) -> list[AgentResult]:
    """The real thing: a git snapshot, then every registered agent on it."""
    from reviewer.adapters.local_source import snapshot_from_git
    from reviewer.agents.registry import run_agent
    from reviewer.payloads import AGENT_NAMES

    snapshot = snapshot_from_git(repo, base, head)
    return [run_agent(name, snapshot) for name in AGENT_NAMES]


def load_cases(root: Path, *, only: str | None = None, limit: int | None = None) -> list[EvalCase]:
    """Every ``<case>/truth.json`` + ``<case>/repo`` under ``root``, sorted by directory name."""
    if not root.is_dir():
        raise CasesDirError(f"{root} is not a directory")
    cases = []
    for case_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        truth_file = case_dir / "truth.json"
        if not truth_file.is_file() or not (case_dir / "repo").is_dir():
            continue
        if only and only not in case_dir.name:
            continue
        try:
            data = json.loads(truth_file.read_text(encoding="utf-8"))
            data.setdefault("case_id", case_dir.name)
            truth = CaseTruth.model_validate(data)
        except (OSError, ValueError, ValidationError) as exc:
            raise CasesDirError(f"{truth_file} is not a valid truth file: {exc}") from exc
        cases.append(EvalCase(case_dir=case_dir, truth=truth))
        if limit is not None and len(cases) >= limit:
            break
    if not cases:
        detail = f" matching {only!r}" if only else ""
        raise CasesDirError(
            f"no cases{detail} under {root} (expected <case>/truth.json beside <case>/repo/; "
            "make them with shared/eval/materialize.py --out DIR)"
        )
    return cases


def git_added_lines(repo: Path, base: str, head: str) -> dict[str, frozenset[int]]:
    """The head-side lines ``git diff base head`` adds, per file (renames as delete + add)."""
    proc = subprocess.run(
        [
            "git", "-c", "core.quotepath=false", "-C", str(repo), "diff", "-U0", "--no-color",
            "--no-renames", "--no-ext-diff", "--no-textconv", "--src-prefix=a/",
            "--dst-prefix=b/", base, head, "--",
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip
    return parse_added_lines(proc.stdout.decode("utf-8", "replace"))


def run_case(case: EvalCase, runner: Runner) -> CaseRun:
    """Run the agents on one case and collect what scoring needs; never raises."""
    from reviewer.merge import merge_findings

    started = time.perf_counter()
    run = CaseRun(case_id=case.case_id)
    try:
        changed = git_added_lines(case.repo, case.truth.base, case.truth.head)
        run.changed = {path: sorted(lines) for path, lines in changed.items()}
        results = list(runner(case.repo, case.truth.base, case.truth.head))
        run.findings = [f.model_dump(mode="json") for f in merge_findings(results)]
        run.agents = {
            r.agent: {
                "status": str(r.status),
                "findings": len(r.findings),
                "duration_s": round(r.duration_s, 3),
                "error": r.error,
            }
            for r in results
        }
    except Exception as exc:  # noqa: BLE001 - one broken case must not stop the corpus
        run.error = f"{type(exc).__name__}: {exc}"
    run.seconds = round(time.perf_counter() - started, 3)
    return run


def evaluate(
    cases: Sequence[EvalCase],
    *,
    runner: Runner = agents_runner,
    jobs: int = 1,
    on_done: Callable[[EvalCase, CaseRun], None] | None = None,
) -> list[CaseRun]:
    """Run every case (in ``jobs`` processes when above 1); results in the order of ``cases``."""
    runs: dict[str, CaseRun] = {}

    def done(case: EvalCase, run: CaseRun) -> None:
        runs[case.case_id] = run
        if on_done is not None:
            on_done(case, run)

    if jobs <= 1:
        for case in cases:
            done(case, run_case(case, runner))
    else:
        pool = cf.ProcessPoolExecutor(max_workers=jobs)
        try:
            futures = {pool.submit(run_case, case, runner): case for case in cases}
            for future in cf.as_completed(futures):
                done(futures[future], future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return [runs[case.case_id] for case in cases]


# ---- scoring ---------------------------------------------------------------------------------


@dataclass
class Scored:
    """Counts per category, one row per case, and how many findings there were."""

    per_category: dict[str, Counts]
    rows: list[dict]
    findings_total: int
    findings_on_diff: int


def score_runs(cases: Sequence[EvalCase], runs: Sequence[CaseRun]) -> Scored:
    per_category: dict[str, Counts] = {}
    rows, total, on_diff = [], 0, 0
    for case, run in zip(cases, runs, strict=True):
        findings = [ScoredFinding.from_json(item) for item in run.findings]
        kept = filter_on_changed(findings, {p: frozenset(ls) for p, ls in run.changed.items()})
        kept = [f for f in kept if f.category in CATEGORIES]
        total += len(findings)
        on_diff += len(kept)
        counts = judge_case(case.truth, kept).counts
        per_category.setdefault(case.truth.category, Counts())
        per_category[case.truth.category] += counts
        rows.append(
            {
                "case_id": case.case_id,
                "corpus": case.truth.corpus,
                "category": case.truth.category,
                "polarity": case.truth.polarity,
                "error": run.error,
                "seconds": run.seconds,
                "findings_on_diff": len(kept),
                **counts.as_dict(),
                "failed_agents": sorted(
                    name for name, a in run.agents.items() if a["status"] != "ok"
                ),
            }
        )
    return Scored(per_category, rows, total, on_diff)


def per_case_line(row: dict) -> str:
    text = (
        f"{row['case_id']:48s} {row['category']:12s} {row['polarity']:3s} "
        f"TP {row['tp']:3d} FN {row['fn']:3d} FP {row['fp']:3d} dup {row['dup']:3d} "
        f"unjudged {row['unjudged']:3d}  {row['seconds']:6.2f}s"
    )
    if row["error"]:
        text += f"  ERROR {row['error'][:120]}"
    elif row["failed_agents"]:
        text += f"  failed agents: {', '.join(row['failed_agents'])}"
    return text


# ---- the command -----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``eval`` on the ``reviewer`` command's subparsers."""
    parser = subparsers.add_parser(
        "eval",
        help="precision/recall of the agents on a labelled corpus",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("cases_dir", type=Path, metavar="CASES_DIR")
    parser.add_argument(
        "--jobs", type=_positive_int, default=os.cpu_count() or 1, help="worker processes"
    )
    parser.add_argument("--only", metavar="SUBSTRING", help="only case ids containing this")
    parser.add_argument("--limit", type=_positive_int, help="only the first N cases (sorted)")
    parser.add_argument(
        "--no-llm", action="store_true", help="static analysis only (all eval measures today)"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the JSON summary here")
    parser.add_argument("--per-case", action="store_true", help="print one line per case")
    parser.add_argument(
        "--save-raw", type=Path, metavar="DIR", help="write each case's findings to DIR/<case>.json"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    return parser


def _cpu_seconds() -> float:
    """CPU used by this process and its reaped children (the pool's workers, ruff, git)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_eval(args, settings=None, *, runner: Runner = agents_runner) -> int:
    """Run ``reviewer eval``; 0 when the corpus was scored, 2 when CASES_DIR is unusable."""
    try:
        cases = load_cases(args.cases_dir, only=args.only, limit=args.limit)
    except CasesDirError as exc:
        print(f"reviewer eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.save_raw is not None:
        args.save_raw.mkdir(parents=True, exist_ok=True)
    jobs = min(args.jobs, len(cases))
    progress = _progress(len(cases), quiet=args.quiet, save_raw=args.save_raw)

    wall_start, cpu_start = time.perf_counter(), _cpu_seconds()
    runs = evaluate(cases, runner=runner, jobs=jobs, on_done=progress)
    wall, cpu = time.perf_counter() - wall_start, _cpu_seconds() - cpu_start

    scored = score_runs(cases, runs)
    summary = summarise(scored.per_category)
    errors = [{"case_id": r["case_id"], "error": r["error"]} for r in scored.rows if r["error"]]
    agent_failures = sum(len(r["failed_agents"]) for r in scored.rows)
    llm_note = ""
    if settings is not None and getattr(settings, "llm_enabled", False) and not args.no_llm:
        llm_note = " (an LLM is configured, but eval does not run the LLM pass yet)"

    if args.out is not None:
        document = {
            "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cases_dir": str(args.cases_dir.resolve()),
            "measured": MEASURED,
            "cases": len(cases),
            "jobs": jobs,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "errors": errors,
            "agent_failures": agent_failures,
            "findings_total": scored.findings_total,
            "findings_on_diff": scored.findings_on_diff,
            "main": summary.model_dump(mode="json"),
            "per_case": scored.rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=1), encoding="utf-8")

    if args.per_case:
        for row in scored.rows:
            print(per_case_line(row))
        print()
    header = [
        f"reviewer eval: {len(cases)} case(s) from {args.cases_dir}, {jobs} job(s)",
        f"measured: {MEASURED}{llm_note}",
        (
            f"cases {len(cases)}  errors {len(errors)}  agent failures {agent_failures}  "
            f"findings {scored.findings_total} (on the diff: {scored.findings_on_diff})"
        ),
        f"time: wall {wall:.1f}s  CPU {cpu:.1f}s",
    ]
    if errors:
        header.append(
            f"{len(errors)} case(s) failed, e.g. "
            + "; ".join(f"{e['case_id']}: {e['error'][:120]}" for e in errors[:3])
        )
    print(format_report(summary, header))
    return EXIT_OK


def _progress(total: int, *, quiet: bool, save_raw: Path | None):
    """Called as each case finishes: saves its raw findings, and says how far along we are."""
    step = max(1, total // 20)
    finished = 0
    started = time.perf_counter()

    def on_done(case: EvalCase, run: CaseRun) -> None:
        nonlocal finished
        finished += 1
        if save_raw is not None:
            _save_raw(save_raw, run)
        if not quiet and (finished % step == 0 or finished == total):
            print(
                f"[{time.perf_counter() - started:6.1f}s] {finished}/{total} case(s)",
                file=sys.stderr,
                flush=True,
            )

    return on_done


def _save_raw(directory: Path, run: CaseRun) -> None:
    """``{"findings": [...]}`` as ``reviewer review --format json`` prints it (score.py reads it)."""
    document: dict = {"findings": run.findings, "agents": run.agents}
    if run.error:
        document["error"] = run.error
    (directory / f"{run.case_id}.json").write_text(json.dumps(document, indent=1), encoding="utf-8")

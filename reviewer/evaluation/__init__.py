"""Scoring review findings against a labelled corpus of pull requests (``reviewer eval``).

Pure: the caller reads ``truth.json`` files, runs the agents and computes each case's changed
lines; this package judges findings, aggregates counts and formats the report.
"""

from reviewer.evaluation.report import (
    CategoryMetrics,
    EvalSummary,
    format_report,
    summarise,
    summary_line,
)
from reviewer.evaluation.scoring import (
    CaseScore,
    Counts,
    ScoredFinding,
    Verdict,
    filter_on_changed,
    judge_case,
    parse_added_lines,
)
from reviewer.evaluation.truth import CATEGORIES, CaseTruth, CleanLine, Label

__all__ = [
    "CATEGORIES",
    "CaseScore",
    "CaseTruth",
    "CategoryMetrics",
    "CleanLine",
    "Counts",
    "EvalSummary",
    "Label",
    "ScoredFinding",
    "Verdict",
    "filter_on_changed",
    "format_report",
    "judge_case",
    "parse_added_lines",
    "summarise",
    "summary_line",
]

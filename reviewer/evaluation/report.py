"""Recall, precision and F1 from judged cases, and the report ``reviewer eval`` prints."""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydantic import BaseModel

from reviewer.evaluation.scoring import Counts
from reviewer.evaluation.truth import CATEGORIES


class CategoryMetrics(BaseModel):
    """Counts and rates for one category (or all of them, micro-averaged)."""

    labels: int
    tp: int
    fn: int
    fp: int
    dup: int
    unjudged: int
    recall: float | None
    precision: float | None
    f1: float | None
    recall_ci: tuple[float, float] | None
    precision_ci: tuple[float, float] | None

    @classmethod
    def from_counts(cls, counts: Counts) -> CategoryMetrics:
        recall = _ratio(counts.tp, counts.tp + counts.fn)
        precision = _ratio(counts.tp, counts.tp + counts.fp)
        return cls(
            labels=counts.labels,
            tp=counts.tp,
            fn=counts.fn,
            fp=counts.fp,
            dup=counts.dup,
            unjudged=counts.unjudged,
            recall=recall,
            precision=precision,
            f1=f1_score(recall, precision),
            recall_ci=wilson_interval(counts.tp, counts.tp + counts.fn),
            precision_ci=wilson_interval(counts.tp, counts.tp + counts.fp),
        )


class EvalSummary(BaseModel):
    """Per-category metrics (only categories that have cases), micro overall and macro F1."""

    per_category: dict[str, CategoryMetrics]
    overall_micro: CategoryMetrics | None
    macro_f1: float | None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def f1_score(recall: float | None, precision: float | None) -> float | None:
    """Harmonic mean; None when either side is unmeasured, 0 when both are zero."""
    if recall is None or precision is None:
        return None
    total = recall + precision
    return 2 * recall * precision / total if total else 0.0


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval (95 % by default): honest for small counts and rates near 0/1."""
    if trials == 0:
        return None
    rate = successes / trials
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return (round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3))


def summarise(per_category_counts: dict[str, Counts]) -> EvalSummary:
    """Metrics for each category present, micro-averaged overall, and the mean of the F1s."""
    per_category = {
        name: CategoryMetrics.from_counts(per_category_counts[name])
        for name in CATEGORIES
        if name in per_category_counts
    }
    total = Counts()
    for name in per_category:
        total += per_category_counts[name]
    f1s = [m.f1 for m in per_category.values() if m.f1 is not None]
    return EvalSummary(
        per_category=per_category,
        overall_micro=CategoryMetrics.from_counts(total) if per_category else None,
        macro_f1=sum(f1s) / len(f1s) if f1s else None,
    )


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def summary_line(summary: EvalSummary) -> str:
    """``security R=0.41 P=0.77 | ... | overall F1=0.50``: the corpus README's one-line format."""
    parts = [
        f"{name} R={fmt(m.recall)} P={fmt(m.precision)}" for name, m in summary.per_category.items()
    ]
    overall = summary.overall_micro
    parts.append(f"overall F1={fmt(overall.f1 if overall else None)}")
    return " | ".join(parts)


def _ci(interval: tuple[float, float] | None) -> str:
    return "-" if interval is None else f"[{interval[0]:.2f}, {interval[1]:.2f}]"


def format_table(summary: EvalSummary) -> Iterable[str]:
    """One row per category and one for the micro-averaged total (plus macro F1)."""
    yield (
        f"{'category':13s} {'labels':>6s} {'TP':>5s} {'FN':>5s} {'FP':>5s} {'dup':>5s} "
        f"{'unjdg':>5s}  {'recall':>6s} {'[95% CI]':>12s} {'prec':>6s} {'[95% CI]':>12s} "
        f"{'F1':>5s}"
    )
    rows = list(summary.per_category.items())
    if summary.overall_micro is not None:
        rows.append(("overall", summary.overall_micro))
    for name, m in rows:
        line = (
            f"{name:13s} {m.labels:6d} {m.tp:5d} {m.fn:5d} {m.fp:5d} {m.dup:5d} "
            f"{m.unjudged:5d}  {fmt(m.recall):>6s} {_ci(m.recall_ci):>12s} "
            f"{fmt(m.precision):>6s} {_ci(m.precision_ci):>12s} {fmt(m.f1):>5s}"
        )
        if name == "overall":
            line += f"   micro-F1 {fmt(m.f1)}  macro-F1 {fmt(summary.macro_f1)}"
        yield line


def format_report(summary: EvalSummary, header: Iterable[str] = ()) -> str:
    """Header lines, the table, then the one-line summary as the last line."""
    return "\n".join([*header, "", *format_table(summary), "", summary_line(summary)])

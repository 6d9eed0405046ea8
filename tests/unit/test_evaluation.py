"""The evaluation matching rule and metrics, on small made-up cases."""

from __future__ import annotations

import pytest

from reviewer.evaluation import (
    CaseTruth,
    Counts,
    ScoredFinding,
    Verdict,
    filter_on_changed,
    format_report,
    judge_case,
    parse_added_lines,
    summarise,
    summary_line,
)
from reviewer.evaluation.report import f1_score, wilson_interval

PATH = "app/views.py"


def truth(**overrides) -> CaseTruth:
    values = {
        "case_id": "made-up",
        "category": "security",
        "polarity": "pos",
        "whole_file_truth": False,
        "labels": [],
        "negatives": [],
        "base": "a" * 40,
        "head": "b" * 40,
    }
    values.update(overrides)
    return CaseTruth.model_validate(values)


def finding(line: int, *, category: str = "security", path: str = PATH, end_line=None):
    return ScoredFinding(path=path, line=line, end_line=end_line, category=category)


def verdicts(case: CaseTruth, findings) -> list[Verdict]:
    return [v for _, v in judge_case(case, findings).verdicts]


# ---- true positives --------------------------------------------------------------------------


@pytest.mark.parametrize("line", [7, 10, 13])
def test_a_finding_within_three_lines_of_a_line_label_is_a_true_positive(line):
    case = truth(labels=[{"path": PATH, "line": 10}])
    score = judge_case(case, [finding(line)])
    assert (score.counts.tp, score.counts.fn) == (1, 0)


@pytest.mark.parametrize("line", [6, 14])
def test_a_finding_four_lines_away_misses_the_label(line):
    case = truth(labels=[{"path": PATH, "line": 10}])
    score = judge_case(case, [finding(line)])
    assert (score.counts.tp, score.counts.fn, score.counts.unjudged) == (0, 1, 1)


def test_a_finding_on_another_path_or_of_another_category_does_not_match():
    case = truth(labels=[{"path": PATH, "line": 10}])
    score = judge_case(case, [finding(10, path="app/other.py"), finding(10, category="quality")])
    assert score.counts.tp == 0
    assert score.counts.other_category == 1
    assert verdicts(case, [finding(10, path="app/other.py")]) == [Verdict.UNJUDGED]


@pytest.mark.parametrize(("line", "matched"), [(19, True), (20, True), (25, True), (31, True),
                                               (18, False), (32, False)])  # fmt: skip
def test_region_labels_have_a_tolerance_of_one_line(line, matched):
    case = truth(labels=[{"path": PATH, "line": 20, "end_line": 30, "tol": 1}])
    assert judge_case(case, [finding(line)]).counts.tp == int(matched)


def test_a_finding_span_overlapping_a_label_matches_at_distance_zero():
    case = truth(labels=[{"path": PATH, "line": 10}])
    near, spanning = finding(8), finding(5, end_line=12)
    # The spanning finding overlaps (distance 0) and wins over the one two lines away.
    assert verdicts(case, [near, spanning]) == [Verdict.DUPLICATE, Verdict.TP]


# ---- greedy matching and duplicates ----------------------------------------------------------


def test_two_findings_and_one_label_match_the_nearest_and_the_other_is_a_duplicate():
    case = truth(labels=[{"path": PATH, "line": 10}], whole_file_truth=True)
    score = judge_case(case, [finding(12), finding(11)])
    assert [v for _, v in score.verdicts] == [Verdict.DUPLICATE, Verdict.TP]
    # A duplicate is neither TP nor FP, even where the truth is exhaustive.
    assert (score.counts.tp, score.counts.fp, score.counts.dup) == (1, 0, 1)


def test_greedy_matching_is_nearest_first_over_all_pairs():
    # Finding at 12 is 2 from label 10 and 1 from label 13; taking the nearest pair first gives
    # (12, 13), and then the finding at 9 is left for label 10: two TPs.
    case = truth(labels=[{"path": PATH, "line": 10}, {"path": PATH, "line": 13}])
    score = judge_case(case, [finding(12), finding(9)])
    assert (score.counts.tp, score.counts.fn) == (2, 0)


def test_each_label_takes_at_most_one_finding_and_each_finding_one_label():
    case = truth(labels=[{"path": PATH, "line": 10}, {"path": PATH, "line": 11}])
    score = judge_case(case, [finding(10)])
    assert (score.counts.tp, score.counts.fn) == (1, 1)


# ---- false positives and unjudged findings ---------------------------------------------------


@pytest.mark.parametrize(("line", "expected"), [(19, Verdict.FP), (20, Verdict.FP),
                                                (21, Verdict.FP), (22, Verdict.UNJUDGED)])  # fmt: skip
def test_a_finding_within_one_line_of_a_known_clean_line_is_a_false_positive(line, expected):
    case = truth(labels=[{"path": PATH, "line": 5}], negatives=[{"path": PATH, "line": 20}])
    assert verdicts(case, [finding(line)]) == [expected]


def test_every_finding_of_the_category_in_a_negative_case_is_a_false_positive():
    case = truth(polarity="neg")
    score = judge_case(case, [finding(3), finding(40), finding(3, category="quality")])
    assert (score.counts.fp, score.counts.unjudged, score.counts.other_category) == (2, 0, 1)


def test_unmatched_findings_are_false_positives_when_the_truth_is_exhaustive():
    case = truth(labels=[{"path": PATH, "line": 10}], whole_file_truth=True)
    assert verdicts(case, [finding(10), finding(30)]) == [Verdict.TP, Verdict.FP]


def test_unmatched_findings_are_unjudged_when_the_truth_is_not_exhaustive():
    case = truth(labels=[{"path": PATH, "line": 10}])
    score = judge_case(case, [finding(30), finding(10, category="performance")])
    assert score.counts.as_dict() == {
        "tp": 0, "fn": 1, "fp": 0, "dup": 0, "unjudged": 1, "other_category": 1,
    }  # fmt: skip


def test_findings_of_other_categories_are_never_false_positives():
    case = truth(polarity="neg", negatives=[{"path": PATH, "line": 4}])
    score = judge_case(case, [finding(4, category="quality")])
    assert score.counts.fp == 0 and score.verdicts == []


def test_strict_variant_caps_every_tolerance():
    case = truth(labels=[{"path": PATH, "line": 10}])
    assert judge_case(case, [finding(13)], max_tolerance=1).counts.tp == 0
    assert judge_case(case, [finding(11)], max_tolerance=1).counts.tp == 1


# ---- changed lines ---------------------------------------------------------------------------

DIFF = """\
diff --git a/app/views.py b/app/views.py
index 1111111..2222222 100644
--- a/app/views.py
+++ b/app/views.py
@@ -3 +3 @@ def a():
-    x = 1
+    x = 2
@@ -10,0 +11,3 @@ def b():
+++ looks like a header but is an added line
+    y = 2
+    z = 3
@@ -20,2 +23,0 @@ def c():
-    gone = 1
-    gone = 2
diff --git a/app/gone.py b/app/gone.py
deleted file mode 100644
--- a/app/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-x = 1
diff --git a/app/new.py b/app/new.py
new file mode 100644
--- /dev/null
+++ b/app/new.py
@@ -0,0 +1,2 @@
+a = 1
+b = 2
"""


def test_added_lines_come_from_the_head_side_of_each_hunk():
    assert parse_added_lines(DIFF) == {
        "app/views.py": frozenset({3, 11, 12, 13}),
        "app/new.py": frozenset({1, 2}),
    }


def test_findings_on_unchanged_lines_are_ignored():
    changed = parse_added_lines(DIFF)
    kept = filter_on_changed(
        [finding(3), finding(4), finding(9, end_line=11), finding(1, path="app/gone.py"),
         finding(2, path="app/new.py"), finding(1, path="app/unchanged.py")],
        changed,
    )  # fmt: skip
    assert [(f.path, f.line) for f in kept] == [
        ("app/views.py", 3), ("app/views.py", 9), ("app/new.py", 2),
    ]  # fmt: skip


def test_a_huge_span_counts_by_its_first_line_only():
    changed = {PATH: frozenset({600})}
    assert filter_on_changed([finding(1, end_line=700)], changed) == []
    assert filter_on_changed([finding(590, end_line=610)], changed) != []


def test_a_finding_is_read_from_its_json_form():
    item = {"path": "./app/x.py", "line": "7", "end_line": None, "category": "Security ",
            "cwe": "CWE-89", "message": "ignored"}  # fmt: skip
    assert ScoredFinding.from_json(item) == ScoredFinding(
        path="app/x.py", line=7, category="security", cwe="CWE-89"
    )


# ---- metrics and the report ------------------------------------------------------------------


def test_metrics_per_category_micro_and_macro():
    summary = summarise(
        {
            "security": Counts(tp=3, fn=1, fp=1, unjudged=5),
            "quality": Counts(tp=1, fn=3, fp=0),
        }
    )
    sec, qual = summary.per_category["security"], summary.per_category["quality"]
    assert list(summary.per_category) == ["security", "quality"]  # the fixed category order
    assert (sec.recall, sec.precision, sec.f1) == (0.75, 0.75, 0.75)
    assert (qual.recall, qual.precision) == (0.25, 1.0)
    assert qual.f1 == pytest.approx(0.4)
    micro = summary.overall_micro
    assert (micro.tp, micro.fn, micro.fp, micro.unjudged) == (4, 4, 1, 5)
    assert micro.f1 == pytest.approx(2 * 0.5 * 0.8 / 1.3)
    assert summary.macro_f1 == pytest.approx((0.75 + 0.4) / 2)


def test_summary_line_has_the_corpus_format_with_na_for_unmeasured_precision():
    summary = summarise(
        {
            "security": Counts(tp=41, fn=59, fp=12),
            "performance": Counts(tp=0, fn=10, fp=0),
            "architecture": Counts(tp=0, fn=0, fp=0),
        }
    )
    assert summary_line(summary) == (
        "security R=0.41 P=0.77 | performance R=0.00 P=n/a | architecture R=n/a P=n/a"
        " | overall F1=0.50"  # micro: R 41/110, P 41/53
    )
    assert format_report(summary, ["header"]).splitlines()[-1] == summary_line(summary)
    assert format_report(summary).splitlines()[0] == ""


def test_f1_is_none_when_unmeasured_and_zero_when_both_rates_are_zero():
    assert f1_score(None, 0.5) is None
    assert f1_score(0.0, 0.0) == 0.0


def test_wilson_interval_brackets_the_rate_and_stays_in_bounds():
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(8, 10)
    assert low < 0.8 < high
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 10)[0] == 0.0

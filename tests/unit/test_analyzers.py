"""Unit tests of the static analyzers: each finds a real problem and survives bad input."""

from __future__ import annotations

import difflib

import pytest

from reviewer.analyzers.bandit_scan import BanditAnalyzer, calibrate
from reviewer.analyzers.base import SourceFile
from reviewer.analyzers.import_rules import ImportRulesAnalyzer
from reviewer.analyzers.intake import intake, parse_module
from reviewer.analyzers.radon_complexity import RadonAnalyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.analyzers.ruff_check import suggestion_from_fix
from reviewer.diff import DiffError, parse_file_patch
from reviewer.findings import Severity
from reviewer.payloads import SkipNote
from reviewer.snapshot import ChangedFile, FileStatus


def github_patch(old: str, new: str) -> str:
    """GitHub's per-file patch format: unified diff hunks without the ---/+++ header."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++")))


def source(text: str, changed: set[int] | None = None, path: str = "app/mod.py") -> SourceFile:
    if changed is None:
        changed = set(range(1, text.count("\n") + 2))
    prepared = intake(
        ChangedFile(path=path, status=FileStatus.ADDED, head_content=text),
    )
    assert isinstance(prepared, SourceFile), prepared
    return SourceFile(path, text, frozenset(changed), prepared.tree)


# --- changed lines -------------------------------------------------------------------------


def added_lines(patch: str) -> set[int]:
    return parse_file_patch("f.py", patch).added_lines


def test_added_lines_are_head_side_numbers_of_plus_lines():
    old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
    new = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\n"
    assert added_lines(github_patch(old, new)) == {2, 11}


def test_added_lines_handle_no_newline_marker_and_header_like_content():
    patch = "@@ -1,2 +1,2 @@\n a\n--- x\n+++ y\n\\ No newline at end of file"
    assert added_lines(patch) == {2}
    assert added_lines("") == set()


def test_malformed_patch_is_an_error_not_a_crash():
    with pytest.raises(DiffError):
        added_lines("@@ -1,5 +1,5 @@\n+only one line\n")


# --- intake: what is never handed to an engine ----------------------------------------------


def changed_file(text: str | None, **extra) -> ChangedFile:
    return ChangedFile(path="app/x.py", status=FileStatus.ADDED, head_content=text, **extra)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("def f(:\n    pass\n", "syntax error at line 1"),
        ("x = 1\n\n\nif True\n    y = 2\n", "syntax error at line 4"),
        ("print('a')\x00\x01\x02", "binary content"),
        (b"x = '\xff\xfe'\n".decode("utf-8", "surrogateescape"), "not valid UTF-8"),
        ("x = 1\n" * 350_000, "file too large"),
        ("x = [" + "1, " * 2000 + "]\n", "minified"),
    ],
)
def test_unanalysable_files_become_skip_notes(text, reason):
    note = intake(changed_file(text))
    assert isinstance(note, SkipNote)
    assert note.path == "app/x.py"
    assert reason in note.reason


def test_skip_reason_from_prepare_and_missing_content_are_skip_notes():
    assert intake(changed_file("x = 1\n", skip_reason="binary file")) == SkipNote(
        path="app/x.py", reason="binary file"
    )
    assert isinstance(intake(changed_file(None)), SkipNote)


def test_removed_and_unchanged_files_need_no_note():
    assert (
        intake(ChangedFile(path="a.py", status=FileStatus.REMOVED, patch="@@ -1 +0,0 @@\n-x"))
        is None
    )
    renamed = ChangedFile(path="b.py", status=FileStatus.RENAMED, head_content="x = 1\n")
    assert intake(renamed) is None


def test_added_file_without_patch_counts_every_line_as_changed():
    prepared = intake(changed_file("a = 1\nb = 2\nc = 3\n"))
    assert isinstance(prepared, SourceFile)
    assert prepared.changed_lines == {1, 2, 3, 4}


PEP_701 = """\
def render(items: list[str], user: dict[str, str]) -> str:
    joined = f"{'\\n'.join(items)}"
    nested = f"{user["name"]} has {f"{len(items)} {"items"}"}"
    return f"{joined}{nested}"


type Pair[T] = tuple[T, T]
"""


def test_pep_701_f_strings_and_new_syntax_parse_and_analyse_cleanly():
    assert not isinstance(parse_module(PEP_701, "x.py"), str)
    prepared = source(PEP_701)
    for analyzer in ANALYZERS.values():
        output = analyzer.analyze_all([prepared])
        assert output.skipped == [], (analyzer.name, output.skipped)


# --- bandit ---------------------------------------------------------------------------------

SHELL = """\
import subprocess
from flask import request


def run_report():
    name = request.args["name"]
    return subprocess.call("report " + name, shell=True)
"""


def test_bandit_finds_shell_injection_with_cwe():
    output = BanditAnalyzer().analyze(source(SHELL))
    [finding] = [f for f in output.findings if "B602" in f.message]
    assert finding.line == 7
    assert finding.rule == "command-injection"
    assert finding.cwe == "CWE-78"
    assert finding.severity is Severity.HIGH
    assert finding.confidence == pytest.approx(0.9)
    assert finding.source == "static:bandit"


def test_bandit_noise_tests_are_excluded_and_nosec_is_honoured():
    text = "import subprocess\nassert 1 == 1\nsubprocess.call(c, shell=True)  # nosec\n"
    assert BanditAnalyzer().analyze(source(text)).findings == []


def test_bandit_scans_many_files_with_one_manager():
    files = [source(SHELL, path=f"app/m{i}.py") for i in range(3)]
    output = BanditAnalyzer().analyze_all(files)
    assert sorted({f.path for f in output.findings}) == ["app/m0.py", "app/m1.py", "app/m2.py"]


def test_bandit_calibration():
    assert calibrate("HIGH", "HIGH") == (Severity.HIGH, 0.9)
    assert calibrate("HIGH", "LOW") == (Severity.MEDIUM, 0.45)
    assert calibrate("LOW", "MEDIUM") == (Severity.LOW, 0.7)


# --- ruff -----------------------------------------------------------------------------------

UNUSED = """\
import json
import os


def home() -> str:
    return os.environ["HOME"]
"""


def test_ruff_finds_unused_import_with_a_deleting_suggestion():
    output = ANALYZERS["ruff"].analyze(source(UNUSED))
    [finding] = output.findings
    assert (finding.line, finding.rule, finding.source) == (1, "unused-import", "static:ruff")
    assert "F401" in finding.message
    assert finding.suggestion == ""  # delete the line


def test_ruff_quality_rules_find_behaviour_bugs_not_style():
    text = (
        "def add(item, bucket=[]):\n"
        "    try:\n"
        "        bucket.append(item)\n"
        "    except:\n"
        "        pass\n"
        "    x=1;y  =  2\n"
        "    return bucket\n"
    )
    rules = {f.rule for f in ANALYZERS["ruff"].analyze(source(text)).findings}
    assert {"mutable-argument-default", "bare-except"} <= rules
    assert not any(rule.startswith(("multiple-statements", "whitespace")) for rule in rules)


def test_ruff_performance_flags_blocking_sleep_in_async_code():
    text = "import time\n\n\nasync def poll():\n    time.sleep(1)\n"
    [finding] = ANALYZERS["ruff-performance"].analyze(source(text)).findings
    assert finding.line == 5
    assert "ASYNC251" in finding.message


def test_ruff_runs_once_for_many_files_and_maps_results_back():
    files = [source(UNUSED, path=f"pkg/{i}/__init__.py") for i in range(3)] + [
        source("x = 1\n", path="pkg/clean.py")
    ]
    output = ANALYZERS["ruff"].analyze_all(files)
    assert sorted(f.path for f in output.findings) == [
        "pkg/0/__init__.py",
        "pkg/1/__init__.py",
        "pkg/2/__init__.py",
    ]


def test_ruff_that_cannot_run_gives_skip_notes():
    from reviewer.analyzers.ruff_check import RuffAnalyzer
    from reviewer.analyzers.ruff_rules import QUALITY_RULES
    from reviewer.findings import Category

    broken = RuffAnalyzer(
        "ruff", category=Category.QUALITY, rules=QUALITY_RULES, binary="/nonexistent/ruff"
    )
    output = broken.analyze(source(UNUSED))
    assert output.findings == []
    assert output.skipped and "ruff could not run" in output.skipped[0].reason


def test_safe_fix_inside_the_lines_becomes_a_suggestion_and_others_do_not():
    text = "a = 1\nb = 2\nc = 3\n"
    inside = {
        "applicability": "safe",
        "edits": [
            {
                "content": "B",
                "location": {"row": 2, "column": 1},
                "end_location": {"row": 2, "column": 2},
            }
        ],
    }
    assert suggestion_from_fix(text, 2, 2, inside) == "B = 2"
    outside = {
        "applicability": "safe",
        "edits": [
            {
                "content": "",
                "location": {"row": 3, "column": 1},
                "end_location": {"row": 4, "column": 1},
            }
        ],
    }
    assert suggestion_from_fix(text, 2, 2, outside) is None
    assert suggestion_from_fix(text, 2, 2, {**inside, "applicability": "unsafe"}) is None


# --- radon ----------------------------------------------------------------------------------


def complex_function(branches: int) -> str:
    body = "".join(f"    if kind == {i}:\n        return {i}\n" for i in range(branches))
    return f"def dispatch(kind):\n{body}    return -1\n"


def test_radon_flags_a_complex_function_the_pr_touches():
    text = "import os\n\n\n" + complex_function(12)
    touched = source(text, changed={8})
    [finding] = RadonAnalyzer().analyze(touched).findings
    assert finding.rule == "high-complexity"
    assert finding.severity is Severity.MEDIUM
    assert (finding.line, finding.end_line) == (4, text.count("\n"))
    assert "13" in finding.message


def test_radon_is_high_above_twenty_and_silent_when_untouched():
    text = "import os\n\n\n" + complex_function(25)
    [finding] = RadonAnalyzer().analyze(source(text, changed={5, 6})).findings
    assert finding.severity is Severity.HIGH
    assert RadonAnalyzer().analyze(source(text, changed={1})).findings == []


def test_radon_flags_long_functions_and_methods():
    body = "".join(f"        x{i} = {i}\n" for i in range(70))
    text = f"class Service:\n    def build(self):\n{body}        return x0\n"
    [finding] = RadonAnalyzer().analyze(source(text)).findings
    assert finding.rule == "long-function"
    assert "Service.build" in finding.message


# --- imports --------------------------------------------------------------------------------


def test_imports_flags_banned_modules_including_submodules_and_from_imports():
    text = "import requests.adapters\nfrom app import legacy\nfrom . import legacy as l2\nimport json\n"
    analyzer = ImportRulesAnalyzer({"requests": "use app.http", "app.legacy": ""})
    findings = analyzer.analyze(source(text, path="app/views.py")).findings
    assert [(f.line, f.rule) for f in findings] == [
        (1, "banned-import"),
        (2, "banned-import"),
        (3, "banned-import"),
    ]
    assert "use app.http" in findings[0].message


def test_imports_flags_star_imports_but_not_in_package_init_and_is_quiet_otherwise():
    text = "from os.path import *\nimport json\nfrom .models import User\n"
    findings = ImportRulesAnalyzer().analyze(source(text)).findings
    assert [(f.line, f.rule) for f in findings] == [(1, "star-import")]
    assert ImportRulesAnalyzer().analyze(source(text, path="pkg/__init__.py")).findings == []


def test_imports_ignores_unchanged_lines():
    text = "from os.path import *\nimport json\n"
    assert ImportRulesAnalyzer({"json": ""}).analyze(source(text, changed={3})).findings == []

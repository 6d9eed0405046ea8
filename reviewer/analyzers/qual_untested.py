"""A PR-level note: the PR changes source code of a repository that has tests, but touches no test.

One low-confidence ``info`` finding per PR at most, because it is a question for the author
("is this covered?"), not a defect: refactors, logging and config tweaks legitimately change
code without tests. It is raised only when all of these hold, so it stays rare:

- the repository visibly has tests (``repo_files`` lists at least one test file; an empty
  list, e.g. a bare diff, means we cannot know and stay silent);
- the PR adds or changes lines in a non-test Python source file (not a migration, settings,
  ``setup.py``, ``conftest.py`` or a stub);
- the PR adds, changes or removes no test file at all.

It sits on the first changed line of the first changed source file, so it is posted inline
where the change starts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity

_TEST_DIR = re.compile(r"(^|/)(tests?|testing|__tests__|spec|specs)/")
_TEST_NAME = re.compile(
    r"(^test_.*\.py$|^.*_tests?\.py$|^conftest\.py$|\.(test|spec)\.[cm]?[jt]sx?$|_test\.go$)"
)
_NOT_SOURCE_DIR = re.compile(r"(^|/)(migrations|alembic/versions|docs?|examples?|scripts?)/")
_NOT_SOURCE_NAME = frozenset({"setup.py", "conftest.py", "settings.py", "manage.py", "noxfile.py"})


def is_test_path(path: str) -> bool:
    """Whether ``path`` is a test file by the usual conventions (pytest, unittest, jest, go)."""
    return bool(_TEST_DIR.search(path) or _TEST_NAME.search(PurePosixPath(path).name))


def is_checked_source(path: str) -> bool:
    """A Python module whose behaviour tests would be expected to cover."""
    pure = PurePosixPath(path)
    return (
        pure.suffix == ".py"
        and not is_test_path(path)
        and not _NOT_SOURCE_DIR.search(path)
        and pure.name not in _NOT_SOURCE_NAME
    )


class UntestedChangeAnalyzer(Analyzer):
    """Built per run from the snapshot; reports on the first changed source file it is given."""

    name = "untested-change"
    tool = "untested-change"

    def __init__(self, *, repo_has_tests: bool, pr_touches_tests: bool) -> None:
        self.active = repo_has_tests and not pr_touches_tests

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        return self.analyze_all([source])

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        if not self.active:
            return AnalyzerOutput()
        for source in sources:
            if is_checked_source(source.path) and source.changed_lines:
                line = min(source.changed_lines)
                return AnalyzerOutput(hits=[self._hit(source, line)])
        return AnalyzerOutput()

    def _hit(self, source: SourceFile, line: int) -> Hit:
        return Hit(
            Finding(
                path=source.path,
                line=line,
                category=Category.QUALITY,
                severity=Severity.INFO,
                rule="no-test-changed",
                message="This PR changes source code but no test, although the repository has "
                "tests. If the behaviour changed, add or update a test that would have caught a "
                "mistake here (this note is about the whole PR, not this line).",
                confidence=0.3,
                source=self.source,
            ),
            anchor="no-test-changed",
        )


def untested_change_analyzer(
    repo_files: Sequence[str], changed_paths: Sequence[str]
) -> UntestedChangeAnalyzer:
    return UntestedChangeAnalyzer(
        repo_has_tests=any(is_test_path(path) for path in repo_files),
        pr_touches_tests=any(is_test_path(path) for path in changed_paths),
    )

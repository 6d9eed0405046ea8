"""Quality and performance findings from ruff: one subprocess per agent run, for all files.

ruff has no Python API; the wheel bundles its binary (found with ``ruff.__main__``). Files
are written under a private temporary directory as ``<n>/<basename>`` (the basename matters
to some rules, e.g. ``__init__.py``; the index keeps PR-supplied paths from escaping it), and
ruff runs ``--isolated`` (no project config is read) with our own rule selection, the newest
target version (reviewed code uses current syntax) and a subprocess timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile, split_lines
from reviewer.analyzers.ruff_rules import RuleInfo, rule_info
from reviewer.findings import Category, Finding
from reviewer.payloads import SkipNote

TARGET_VERSION = "py314"
DEFAULT_TIMEOUT_S = 60.0


def ruff_binary() -> str:
    from ruff.__main__ import find_ruff_bin

    return os.fsdecode(find_ruff_bin())


class RuffAnalyzer(Analyzer):
    tool = "ruff"
    languages = frozenset({".py", ".pyi"})

    def __init__(
        self,
        name: str,
        *,
        category: Category,
        rules: dict[str, RuleInfo],
        ignore: Sequence[str] = (),
        binary: str | None = None,
    ) -> None:
        self.name = name
        self.category = category
        self.rules = rules
        self.ignore = tuple(ignore)
        self._binary = binary

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        return self.analyze_all([source])

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        if not sources:
            return AnalyzerOutput()
        timeout = DEFAULT_TIMEOUT_S if deadline is None else max(deadline - time.monotonic(), 0.1)
        with tempfile.TemporaryDirectory(prefix="reviewer-ruff-") as tmp:
            try:
                files = self._write(Path(tmp), sources)
                completed = subprocess.run(
                    self._command(list(files)),
                    capture_output=True,
                    timeout=timeout,
                    cwd=tmp,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return AnalyzerOutput(skipped=self.timed_out(sources))
            except OSError as exc:
                return self._all_skipped(sources, f"ruff could not run: {exc.strerror or exc}")
            if completed.returncode != 0:
                detail = completed.stderr.decode("utf-8", "replace").strip().splitlines()
                return self._all_skipped(
                    sources, f"ruff failed: {detail[-1] if detail else completed.returncode}"
                )
            try:
                diagnostics = json.loads(completed.stdout or b"[]")
            except ValueError:
                return self._all_skipped(sources, "ruff returned output we could not read")
        output = AnalyzerOutput()
        for diagnostic in diagnostics:
            source = files.get(os.path.realpath(diagnostic.get("filename", "")))
            hit = self._hit(source, diagnostic) if source is not None else None
            if hit is not None:
                output.hits.append(hit)
        return output

    def _command(self, paths: list[str]) -> list[str]:
        command = [
            self._binary or ruff_binary(),
            "check",
            "--output-format",
            "json",
            "--no-cache",
            "--isolated",
            "--exit-zero",
            "--quiet",
            "--target-version",
            TARGET_VERSION,
            "--select",
            ",".join(sorted(self.rules)),
        ]
        if self.ignore:
            command += ["--ignore", ",".join(self.ignore)]
        return [*command, "--", *paths]

    @staticmethod
    def _write(root: Path, sources: Sequence[SourceFile]) -> dict[str, SourceFile]:
        files: dict[str, SourceFile] = {}
        for index, source in enumerate(sources):
            directory = root / str(index)
            directory.mkdir()
            target = directory / (PurePosixPath(source.path).name or "file.py")
            target.write_bytes(source.text.encode("utf-8"))
            files[os.path.realpath(target)] = source
        return files

    def _all_skipped(self, sources: Sequence[SourceFile], reason: str) -> AnalyzerOutput:
        return AnalyzerOutput(skipped=[SkipNote(path=s.path, reason=reason) for s in sources])

    def _hit(self, source: SourceFile, diagnostic: dict) -> Hit | None:
        code = diagnostic.get("code")
        if not code:  # syntax errors carry no code; intake already vetted parsing
            return None
        start = diagnostic.get("location") or {}
        end = diagnostic.get("end_location") or start
        line = max(int(start.get("row", 1)), 1)
        end_line = max(int(end.get("row", line)), line)
        if end_line > line and int(end.get("column", 2)) == 1:
            end_line -= 1  # a range ending at the start of a line does not cover that line
        info = rule_info(self.rules, code)
        return Hit(
            Finding(
                path=source.path,
                line=line,
                end_line=end_line if end_line > line else None,
                category=self.category,
                severity=info.severity,
                rule=diagnostic.get("name") or code,
                cwe=info.cwe,
                message=f"{diagnostic.get('message', code)} (ruff {code})",
                confidence=info.confidence,
                suggestion=suggestion_from_fix(source.text, line, end_line, diagnostic.get("fix")),
                source=self.source,
            )
        )


def suggestion_from_fix(text: str, line: int, end_line: int, fix: dict | None) -> str | None:
    """The replacement for lines ``line..end_line`` after ruff's fix, if it is safe and local.

    Only fixes ruff marks "safe" and whose edits stay within those lines become suggestions:
    a suggestion replaces exactly the commented lines, nothing else.
    """
    if not fix or fix.get("applicability") != "safe" or not fix.get("edits"):
        return None
    lines = split_lines(text)
    starts = [0]
    for current in lines:
        starts.append(starts[-1] + len(current) + 1)  # +1 for the "\n" split_lines removed

    def offset(location: dict) -> int | None:
        row, column = int(location.get("row", 0)), int(location.get("column", 0))
        if row < 1 or column < 1 or row > len(lines) + 1:
            return None
        return min(starts[row - 1] + column - 1, len(text))

    if "\r" in text:
        return None  # CRLF columns do not map onto split_lines offsets; no suggestion
    region_start, region_end = starts[line - 1], min(starts[end_line], len(text))
    region = text[region_start:region_end]
    edits = []
    for edit in fix["edits"]:
        begin, finish = offset(edit.get("location", {})), offset(edit.get("end_location", {}))
        if begin is None or finish is None or begin < region_start or finish > region_end:
            return None
        edits.append((begin - region_start, finish - region_start, edit.get("content", "")))
    for begin, finish, content in sorted(edits, reverse=True):
        region = region[:begin] + content + region[finish:]
    return region.removesuffix("\n")

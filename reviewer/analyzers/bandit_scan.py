"""Security findings from bandit, run in-process on the text (no files, no subprocess).

bandit has no public "scan this string" call; ``BanditManager._parse_file`` takes any binary
file object and is what its own stdin mode uses, so we feed it a BytesIO. The manager (and
bandit's test set) is built once per ``analyze_all`` call, i.e. once per agent run.
``# nosec`` comments are honoured: they are the developer's documented decision.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Sequence

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import SkipNote

# Tests left out because on real code they are mostly noise, or belong to another agent:
# B101 assert (tests are full of them), B404/B403 "consider implications of importing
# subprocess/pickle" (the call sites are what matter and have their own tests), B603
# subprocess without shell (asks for a manual check of every call), B311 `random` (flags
# every non-crypto use), B110/B112 try-except-pass/continue (a quality matter, not security).
EXCLUDED_TESTS: frozenset[str] = frozenset({"B101", "B110", "B112", "B311", "B403", "B404", "B603"})

# Our rule names for bandit tests, shared with other tools where they mean the same thing
# (dedupe and the learning loop key on them). Unlisted tests use bandit's own test name.
RULE_NAMES: dict[str, str] = {
    "B102": "exec-use",
    "B103": "permissive-file-permissions",
    "B104": "bind-all-interfaces",
    "B105": "hardcoded-secret",
    "B106": "hardcoded-secret",
    "B107": "hardcoded-secret",
    "B108": "insecure-temp-file",
    "B113": "request-without-timeout",
    "B201": "debug-enabled",
    "B301": "unsafe-deserialization",
    "B302": "unsafe-deserialization",
    "B306": "insecure-temp-file",
    "B307": "eval-use",
    "B310": "url-open-scheme",
    "B324": "weak-hash",
    "B501": "tls-verification-disabled",
    "B502": "weak-tls",
    "B503": "weak-tls",
    "B504": "weak-tls",
    "B506": "unsafe-deserialization",
    "B507": "ssh-host-key-unverified",
    "B601": "command-injection",
    "B602": "command-injection",
    "B604": "command-injection",
    "B605": "command-injection",
    "B606": "command-injection",
    "B607": "partial-executable-path",
    "B608": "sql-injection",
    "B609": "command-injection",
    "B610": "sql-injection",
    "B611": "sql-injection",
    "B613": "bidi-trojan-source",
    "B614": "unsafe-deserialization",
    "B701": "xss-autoescape-off",
    "B702": "xss-autoescape-off",
    "B703": "xss",
}

_SEVERITY = {"HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}
# bandit's confidence levels as probabilities that the finding is real. HIGH is not 1.0:
# bandit matches patterns, it does not follow data.
_CONFIDENCE = {"HIGH": 0.9, "MEDIUM": 0.7, "LOW": 0.45}


def calibrate(severity: str, confidence: str) -> tuple[Severity, float]:
    """Our severity and confidence for a bandit (severity, confidence) pair.

    A severe pattern that bandit itself is unsure of (e.g. any string formatting that
    contains "SELECT") drops one severity step, so it does not outrank certain findings.
    """
    ours = _SEVERITY.get(severity.upper(), Severity.LOW)
    probability = _CONFIDENCE.get(confidence.upper(), 0.45)
    if confidence.upper() == "LOW" and ours is Severity.HIGH:
        ours = Severity.MEDIUM
    return ours, probability


class BanditAnalyzer(Analyzer):
    name = "bandit"
    tool = "bandit"

    def __init__(self, excluded_tests: frozenset[str] = EXCLUDED_TESTS) -> None:
        self.excluded_tests = excluded_tests

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        return self.analyze_all([source])

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        output = AnalyzerOutput()
        if not sources:
            return output
        manager = self._manager()
        for index, source in enumerate(sources):
            if deadline is not None and time.monotonic() > deadline:
                output.skipped.extend(self.timed_out(sources[index:]))
                break
            output.extend(self._scan(manager, source))
        return output

    def _manager(self):  # -> bandit.core.manager.BanditManager
        # Imported here: importing bandit loads its plugins (~0.1 s), which must not happen
        # when reviewer is merely imported.
        with warnings.catch_warnings():
            # stevedore (bandit's plugin loader) emits a DeprecationWarning on first import.
            warnings.simplefilter("ignore", DeprecationWarning)
            from bandit.core import config as bandit_config
            from bandit.core import manager as bandit_manager

        logging.getLogger("bandit").setLevel(logging.CRITICAL)
        profile = {"include": set(), "exclude": set(self.excluded_tests)}
        return bandit_manager.BanditManager(
            bandit_config.BanditConfig(), "file", quiet=True, profile=profile
        )

    def _scan(self, manager, source: SourceFile) -> AnalyzerOutput:
        manager.results = []
        manager.skipped = []
        data = source.text.encode("utf-8")
        manager._parse_file(source.path, io.BytesIO(data), [source.path])
        output = AnalyzerOutput()
        for path, reason in manager.get_skipped():
            output.skipped.append(SkipNote(path=source.path, reason=f"bandit: {reason}"))
        for issue in manager.results:
            if issue.test_id in self.excluded_tests:
                continue
            output.hits.append(Hit(self._finding(source, issue)))
        return output

    def _finding(self, source: SourceFile, issue) -> Finding:
        severity, confidence = calibrate(str(issue.severity), str(issue.confidence))
        lines = [n for n in (issue.linerange or [issue.lineno]) if isinstance(n, int) and n >= 1]
        first = min(lines, default=max(int(issue.lineno), 1))
        last = max(lines, default=first)
        cwe_id = getattr(getattr(issue, "cwe", None), "id", 0) or 0
        return Finding(
            path=source.path,
            line=first,
            end_line=last if last > first else None,
            category=Category.SECURITY,
            severity=severity,
            rule=RULE_NAMES.get(issue.test_id, str(issue.test).replace("_", "-")),
            cwe=f"CWE-{cwe_id}" if cwe_id else None,
            message=f"{issue.text} (bandit {issue.test_id})",
            confidence=confidence,
            source=self.source,
        )

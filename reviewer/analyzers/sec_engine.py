"""The security agent's engine: bandit plus the project's own rules, reconciled per file.

bandit matches patterns and cannot tell a constant from request data; the taint tracker can.
So bandit runs as before, but its findings on a line where the tracker proved that only
constant or sanitised data reaches the sink of the same family are dropped (the OWASP-style
"dead branch" and "overwritten variable" false alarms), and bandit tests that are mostly noise
on real code, or that our rules replace with a data-aware check, are left out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from reviewer.analyzers.bandit_scan import EXCLUDED_TESTS, BanditAnalyzer
from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.sec_audit import LanguageAuditAnalyzer
from reviewer.analyzers.sec_crypto import CryptoConfigAnalyzer
from reviewer.analyzers.sec_secrets import SecretsAnalyzer
from reviewer.analyzers.sec_sinks import FAMILY
from reviewer.analyzers.sec_taint import TaintAnalyzer, flow_finding, module_flows, safe_sink_lines
from reviewer.analyzers.sec_web import WebConfigAnalyzer

# B606/B607: any process start without a shell / with a bare program name (no data check);
# B313-B320, B405-B411: "XML parsing is unsafe", replaced by the XXE rule, which looks at the
# parser's configuration (the stdlib parsers do not resolve external entities by default).
# B413: "pycrypto is unmaintained" fires on every `from Crypto... import`, which is also the
# namespace of the maintained pycryptodome; weak ciphers and modes are flagged where they are
# used (sec_crypto), which is what a reviewer can act on.
BANDIT_EXCLUDED: frozenset[str] = EXCLUDED_TESTS | {
    "B413",
    "B606",
    "B607",
    "B313",
    "B314",
    "B315",
    "B316",
    "B317",
    "B318",
    "B319",
    "B320",
    "B405",
    "B406",
    "B407",
    "B408",
    "B409",
    "B410",
    "B411",
}

# bandit rule -> the sink family a proof of safety from the tracker covers.
BANDIT_FAMILY = {
    "sql-injection": "sql",
    "command-injection": "cmd",
    "exec-use": "code",
    "eval-use": "code",
    "unsafe-deserialization": "deser",
}


class SecurityEngine(Analyzer):
    """bandit + taint + crypto/config + secrets + web/language patterns; bandit gated by taint."""

    name = "security"
    tool = "reviewer-security"

    def __init__(self, bandit: BanditAnalyzer | None = None) -> None:
        self.bandit = bandit or BanditAnalyzer(excluded_tests=BANDIT_EXCLUDED)
        self.rules: list[Analyzer] = [
            CryptoConfigAnalyzer(),
            SecretsAnalyzer(),
            WebConfigAnalyzer(),
            LanguageAuditAnalyzer(),
        ]

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        return self.analyze_all([source])

    def analyze_all(
        self, sources: Sequence[SourceFile], *, deadline: float | None = None
    ) -> AnalyzerOutput:
        output = self.bandit.analyze_all(sources, deadline=deadline)
        by_path: dict[str, list[Hit]] = {}
        for hit in output.hits:
            by_path.setdefault(hit.finding.path, []).append(hit)
        result = AnalyzerOutput(skipped=list(output.skipped))
        for index, source in enumerate(sources):
            if deadline is not None and time.monotonic() > deadline:
                result.skipped.extend(self.timed_out(sources[index:]))
                break
            result.extend(self._own(source, by_path.get(source.path, [])))
        return result

    def _own(self, source: SourceFile, bandit_hits: list[Hit]) -> AnalyzerOutput:
        output = AnalyzerOutput()
        flows = module_flows(source.syntax_tree())
        safe = safe_sink_lines(flows)
        seen: set[tuple[int, str]] = set()
        proven: set[tuple[int, str]] = set()
        for flow in flows:
            finding = flow_finding(source.path, flow)
            if finding is not None and (finding.line, finding.rule) not in seen:
                seen.add((finding.line, finding.rule))
                proven.add((finding.line, FAMILY.get(finding.cwe or "", finding.rule)))
                output.hits.append(Hit(finding))
        for hit in bandit_hits:
            family = BANDIT_FAMILY.get(hit.finding.rule)
            lines = range(hit.finding.line, hit.finding.last_line + 1)
            if family and any(family in safe.get(n, ()) or (n, family) in proven for n in lines):
                continue  # proven harmless, or already reported with the data flow behind it
            output.hits.append(hit)
        for rule in self.rules:
            output.extend(rule.analyze(source))
        return output


__all__ = ["SecurityEngine", "TaintAnalyzer"]

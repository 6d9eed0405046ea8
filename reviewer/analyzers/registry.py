"""The analyzers by name: the one place an agent (or a test) looks an engine up."""

from __future__ import annotations

from reviewer.analyzers.bandit_scan import BanditAnalyzer
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.import_rules import ImportRulesAnalyzer
from reviewer.analyzers.js_quality import JsQualityAnalyzer
from reviewer.analyzers.js_security import JsSecurityAnalyzer
from reviewer.analyzers.perf_async import BlockingHandleAnalyzer
from reviewer.analyzers.perf_patterns import PatternAnalyzer
from reviewer.analyzers.perf_queries import QueryLoopAnalyzer
from reviewer.analyzers.radon_complexity import RadonAnalyzer
from reviewer.analyzers.ruff_check import RuffAnalyzer
from reviewer.analyzers.ruff_rules import PERFORMANCE_RULES, QUALITY_IGNORE, QUALITY_RULES
from reviewer.findings import Category

# Instances with default settings. Engines that need per-repository settings (the import
# rules' ban list) are built by their agent from its options instead.
ANALYZERS: dict[str, Analyzer] = {
    "bandit": BanditAnalyzer(),
    "ruff": RuffAnalyzer(
        "ruff", category=Category.QUALITY, rules=QUALITY_RULES, ignore=QUALITY_IGNORE
    ),
    "ruff-performance": RuffAnalyzer(
        "ruff-performance", category=Category.PERFORMANCE, rules=PERFORMANCE_RULES
    ),
    "radon": RadonAnalyzer(),
    "imports": ImportRulesAnalyzer(),
    "perf-async": BlockingHandleAnalyzer(),
    "perf-queries": QueryLoopAnalyzer(),
    "perf-patterns": PatternAnalyzer(),
    "js-security": JsSecurityAnalyzer(),
    "js-quality": JsQualityAnalyzer(),
}

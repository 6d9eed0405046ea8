"""The quality agent's own rules: repo lint config, ruff design rules, AST checks, the agent."""

from __future__ import annotations

import textwrap

from reviewer.agents.quality import QUALITY
from reviewer.analyzers.base import SourceFile
from reviewer.analyzers.qual_ast_rules import QualityAstAnalyzer
from reviewer.analyzers.qual_lint_config import LintSettings, read_lint_settings
from reviewer.analyzers.qual_ruff_design import RuffDesignAnalyzer
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot


def source(text: str, path: str = "app/mod.py") -> SourceFile:
    text = textwrap.dedent(text)
    return SourceFile(path, text, frozenset(range(1, text.count("\n") + 2)))


def rules(output) -> list[tuple[str, int]]:
    return sorted((hit.finding.rule, hit.finding.line) for hit in output.hits)


# --- repository lint config -----------------------------------------------------------------


def test_pylintrc_thresholds_and_disables_are_read():
    settings = read_lint_settings(
        {
            ".pylintrc": "[DESIGN]\nmax-args=8\nmax-locals = 20\n[MESSAGES CONTROL]\n"
            "disable=invalid-name,\n  global-statement\n"
        }
    )
    assert settings.max_args == 8 and settings.max_locals == 20
    assert settings.is_disabled("invalid-name") and settings.is_disabled("global-statement")
    assert not settings.is_disabled("unused-argument")


def test_pyproject_pylint_and_ruff_sections_are_read():
    settings = read_lint_settings(
        {
            "pyproject.toml": "[tool.pylint.design]\nmax-returns = 9\n"
            '[tool.ruff.lint]\nignore = ["ARG"]\n[tool.ruff.lint.pylint]\nmax-branches = 30\n'
        }
    )
    assert settings.max_returns == 9 and settings.max_branches == 30
    assert settings.is_disabled("unused-argument", "ARG002")


def test_no_config_or_broken_config_gives_pylint_defaults():
    assert read_lint_settings({}) == LintSettings()
    assert (
        read_lint_settings({"pyproject.toml": "not = [toml", ".pylintrc": "[x\n"}) == LintSettings()
    )


def test_disable_all_is_not_taken_literally_and_custom_naming_is_noted():
    settings = read_lint_settings(
        {".pylintrc": "[MESSAGES CONTROL]\ndisable=all\n[BASIC]\nfunction-naming-style=camelCase\n"}
    )
    assert not settings.disabled
    assert "function" in settings.custom_naming and "class" not in settings.custom_naming


# --- ruff design rules ---------------------------------------------------------------------

MANY_ARGS = """
def schedule(job, when, retries, backoff, queue, priority):
    return job, when, retries, backoff, queue, priority


def run(job, when):
    return job, when
"""


def test_too_many_arguments_uses_the_repository_threshold():
    default = RuffDesignAnalyzer().analyze(source(MANY_ARGS))
    assert ("too-many-arguments", 2) in rules(default)
    assert not any(line == 6 for _, line in rules(default))
    relaxed = RuffDesignAnalyzer(LintSettings(max_args=6, max_positional=6)).analyze(
        source(MANY_ARGS)
    )
    assert not any(rule.startswith("too-many") for rule, _ in rules(relaxed))


def test_disabled_pylint_message_turns_the_rule_off():
    text = "def fetchData(url):\n    return url\n"
    assert any(
        rule == "invalid-function-name"
        for rule, _ in rules(RuffDesignAnalyzer().analyze(source(text)))
    )
    quiet = RuffDesignAnalyzer(LintSettings(disabled=frozenset({"invalid-name"})))
    assert quiet.analyze(source(text)).hits == []


def test_mutable_class_default_only_when_shared():
    shared = """
    class Registry:
        handlers = []

        def register(self, handler):
            self.handlers.append(handler)
    """
    config_only = """
    class Article:
        class Meta:
            ordering = ["-published"]
    """
    assert ("mutable-class-default", 3) in rules(RuffDesignAnalyzer().analyze(source(shared)))
    assert RuffDesignAnalyzer().analyze(source(config_only)).hits == []


# --- AST rules -----------------------------------------------------------------------------


def test_unreachable_code_after_return_is_found_and_live_code_is_not():
    text = """
    def total(items):
        if not items:
            return 0
        return sum(items)
        print("done")


    def average(items):
        if not items:
            return 0
        return sum(items) / len(items)
    """
    assert rules(QualityAstAnalyzer().analyze(source(text))) == [("unreachable", 6)]


def test_unused_private_member():
    text = """
    class Cache:
        def __init__(self):
            self.__hits = 0
            self.__store = {}

        def get(self, key):
            return self.__store.get(key)

        def __evict(self):
            pass
    """
    assert rules(QualityAstAnalyzer().analyze(source(text))) == [
        ("unused-private-member", 4),
        ("unused-private-member", 10),
    ]


def test_too_many_instance_attributes_honours_the_limit():
    text = "class Job:\n    def __init__(self):\n" + "".join(
        f"        self.a{n} = {n}\n" for n in range(8)
    )
    assert rules(QualityAstAnalyzer().analyze(source(text))) == [
        ("too-many-instance-attributes", 1)
    ]
    assert QualityAstAnalyzer(LintSettings(max_attributes=8)).analyze(source(text)).hits == []


# --- the agent -----------------------------------------------------------------------------


def test_quality_agent_reads_the_snapshot_config():
    text = "def schedule(job, when, retries, backoff, queue, priority):\n    return job\n"
    files = [ChangedFile(path="app/jobs.py", status=FileStatus.ADDED, head_content=text)]
    strict = QUALITY.run(PullRequestSnapshot(repo="o/r", files=files))
    relaxed = QUALITY.run(
        PullRequestSnapshot(
            repo="o/r",
            files=files,
            config_files={
                ".pylintrc": "[DESIGN]\nmax-args=10\nmax-positional-arguments=10\n"
                "[MESSAGES CONTROL]\ndisable=unused-argument\n"
            },
        )
    )
    assert strict.status == "ok" and relaxed.status == "ok"
    assert any(f.rule == "too-many-arguments" for f in strict.findings)
    assert not any(f.rule.startswith("too-many") or "unused" in f.rule for f in relaxed.findings)


# --- correctness rules (qual_correctness) -----------------------------------------------------

from reviewer.analyzers.qual_correctness import QualityCorrectnessAnalyzer
from reviewer.analyzers.qual_frameworks import FrameworkAnalyzer
from reviewer.analyzers.qual_untested import (
    is_test_path,
    untested_change_analyzer,
)


def correctness(text: str) -> list[tuple[str, int]]:
    return rules(QualityCorrectnessAnalyzer().analyze(source(text)))


def test_module_level_mutable_default_is_flagged_but_a_constant_is_not():
    found = correctness(
        """
        DEFAULT_HEADERS = {"Accept": "application/json"}
        TIMEOUT = 10

        def fetch(url, headers=DEFAULT_HEADERS, timeout=TIMEOUT):
            return url, headers, timeout
        """
    )
    assert found == [("mutable-global-default", 5)]


def test_mutating_a_mutable_default_is_flagged_on_the_mutating_line():
    found = correctness(
        """
        def collect(event, seen=[]):
            if event.id:
                seen.append(event.id)
            return seen
        """
    )
    assert found == [("mutated-default-argument", 4)]


def test_a_default_rebound_before_mutation_is_not_flagged():
    assert (
        correctness(
            """
            def collect(event, seen=[]):
                seen = list(seen)
                seen.append(event.id)
                return seen

            def count(words, totals={}):
                return {w: totals.get(w, 0) + 1 for w in words}
            """
        )
        == []
    )


def test_deleting_from_a_dict_while_iterating_its_view_is_flagged():
    found = correctness(
        """
        def prune(sessions, now):
            for key, session in sessions.items():
                if session.expires < now:
                    del sessions[key]
        """
    )
    assert found == [("dict-changed-during-iteration", 3)]


def test_iterating_a_copy_or_stopping_after_the_delete_is_fine():
    assert (
        correctness(
            """
            def prune(sessions, now):
                for key in list(sessions.keys()):
                    del sessions[key]
                for key in sessions.keys():
                    if key.startswith("tmp"):
                        sessions.pop(key)
                        break
            """
        )
        == []
    )


def test_confusing_consecutive_elif_is_flagged_only_without_inner_else():
    found = correctness(
        """
        def sync(old, new):
            if old:
                if not new:
                    old.disable()
            elif new:
                new.enable()

        def sync_clear(old, new):
            if old:
                if not new:
                    old.disable()
                else:
                    old.update(new)
            elif new:
                new.enable()
        """
    )
    assert found == [("confusing-consecutive-elif", 6)]


def test_identical_branches_and_repeated_elif_conditions():
    found = correctness(
        """
        def label(user):
            if user.is_staff:
                return "staff"
            elif user.is_staff:
                return "admin"
            if user.active:
                log(user)
            else:
                log(user)
            if user.active:
                return "on"
            elif user.invited:
                return "pending"
        """
    )
    assert found == [("duplicate-condition", 5), ("identical-branches", 7)]


def test_manual_defaultdict_and_counter_are_flagged_but_other_inits_are_not():
    found = correctness(
        """
        def group(orders):
            by_customer = {}
            for order in orders:
                if order.customer not in by_customer:
                    by_customer[order.customer] = []
                by_customer[order.customer].append(order)
            counts = {}
            for order in orders:
                if order.sku not in counts:
                    counts[order.sku] = 0
                counts[order.sku] += order.quantity
            latest = {}
            for order in orders:
                if order.customer not in latest:
                    latest[order.customer] = order
            return by_customer, counts, latest
        """
    )
    assert found == [("manual-defaultdict", 5), ("manual-defaultdict", 10)]


# --- framework rules (qual_frameworks) --------------------------------------------------------


def frameworks(text: str) -> list[tuple[str, int]]:
    return rules(FrameworkAnalyzer().analyze(source(text)))


def test_imports_of_removed_modules_are_flagged_and_their_successors_are_not():
    found = frameworks(
        """
        import imp
        from distutils.util import strtobool
        from django.core.urlresolvers import reverse
        from django.utils.translation import gettext, ugettext
        import importlib
        from django.urls import reverse as urls_reverse
        from django.utils.translation import gettext_lazy
        """
    )
    assert found == [("removed-module", 2), ("removed-module", 3), ("removed-module", 4),
                     ("removed-module", 5)]  # fmt: skip


def test_django_null_and_blank_field_mistakes():
    found = frameworks(
        """
        from django.db import models

        class Invoice(models.Model):
            memo = models.CharField(max_length=200, null=True)
            code = models.CharField(max_length=20, unique=True, blank=True)
            paid_on = models.DateField(blank=True)
            total_price = models.FloatField()
            title = models.CharField(max_length=80, blank=True)
            slug = models.SlugField(unique=True, blank=True, null=True)
            due_on = models.DateField(blank=True, null=True)
            weight = models.FloatField()
        """
    )
    assert found == [
        ("blank-without-null", 7),
        ("float-money-field", 8),
        ("string-field-null", 5),
        ("unique-blank-string-field", 6),
    ]


def test_field_options_outside_a_model_class_are_ignored():
    assert frameworks("def make(**kw):\n    return kw\n\nmake(null=True, blank=True)\n") == []


# --- no test changed (qual_untested) ----------------------------------------------------------


def test_test_paths_are_recognised():
    assert is_test_path("tests/test_orders.py") and is_test_path("shop/orders_test.py")
    assert is_test_path("web/src/cart.spec.ts") and is_test_path("conftest.py")
    assert not is_test_path("shop/testimonials.py") and not is_test_path("shop/contest/views.py")


def test_untested_change_is_one_note_on_the_first_changed_source_line():
    analyzer = untested_change_analyzer(
        ["shop/orders.py", "shop/cart.py", "tests/test_orders.py"],
        ["docs/index.md", "shop/orders.py", "shop/cart.py"],
    )
    files = [
        SourceFile("shop/orders.py", "a = 1\nb = 2\nc = 3\n", frozenset({2, 3})),
        SourceFile("shop/cart.py", "x = 1\n", frozenset({1})),
    ]
    output = analyzer.analyze_all(files)
    assert [(h.finding.path, h.finding.line, h.finding.rule) for h in output.hits] == [
        ("shop/orders.py", 2, "no-test-changed")
    ]
    assert output.hits[0].finding.severity == "info" and output.hits[0].finding.confidence <= 0.4


def test_untested_change_is_silent_when_tests_change_or_the_repo_has_none():
    files = [SourceFile("shop/orders.py", "a = 1\n", frozenset({1}))]
    touched = untested_change_analyzer(
        ["shop/orders.py", "tests/test_orders.py"], ["shop/orders.py", "tests/test_orders.py"]
    )
    no_tests = untested_change_analyzer(["shop/orders.py"], ["shop/orders.py"])
    unknown = untested_change_analyzer([], ["shop/orders.py"])
    migration_only = untested_change_analyzer(
        ["shop/migrations/0002.py", "tests/test_x.py"], ["shop/migrations/0002.py"]
    )
    assert touched.analyze_all(files).hits == []
    assert no_tests.analyze_all(files).hits == []
    assert unknown.analyze_all(files).hits == []
    migration = [SourceFile("shop/migrations/0002.py", "a = 1\n", frozenset({1}))]
    assert migration_only.analyze_all(migration).hits == []


def test_quality_agent_adds_the_untested_note_through_the_snapshot():
    snapshot = PullRequestSnapshot(
        repo="acme/shop",
        files=[
            ChangedFile(
                path="shop/orders.py",
                status=FileStatus.MODIFIED,
                patch="@@ -1,1 +1,2 @@\n total = 0\n+count = 0\n",
                head_content="total = 0\ncount = 0\n",
            )
        ],
        repo_files=["shop/orders.py", "tests/test_orders.py"],
    )
    result = QUALITY.run(snapshot)
    assert [(f.rule, f.line) for f in result.findings] == [("no-test-changed", 2)]

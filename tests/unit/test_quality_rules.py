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

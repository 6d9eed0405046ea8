"""``.reviewer.toml``: parsing, validation (a broken file gives a note and the defaults), and
how its path filters, rule switches, severity threshold, cap and instructions apply."""

from __future__ import annotations

from reviewer.findings import Category, Finding, Severity
from reviewer.repo_config import (
    CONFIG_NAME,
    EXCLUDED_REASON,
    RepoConfig,
    apply_to_findings,
    filter_snapshot,
    inline_cap,
    instructions_for,
    is_reviewed,
    load_repo_config,
)
from reviewer.snapshot import ChangedFile, PullRequestSnapshot

EXAMPLE = """
[paths]
exclude = ["migrations/**", "*.min.js"]

[rules]
disable = ["ruff-F401", "sql-injection"]

[review]
min_severity = "low"
inline_comment_cap = 4

[[instructions]]
path = "app/payments/**"
text = "Amounts are integers in cents."

[[instructions]]
path = "docs/**"
text = "Docs only."

[architecture]
banned = ["pickle"]
"""


def _f(path="app/a.py", rule="r", severity=Severity.HIGH, fp="fp") -> Finding:
    return Finding(
        path=path, line=1, category=Category.SECURITY, severity=severity, rule=rule,
        message="m", confidence=0.9, source="static:t", fingerprint=fp,
    )


def test_the_documented_example_parses():
    loaded = load_repo_config({CONFIG_NAME: EXAMPLE})
    assert loaded.problem is None and loaded.note() is None and loaded.present
    config = loaded.config
    assert config.review.min_severity == Severity.LOW and inline_cap(config, 10) == 4
    assert config.rules.disable == ["ruff-F401", "sql-injection"]
    assert config.architecture == {"banned": ["pickle"]}


def test_absent_file_means_defaults_that_change_nothing():
    loaded = load_repo_config({})
    assert loaded.config == RepoConfig() and not loaded.present and loaded.note() is None
    findings = [_f(severity=Severity.INFO), _f(path="migrations/1.py", fp="x")]
    assert apply_to_findings(findings, loaded.config) == findings
    assert inline_cap(loaded.config, 10) == 10


def test_broken_files_give_a_note_and_the_defaults():
    bad_toml = load_repo_config({CONFIG_NAME: "[paths\nexclude = 1"})
    assert bad_toml.config == RepoConfig() and "invalid TOML" in bad_toml.problem
    note = bad_toml.note()
    assert note.path == CONFIG_NAME and "defaults used" in note.reason
    typo = load_repo_config({CONFIG_NAME: '[review]\nmin_severty = "low"\n'})
    assert typo.config == RepoConfig() and "min_severty" in typo.problem
    bad_value = load_repo_config({CONFIG_NAME: '[review]\nmin_severity = "huge"\ninline_comment_cap = -1\n'})
    assert "min_severity" in bad_value.problem and "inline_comment_cap" in bad_value.problem


def test_path_filters():
    config = load_repo_config({CONFIG_NAME: EXAMPLE}).config
    assert not is_reviewed("migrations/0001_init.py", config)
    assert not is_reviewed("static/js/app.min.js", config)
    assert is_reviewed("app/migrations_helper.py", config) and is_reviewed("static/app.js", config)
    only_app = load_repo_config({CONFIG_NAME: '[paths]\ninclude = ["app/**"]\n'}).config
    assert is_reviewed("app/x/y.py", only_app) and not is_reviewed("tools/z.py", only_app)
    snapshot = PullRequestSnapshot(
        repo="o/r",
        files=[
            ChangedFile(path="migrations/1.py", patch="@@ -0,0 +1 @@\n+x", head_content="x\n"),
            ChangedFile(path="app/a.py", patch="@@ -0,0 +1 @@\n+y", head_content="y\n"),
        ],
    )
    excluded, kept = filter_snapshot(snapshot, config).files
    assert excluded.skip_reason == EXCLUDED_REASON and excluded.patch is None and excluded.head_content is None
    assert kept == snapshot.files[1]


def test_rules_off_threshold_ignored_and_excluded_paths_drop_findings():
    config = load_repo_config({CONFIG_NAME: EXAMPLE}).config
    findings = [
        _f(rule="sql-injection", fp="a"),
        _f(rule="RUFF-F401", fp="b"),  # rule names compare case-insensitively
        _f(severity=Severity.INFO, fp="c"),
        _f(path="migrations/1.py", fp="d"),
        _f(fp="e"),
        _f(rule="other", fp="f"),
        _f(rule="ignored-rule", fp="g"),
    ]
    kept = apply_to_findings(findings, config, ignored=["f", "ignored-rule"])
    assert [f.fingerprint for f in kept] == ["e"]


def test_instructions_for_matching_paths_only():
    config = load_repo_config({CONFIG_NAME: EXAMPLE}).config
    text = instructions_for(config, ["app/payments/charge.py"])
    assert "integers in cents" in text and "Docs only" not in text
    assert instructions_for(config, ["app/other.py"]) == ""
    table = load_repo_config({CONFIG_NAME: '[instructions]\ngeneral = "Be brief."\n'}).config
    assert "general: Be brief." in instructions_for(table, ["x.py"])

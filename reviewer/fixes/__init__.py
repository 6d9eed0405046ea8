"""Committable fixes for confident findings: deterministic rewrites, each validated first.

A finding at or above the confidence threshold gets a ``suggestion`` (replacement text for
its lines, GitHub's ```suggestion block) when one of the rewrites below applies, or keeps
the one its tool proposed (ruff's safe autofixes); for a few of the rest (the worst first)
an injected ``ask_llm`` may propose one (:mod:`reviewer.fixes.llm`). Whatever proposed it,
the fix is applied to the head file and validated (:mod:`reviewer.fixes.validate`); a fix that fails, that does not
sit on lines GitHub lets us comment on (RIGHT side, one hunk), or that belongs to a finding
below the threshold is dropped and the finding stays plain advice. Pure: no network.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import islice

from reviewer.diff import FileDiff, validate_anchor
from reviewer.findings import Finding
from reviewer.fixes.rewrites import (
    fix_bare_except,
    fix_mutable_default,
    fix_request_timeout,
    fix_verify_false,
    fix_yaml_load,
)
from reviewer.fixes.shell import fix_shell_true
from reviewer.fixes.source import Fix, Source, apply_fix
from reviewer.fixes.sql import fix_sql_injection
from reviewer.fixes.validate import Candidate, Linter, ruff_linter, validate

DEFAULT_THRESHOLD = 0.8

Rewrite = Callable[[Finding, Source], Fix | None]
#: Asks a model for a fix of one finding (None: no fix, or no budget left). Never raises.
AskFix = Callable[[Finding, Source], Fix | None]

#: Finding rule → its deterministic rewrite.
REWRITES: dict[str, Rewrite] = {
    "unsafe-deserialization": fix_yaml_load,
    "sql-injection": fix_sql_injection,
    "command-injection": fix_shell_true,
    "request-without-timeout": fix_request_timeout,
    "tls-verification-disabled": fix_verify_false,
    "mutable-argument-default": fix_mutable_default,
    "bare-except": fix_bare_except,
}

__all__ = [
    "DEFAULT_THRESHOLD",
    "REWRITES",
    "AskFix",
    "Fix",
    "Linter",
    "apply_fix",
    "generate_fixes",
    "propose_fix",
    "ruff_linter",
]


def propose_fix(finding: Finding, source: Source) -> Fix | None:
    """The unvalidated fix for a finding: its tool's suggestion, else a rewrite, else None."""
    if finding.suggestion is not None:
        return Fix(finding.line, finding.last_line, finding.suggestion)
    rewrite = REWRITES.get(finding.rule)
    if rewrite is None or source.tree is None or "\r" in source.text:
        return None
    try:
        return rewrite(finding, source)
    except (ValueError, IndexError, StopIteration, AttributeError):
        return None  # an unusual shape of code the rewrite did not expect: advice only


def _commentable(fix: Fix, diff: FileDiff | None) -> bool:
    if diff is None:
        return False
    if fix.end_line > fix.line:
        return validate_anchor(diff, fix.end_line, start_line=fix.line)
    return validate_anchor(diff, fix.line)


def generate_fixes(
    findings: Sequence[Finding],
    head_texts: Mapping[str, str | None],
    diffs: Mapping[str, FileDiff],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    linter: Linter | None = None,
    ask_llm: AskFix | None = None,
    llm_limit: int = 0,
    posted: Collection[str] = frozenset(),
) -> list[Finding]:
    """``findings`` with validated suggestions, in the same order.

    ``head_texts`` maps a path to the head file's text (None when unknown); ``diffs`` maps
    it to its parsed patch. A kept fix may widen the finding's lines to the fix's lines
    (a suggestion replaces exactly the lines it is anchored on). ``ask_llm`` is asked about
    at most ``llm_limit`` confident findings that have no fix of their own, worst first,
    and never about one whose fingerprint is in ``posted`` (reported by an earlier review of
    the PR, inline or in its body: it is not posted again, so a suggestion for it would never
    be seen and the model would be paid twice for the same finding).
    """
    out = list(findings)
    candidates: list[Candidate] = []
    owners: list[int] = []
    sources: dict[str, Source] = {}
    unfixed: list[int] = []

    def consider(index: int, fix: Fix | None, source: Source) -> None:
        path = findings[index].path
        if fix is None or fix.end_line > len(source.lines) or not _commentable(fix, diffs.get(path)):
            return
        candidates.append(Candidate(path, source.text, fix))
        owners.append(index)

    for index, finding in enumerate(findings):
        if finding.suggestion is not None:
            out[index] = finding.model_copy(update={"suggestion": None})
        if finding.confidence < threshold:
            continue
        text = head_texts.get(finding.path)
        if text is None or not finding.path.endswith((".py", ".pyi")):
            continue
        source = sources.setdefault(finding.path, Source(finding.path, text))
        fix = propose_fix(finding, source)
        if fix is None and source.tree is not None and "\r" not in text:
            unfixed.append(index)
        consider(index, fix, source)
    if ask_llm is not None and llm_limit > 0:
        askable = (
            i
            for i in sorted(unfixed, key=lambda i: (findings[i].sort_key(), i))
            if _commentable(Fix(findings[i].line, findings[i].last_line, ""), diffs.get(findings[i].path))
            and not (findings[i].fingerprint and findings[i].fingerprint in posted)
        )
        for index in islice(askable, llm_limit):
            source = sources[findings[index].path]
            consider(index, ask_llm(findings[index], source), source)
    if not candidates:
        return out
    verdicts = validate(candidates, linter or ruff_linter())
    for index, candidate, ok in zip(owners, candidates, verdicts, strict=True):
        if not ok:
            continue
        fix = candidate.fix
        out[index] = findings[index].model_copy(
            update={
                "suggestion": fix.replacement,
                "line": fix.line,
                "end_line": fix.end_line if fix.end_line > fix.line else None,
            }
        )
    return out

"""The one summary comment per pull request, edited in place on every run.

It is an issue comment (the PR's conversation), found again by its hidden marker, so a
second run edits it instead of adding another. It says what the last review found (by
category and severity), how each agent fared (failed agents named), what was skipped and
why, what it cost, and links to the review's dashboard page. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from reviewer.findings import Finding
from reviewer.payloads import AgentResult, AgentStatus, SkipNote
from reviewer.render import (
    BODY_BUDGET,
    NO_LLM_NOTE,
    _agents_table,
    _cell,
    _counts_table,
    _fit,
    _skipped_lines,
    dedupe_skipped,
)

SUMMARY_MARKER = "<!-- reviewer:summary -->"
#: How developers teach the bot (docs/learning.md): one line, under every summary.
FEEDBACK_HINT = (
    "<sub>Not useful? Reply `/reviewer reject <reason>` on an inline comment or react 👎; "
    "the bot stops posting similar findings in this repository. `/reviewer help` lists the commands.</sub>"
)


def is_summary(body: str | None) -> bool:
    """Whether a comment is this bot's summary comment."""
    return SUMMARY_MARKER in (body or "")


def build_summary(
    findings: list[Finding],
    agents: Mapping[str, AgentResult],
    skipped: list[SkipNote],
    *,
    head_sha: str,
    dashboard_url: str | None,
    llm_used: bool,
    inline_count: int,
    resolved: list[Finding] | None = None,
    since_sha: str | None = None,
    already_posted: int = 0,
    held_back: int = 0,
    learning_url: str | None = None,
) -> str:
    """The summary comment's Markdown, within GitHub's body limit.

    For an incremental run (``since_sha``), it says so, and lists the earlier findings the
    push fixed (``resolved``); ``already_posted`` counts findings not repeated because an
    earlier review already reported them (inline or in its body); ``held_back`` those the learning loop did not
    post because developers here rejected them (``learning_url`` shows what was learned).
    """
    count = len(findings)
    lines = [
        SUMMARY_MARKER,
        f"## reviewer summary — `{head_sha[:12]}`",
        "",
        (
            f"**{count} finding{'s' if count != 1 else ''}**; {inline_count} shown inline in the "
            f"review, {count - inline_count} listed in its body."
        ),
    ]
    if since_sha:
        lines += ["", f"Incremental review: only what changed since `{since_sha[:12]}`."]
    if already_posted:
        plural = "s" if already_posted != 1 else ""
        lines += ["", f"{already_posted} finding{plural} already commented on in an earlier review (not repeated)."]
    if held_back:
        plural = "s" if held_back != 1 else ""
        where = f" ([what was learned]({learning_url}))" if learning_url else ""
        lines += ["", f"{held_back} finding{plural} held back by learned feedback: developers here rejected them before{where}."]
    if findings:
        lines += ["", "### Findings by category and severity", "", *_counts_table(findings)]
    if resolved:
        lines += ["", "### Resolved by this push", ""]
        lines += _fit(
            [f"- ~~`{_cell(f.path, 300)}:{f.line}` {_cell(f.rule, 100)}~~ — {_cell(f.message, 200)}" for f in resolved],
            BODY_BUDGET // 4,
            "- … and {n} more resolved",
        )
    failed = [
        (name, a) for name, a in agents.items() if a.status in (AgentStatus.FAILED, AgentStatus.TIMEOUT)
    ]
    lines += ["", "### Agents", ""]
    if failed:
        names = ", ".join(f"**{name}** ({a.status.value})" for name, a in failed)
        lines += [f"Not complete: {names}. Their findings are missing from this review.", ""]
    lines += _agents_table(agents)
    tokens = sum(a.tokens for a in agents.values())
    cost = sum(a.cost_usd for a in agents.values())
    usage = f"{tokens:,} tokens · ${cost:.4f}"
    if not llm_used:
        usage += f" — {NO_LLM_NOTE}"
    lines += ["", "### Usage", "", usage]
    tail = ["", FEEDBACK_HINT]
    tail += ["", f"[Details on the dashboard]({dashboard_url})"] if dashboard_url else []
    notes = dedupe_skipped(skipped, agents)
    if notes:
        used = sum(len(x) + 1 for x in lines + tail)
        section = _fit(
            _skipped_lines(notes), BODY_BUDGET - used - 200, "- … and {n} more skipped files"
        )
        lines += ["", "### Skipped", "", *section]
    else:
        lines += ["", "### Skipped", "", "Nothing was skipped."]
    body = "\n".join(lines + tail)
    if len(body) > BODY_BUDGET:
        body = body[: BODY_BUDGET - 40] + "\n\n_… truncated._"
    return body

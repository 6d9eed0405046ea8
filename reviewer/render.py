"""Findings turned into what people read: the GitHub review (body + inline comments) and CLI output.

Pure. Anchors are validated against the diff before anything is posted, because one bad
anchor makes GitHub reject the whole review (422). Everything the bot writes carries a hidden
marker so a later run can find it instead of posting twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from reviewer.diff import FileDiff, nearest_commentable, validate_anchor
from reviewer.findings import Category, Finding, Severity
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus, SkipNote
from reviewer.ports import InlineComment

#: GitHub rejects review and comment bodies longer than this.
GITHUB_BODY_LIMIT = 65_535
#: What we allow ourselves, leaving room for GitHub's own accounting of multi-byte characters.
BODY_BUDGET = 60_000
MESSAGE_LIMIT = 4_000
NO_LLM_NOTE = "Static analysis only — no LLM configured"
LLM_UNAVAILABLE_NOTE = "Static analysis only — LLM unavailable"

_MARKER_PREFIX = "<!-- reviewer:"
_REVIEW_MARKER = re.compile(r"<!-- reviewer:review id=(\d+) sha=([0-9A-Za-z]+) -->")
_FINDING_MARKER = re.compile(r"<!-- reviewer:finding fp=([0-9A-Za-z_-]+) -->")
_FENCE = re.compile(r"`{3,}|~{3,}")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_STATUS_LABEL = {
    AgentStatus.OK: "ok",
    AgentStatus.FAILED: "FAILED",
    AgentStatus.TIMEOUT: "TIMED OUT",
    AgentStatus.SKIPPED: "skipped",
}


# -- markers ---------------------------------------------------------------------------------


def review_marker(review_id: int, head_sha: str) -> str:
    """The hidden tag on a review body: which review run and which head it covers."""
    return f"{_MARKER_PREFIX}review id={review_id} sha={head_sha} -->"


def finding_marker(fingerprint: str) -> str:
    """The hidden tag on an inline comment, tying replies and reactions back to the finding."""
    return f"{_MARKER_PREFIX}finding fp={fingerprint} -->"


def parse_review_marker(text: str) -> tuple[int, str] | None:
    """``(review_id, head_sha)`` from a body this bot wrote, or None."""
    m = _REVIEW_MARKER.search(text or "")
    return (int(m[1]), m[2]) if m else None


def parse_finding_marker(text: str) -> str | None:
    """The finding fingerprint in a comment this bot wrote, or None."""
    m = _FINDING_MARKER.search(text or "")
    return m[1] if m else None


#: The name the posting task uses; the same function.
fingerprint_of_comment = parse_finding_marker


# -- untrusted text ---------------------------------------------------------------------------


def neutralise(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Text from tools/LLMs/PRs made inert in Markdown.

    No hidden markers (``<!--``), no code fences (a stray ```suggestion would bypass anchor
    and range checks) and no @mentions (the bot must not ping people on a model's say-so).
    """
    text = text.replace("<!--", "&lt;!--")
    text = _FENCE.sub(lambda m: "\u200b".join(m[0]), text)
    text = _MENTION.sub("@\u200b", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _cell(text: str, limit: int = 300) -> str:
    """One Markdown table cell: single line, pipes escaped."""
    return neutralise(" ".join(text.split()), limit).replace("|", "\\|")


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return _cell(line, limit)


# -- anchors ----------------------------------------------------------------------------------


class Anchor(BaseModel):
    """Where an inline comment goes; ``exact`` when it covers the finding's own lines."""

    model_config = ConfigDict(frozen=True)

    line: int
    start_line: int | None = None
    exact: bool


def place(finding: Finding, filediff: FileDiff | None) -> Anchor | None:
    """A RIGHT-side anchor GitHub will accept for ``finding``, or None when there is none.

    The finding's own range when the diff shows all of it (inside one hunk); otherwise a
    single line inside the range chosen by :func:`nearest_commentable`.
    """
    if filediff is None:
        return None
    first, last = finding.line, finding.last_line
    if last > first and validate_anchor(filediff, last, start_line=first):
        return Anchor(line=last, start_line=first, exact=True)
    if last == first and validate_anchor(filediff, first):
        return Anchor(line=first, exact=True)
    nearest = nearest_commentable(filediff, first, last)
    if nearest is None or not validate_anchor(filediff, nearest):
        return None
    return Anchor(line=nearest, exact=False)


# -- pieces -----------------------------------------------------------------------------------


def _cwe_link(cwe: str | None) -> str:
    if not cwe:
        return ""
    number = cwe.split("-", 1)[1]
    return f" · [{cwe}](https://cwe.mitre.org/data/definitions/{number}.html)"


def _suggestion_block(suggestion: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", suggestion)), default=0)
    fence = "`" * max(3, longest + 1)
    body = suggestion if suggestion.endswith("\n") or not suggestion else suggestion + "\n"
    return f"{fence}suggestion\n{body}{fence}"


def comment_body(finding: Finding, *, with_suggestion: bool) -> str:
    """The Markdown of one inline comment."""
    head = (
        f"**{finding.severity.value.upper()}** · {finding.category.value} · "
        f"`{_cell(finding.rule, 100)}`{_cwe_link(finding.cwe)}"
    )
    parts = [head, "", neutralise(finding.message)]
    if with_suggestion and finding.suggestion is not None:
        block = _suggestion_block(finding.suggestion)
        if len(block) < BODY_BUDGET - MESSAGE_LIMIT - 1_000:
            parts += ["", block]
    parts += [
        "",
        f"<sub>{_cell(finding.source, 100)} · confidence {finding.confidence:.2f}</sub>",
        finding_marker(finding.fingerprint),
    ]
    return "\n".join(parts)


def _counts_table(findings: list[Finding]) -> list[str]:
    counts = Counter((f.category, f.severity) for f in findings)
    severities = list(Severity)
    lines = [
        "| category | " + " | ".join(s.value for s in severities) + " | total |",
        "|---" * (len(severities) + 2) + "|",
    ]
    for cat in Category:
        row = [counts[(cat, s)] for s in severities]
        lines.append(f"| {cat.value} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    totals = [sum(counts[(c, s)] for c in Category) for s in severities]
    lines.append("| **total** | " + " | ".join(map(str, totals)) + f" | **{len(findings)}** |")
    return lines


def _ordered_agents(agents: Mapping[str, AgentResult]) -> list[tuple[str, AgentResult]]:
    known = [(n, agents[n]) for n in AGENT_NAMES if n in agents]
    return known + sorted((n, a) for n, a in agents.items() if n not in AGENT_NAMES)


def _agent_problems(agents: Mapping[str, AgentResult]) -> list[str]:
    return [
        f"Agent **{name}** {_STATUS_LABEL[a.status].lower()}: {_cell(a.error or 'no detail', 500)}"
        for name, a in _ordered_agents(agents)
        if a.status in (AgentStatus.FAILED, AgentStatus.TIMEOUT)
    ]


def _agents_table(agents: Mapping[str, AgentResult]) -> list[str]:
    lines = ["| agent | status | mode | findings | time | note |", "|---|---|---|---|---|---|"]
    for name, a in _ordered_agents(agents):
        note = _cell(a.error, 300) if a.error else ""
        lines.append(
            f"| {name} | {_STATUS_LABEL[a.status]} | {_cell(a.mode, 60)} | {len(a.findings)} "
            f"| {a.duration_s:.1f} s | {note} |"
        )
    return lines


def _finding_item(f: Finding) -> str:
    where = f"{f.path}:{f.line}" + (f"-{f.end_line}" if f.end_line and f.end_line != f.line else "")
    cwe = f" ({f.cwe})" if f.cwe else ""
    return (
        f"- **{f.severity.value}** {f.category.value} `{_cell(f.rule, 100)}`{cwe} — "
        f"`{_cell(where, 300)}` — {_first_line(f.message)}"
    )


def _fit(items: list[str], budget: int, more: str) -> list[str]:
    """As many of ``items`` as fit in ``budget`` characters, then a note saying how many did not."""
    out: list[str] = []
    used = 0
    for i, item in enumerate(items):
        if used + len(item) + 1 > budget:
            out.append(more.format(n=len(items) - i))
            break
        out.append(item)
        used += len(item) + 1
    return out


def _skipped_lines(skipped: Iterable[SkipNote]) -> list[str]:
    return [f"- `{_cell(s.path, 300)}` — {_cell(s.reason, 300)}" for s in skipped]


def dedupe_skipped(
    skipped: Iterable[SkipNote], agents: Mapping[str, AgentResult] | None = None
) -> list[SkipNote]:
    """Skip notes from the review and from every agent, each (path, reason) once."""
    seen: dict[tuple[str, str], SkipNote] = {}
    pools: list[Iterable[SkipNote]] = [skipped]
    pools += [a.skipped for _, a in _ordered_agents(agents or {})]
    for pool in pools:
        for note in pool:
            seen.setdefault((note.path, note.reason), note)
    return list(seen.values())


# -- the GitHub review ------------------------------------------------------------------------


class RenderedReview(BaseModel):
    """One review ready for ``create_review``: body, validated inline comments, and the split."""

    model_config = ConfigDict(extra="forbid")

    body: str
    comments: list[InlineComment]
    inline_findings: list[Finding] = []
    body_findings: list[Finding] = []


def build_review(
    findings: list[Finding],
    files: Mapping[str, FileDiff],
    agents: Mapping[str, AgentResult],
    *,
    review_id: int,
    head_sha: str,
    inline_cap: int,
    llm_used: bool,
    skipped: list[SkipNote],
    dashboard_url: str | None,
) -> RenderedReview:
    """The one review a run posts: the worst ``inline_cap`` anchorable findings inline, the rest
    listed in the body, which also summarises counts, agents and skipped files."""
    comments: list[InlineComment] = []
    inline: list[Finding] = []
    rest: list[Finding] = []
    for f in sorted(findings, key=Finding.sort_key):
        anchor = place(f, files.get(f.path)) if len(comments) < inline_cap else None
        if anchor is None:
            rest.append(f)
            continue
        suggest = anchor.exact and f.suggestion is not None
        comments.append(
            InlineComment(
                path=f.path,
                line=anchor.line,
                side="RIGHT",
                start_line=anchor.start_line,
                start_side="RIGHT" if anchor.start_line is not None else None,
                body=comment_body(f, with_suggestion=suggest),
            )
        )
        inline.append(f)

    head = [review_marker(review_id, head_sha)]
    count = len(findings)
    head.append(f"### reviewer: {count} finding{'s' if count != 1 else ''} on `{head_sha[:12]}`")
    if not llm_used:
        head += ["", f"**{_static_note(agents)}.**"]
    head += ["", *_agent_problems(agents)] if _agent_problems(agents) else []
    if findings:
        head += ["", *_counts_table(findings)]
    head += ["", f"{len(comments)} inline comment(s); {len(rest)} more listed below."]
    head += ["", "#### Agents", "", *_agents_table(agents), *_llm_usage(agents)]

    skipped_all = dedupe_skipped(skipped, agents)
    tail: list[str] = []
    if dashboard_url:
        tail = ["", f"[Details on the dashboard]({dashboard_url})"]

    def size(lines: list[str]) -> int:
        return sum(len(x) + 1 for x in lines)

    budget = BODY_BUDGET - size(head) - size(tail) - 200
    if skipped_all:
        section = _fit(_skipped_lines(skipped_all), budget // 3, "- … and {n} more skipped files")
        head += ["", "#### Skipped files", "", *section]
        budget -= size(section) + 40
    if rest:
        listed = _fit(
            [_finding_item(f) for f in rest],
            budget,
            "\n_… and {n} more findings not listed (GitHub's size limit); see the dashboard._",
        )
        head += ["", "#### Findings not shown inline", "", *listed]
    body = "\n".join(head + tail)
    if len(body) > BODY_BUDGET:  # a last guard; the budgeting above should make this unreachable
        body = body[: BODY_BUDGET - 40] + "\n\n_… truncated._"
    return RenderedReview(body=body, comments=comments, inline_findings=inline, body_findings=rest)


# -- CLI formats ------------------------------------------------------------------------------


def _static_note(agents: Mapping[str, AgentResult]) -> str:
    """Why there is no LLM review: none configured, or one configured but unavailable."""
    if any(a.mode.startswith("static (llm") for a in agents.values()):
        return LLM_UNAVAILABLE_NOTE
    return NO_LLM_NOTE


def _llm_usage(agents: Mapping[str, AgentResult]) -> list[str]:
    tokens = sum(a.tokens for a in agents.values())
    if not tokens:
        return []
    cost = sum(a.cost_usd for a in agents.values())
    return ["", f"LLM usage: {tokens:,} tokens, ${cost:.4f}."]


def _llm_used(agents: Mapping[str, AgentResult], llm_used: bool | None) -> bool:
    if llm_used is not None:
        return llm_used
    return any(a.mode == "llm" for a in agents.values())


def _by_file(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    groups: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=Finding.sort_key):
        groups.setdefault(f.path, []).append(f)
    return list(groups.items())  # insertion order: the file with the worst finding first


def _summary_line(findings: list[Finding]) -> str:
    if not findings:
        return "No findings."
    counts = Counter(f.severity for f in findings)
    parts = [f"{counts[s]} {s.value}" for s in Severity if counts[s]]
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''}: " + ", ".join(parts)


def render_text(
    findings: list[Finding],
    agents: Mapping[str, AgentResult],
    skipped: list[SkipNote],
    *,
    llm_used: bool | None = None,
) -> str:
    """Plain text for a terminal: grouped by file, worst first."""
    out: list[str] = []
    if not _llm_used(agents, llm_used):
        out += [_static_note(agents), ""]
    for path, items in _by_file(findings):
        out.append(path)
        for f in items:
            where = f"{f.line}" + (f"-{f.end_line}" if f.end_line and f.end_line != f.line else "")
            cwe = f" {f.cwe}" if f.cwe else ""
            out.append(
                f"  {where:>9}  {f.severity.value.upper():<8} {f.category.value}/{f.rule}{cwe}"
            )
            out += [f"             {line}" for line in f.message.strip().splitlines()]
            if f.suggestion == "":
                out.append("             suggestion: delete the line(s)")
            elif f.suggestion is not None:
                out.append("             suggestion:")
                out += [f"             | {line}" for line in f.suggestion.splitlines()]
        out.append("")
    out.append(_summary_line(findings))
    if agents:
        out.append("Agents:")
        for name, a in _ordered_agents(agents):
            err = f" — {a.error}" if a.error else ""
            out.append(
                f"  {name:<13} {_STATUS_LABEL[a.status]:<9} {a.mode} "
                f"({a.duration_s:.1f}s, {a.tokens} tokens, ${a.cost_usd:.4f}){err}"
            )
    notes = dedupe_skipped(skipped, agents)
    if notes:
        out.append("Skipped:")
        out += [f"  {s.path}: {s.reason}" for s in notes]
    return "\n".join(out) + "\n"


def render_markdown(
    findings: list[Finding],
    agents: Mapping[str, AgentResult],
    skipped: list[SkipNote],
    *,
    llm_used: bool | None = None,
) -> str:
    """Markdown for files and CI summaries: grouped by file, worst first, no size cap."""
    out = ["# reviewer", ""]
    if not _llm_used(agents, llm_used):
        out += [f"**{_static_note(agents)}.**", ""]
    out += [_summary_line(findings), ""]
    problems = _agent_problems(agents)
    if problems:
        out += [*problems, ""]
    if findings:
        out += [*_counts_table(findings), ""]
    for path, items in _by_file(findings):
        out += [f"## `{path}`", ""]
        for f in items:
            where = f"{f.line}" + (f"-{f.end_line}" if f.end_line and f.end_line != f.line else "")
            out.append(
                f"- **{f.severity.value}** line {where} · {f.category.value} · "
                f"`{_cell(f.rule, 100)}`{_cwe_link(f.cwe)}: {neutralise(f.message.strip())}"
            )
            if f.suggestion is not None:
                longest = max((len(m) for m in re.findall(r"`+", f.suggestion)), default=0)
                fence = "`" * max(3, longest + 1)
                out += [
                    "",
                    f"  {fence}",
                    *[f"  {ln}" for ln in f.suggestion.splitlines()],
                    f"  {fence}",
                ]
        out.append("")
    if agents:
        out += ["## Agents", "", *_agents_table(agents), ""]
    notes = dedupe_skipped(skipped, agents)
    if notes:
        out += ["## Skipped files", "", *_skipped_lines(notes), ""]
    return "\n".join(out)


def render_json(
    findings: list[Finding],
    agents: Mapping[str, AgentResult],
    usage: Mapping[str, Any] | BaseModel | None,
    *,
    skipped: list[SkipNote] | None = None,
) -> dict[str, Any]:
    """DESIGN §3's ``--format json`` document (findings worst first)."""
    if isinstance(usage, BaseModel):
        usage = usage.model_dump(mode="json")
    return {
        "findings": [f.model_dump(mode="json") for f in sorted(findings, key=Finding.sort_key)],
        "agents": {
            name: {
                "status": a.status.value,
                "duration_s": a.duration_s,
                "tokens": a.tokens,
                "cost_usd": a.cost_usd,
                "cache_hits": a.cache_hits,
                "cache_layers": a.cache_layers,  # LLM cache lookups: exact / near / miss
                "error": a.error,
            }
            for name, a in _ordered_agents(agents)
        },
        "usage": dict(usage or {}),
        "skipped": [s.model_dump(mode="json") for s in dedupe_skipped(skipped or [], agents)],
    }

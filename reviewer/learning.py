"""The learning loop's use: what developers' verdicts change in a repository's next reviews.

Pure: storage hands in the verdict counts per rule, people's overrides and, per new finding,
the nearest past verdicts on similar code; this module decides and says why.

Two levels, deliberately different in how much evidence they need:

- **A rule** (``decide_rules``) is suppressed in a repository after repeated rejections:
  at least ``suppress_after`` (3) rejected-or-dismissed votes *and* at least
  ``suppress_share`` (80 %) of all votes on it. Three independent votes (one per person and
  finding) separate a pattern from one developer's bad day; the share keeps a rule that is
  also often accepted. Weaker evidence (``lower_after`` = 2 votes, ``lower_share`` = 50 %)
  only lowers the rule's confidence (× ``confidence_factor`` = 0.5), so its findings sink
  below the fix threshold and behind confident findings in the inline cap.
- **A finding** (``apply_learning``) is held back when its code is near (cosine ≥
  ``similarity``, 0.85) code of the same rule that developers rejected or dismissed in the
  same repository: one rejection is enough, because it is about this code pattern, not the
  rule. 0.85 was measured with the shipped MiniLM model: the same statement with a renamed
  table or identifier scores 0.88–0.96, a different statement of the same rule 0.27–0.56.

Accepted feedback never suppresses: a rejected match is ignored when an accepted finding of
the rule is at least as close. People decide last: ``keep`` (``.reviewer.toml`` or the
dashboard's undo) means never suppressed nor lowered; ``suppress`` means suppressed whatever
the counts. ``.reviewer.toml`` is read from the base branch and reviewed like code, so it
wins over the dashboard when both speak about a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from reviewer.feedback import Verdict
from reviewer.findings import Finding, Severity
from reviewer.repo_config import LearningOptions

#: The code of a finding that is embedded: its flagged lines, capped (no surrounding context,
#: which differs between pull requests and would hide the same pattern).
MAX_CODE_LINES = 12
MAX_CODE_CHARS = 1_000


class RuleAction(StrEnum):
    SUPPRESSED = "suppressed"
    LOWERED = "lowered"
    KEPT = "kept"  # a person said keep
    UNTOUCHED = "untouched"


class DecidedBy(StrEnum):
    FEEDBACK = "feedback"
    DASHBOARD = "dashboard"
    CONFIG = "config"  # .reviewer.toml [learning]


class RuleTally(Protocol):
    """Verdict counts of one rule in one repository (``storage.feedback.RuleVerdicts``)."""

    repo: str
    rule: str
    accepted: int
    rejected: int
    dismissed: int
    first_at: datetime | None


@dataclass(frozen=True)
class PersonDecision:
    """An override set on the dashboard (``storage.LearningOverride``): keep or suppress."""

    rule: str
    action: str  # "keep" | "suppress"
    by: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RuleDecision:
    repo: str
    rule: str
    action: RuleAction
    reason: str
    decided_by: DecidedBy
    accepted: int = 0
    rejected: int = 0
    dismissed: int = 0
    since: datetime | None = None

    @property
    def total(self) -> int:
        return self.accepted + self.rejected + self.dismissed

    @property
    def negative(self) -> int:
        return self.rejected + self.dismissed


def _counts_text(t: RuleTally, repo: str) -> str:
    total = t.accepted + t.rejected + t.dismissed
    parts = [f"rejected {t.rejected}"] if t.rejected else []
    parts += [f"dismissed {t.dismissed}"] if t.dismissed else []
    if not parts:
        parts = [f"accepted {t.accepted}"]
    text = f"{' and '.join(parts)} of {total} time{'s' if total != 1 else ''} in {repo}"
    if t.first_at is not None:
        text += f" since {t.first_at.date().isoformat()}"
    return text


def decide_rule(
    repo: str,
    rule: str,
    tally: RuleTally | None,
    options: LearningOptions,
    person: PersonDecision | None = None,
) -> RuleDecision:
    """What happens to ``rule`` in ``repo``, with the reason a person reads on the dashboard."""
    counts = {}
    if tally is not None:
        counts = {
            "accepted": tally.accepted, "rejected": tally.rejected, "dismissed": tally.dismissed,
            "since": tally.first_at,
        }

    def decision(action: RuleAction, reason: str, by: DecidedBy) -> RuleDecision:
        return RuleDecision(repo, rule, action, reason, by, **counts)

    lowered = rule.lower()
    if lowered in {r.lower() for r in options.keep}:
        return decision(RuleAction.KEPT, "kept by .reviewer.toml [learning] keep", DecidedBy.CONFIG)
    if lowered in {r.lower() for r in options.suppress}:
        return decision(RuleAction.SUPPRESSED, "suppressed by .reviewer.toml [learning] suppress", DecidedBy.CONFIG)
    if person is not None:
        who = f" by {person.by}" if person.by else ""
        why = f": {person.reason}" if person.reason else ""
        if person.action == "keep":
            return decision(RuleAction.KEPT, f"kept{who} on the dashboard{why}", DecidedBy.DASHBOARD)
        return decision(RuleAction.SUPPRESSED, f"suppressed{who} on the dashboard{why}", DecidedBy.DASHBOARD)
    if tally is None:
        return decision(RuleAction.UNTOUCHED, "no feedback yet", DecidedBy.FEEDBACK)
    total = tally.accepted + tally.rejected + tally.dismissed
    negative = tally.rejected + tally.dismissed
    share = negative / total if total else 0.0
    said = _counts_text(tally, repo)
    if negative >= options.suppress_after and share >= options.suppress_share:
        return decision(RuleAction.SUPPRESSED, said, DecidedBy.FEEDBACK)
    if negative >= options.lower_after and share >= options.lower_share:
        return decision(
            RuleAction.LOWERED, f"{said}: confidence × {options.confidence_factor:g}", DecidedBy.FEEDBACK
        )
    return decision(RuleAction.UNTOUCHED, f"{said}: below the thresholds", DecidedBy.FEEDBACK)


def decide_rules(
    repo: str,
    tallies: Iterable[RuleTally],
    persons: Mapping[str, PersonDecision],
    options: LearningOptions,
) -> dict[str, RuleDecision]:
    """A decision for every rule with feedback, an override or a ``[learning]`` entry."""
    by_rule = {t.rule: t for t in tallies if t.repo == repo}
    rules = {*by_rule, *persons, *options.keep, *options.suppress}
    return {rule: decide_rule(repo, rule, by_rule.get(rule), options, persons.get(rule)) for rule in sorted(rules)}


# --- per finding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PastFeedback:
    """A stored verdict on a finding of the same repository, and how close its code is."""

    id: int
    rule: str
    verdict: Verdict
    similarity: float
    pr_number: int
    path: str
    actor: str | None = None
    reason: str | None = None
    occurred_at: datetime | None = None
    code: str | None = None


@dataclass(frozen=True)
class HeldBack:
    """A finding not posted, and why."""

    fingerprint: str
    rule: str
    path: str
    line: int
    reason: str
    by: str  # "rule" | "similar"
    feedback_id: int | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class Lowered:
    fingerprint: str
    rule: str
    path: str
    line: int
    before: float
    after: float
    reason: str


@dataclass(frozen=True)
class LearningOutcome:
    findings: list[Finding]
    held_back: list[HeldBack] = field(default_factory=list)
    lowered: list[Lowered] = field(default_factory=list)

    def record(self, **extra: object) -> dict:
        """The JSON kept in the review's run record."""
        return {
            "held_back": [asdict(h) for h in self.held_back],
            "lowered": [asdict(low) for low in self.lowered],
            **extra,
        }


def _similar_reason(match: PastFeedback, repo: str) -> str:
    verb = "rejected" if match.verdict == Verdict.REJECTED else "dismissed"
    when = f" on {match.occurred_at.date().isoformat()}" if match.occurred_at else ""
    who = f" by {match.actor}" if match.actor else ""
    why = f' ("{match.reason[:120]}")' if match.reason else ""
    return (
        f"similar ({match.similarity:.2f}) to a finding {verb}{who} in {repo} "
        f"PR #{match.pr_number} ({match.path}){when}{why}"
    )


#: How many different people must have rejected similar code before a *critical* finding is
#: held back: one developer's "not here" should not silence the findings that matter most.
CRITICAL_VOTERS = 2


def rejected_match(
    matches: Sequence[PastFeedback], threshold: float, *, voters: int = 1
) -> PastFeedback | None:
    """The closest rejected/dismissed verdict at or above ``threshold``, unless an accepted
    one is at least as close (accepted feedback never suppresses), and only when at least
    ``voters`` different people gave such verdicts."""
    negative = [m for m in matches if m.verdict != Verdict.ACCEPTED and m.similarity >= threshold]
    if not negative or len({m.actor for m in negative}) < voters:
        return None
    best = max(negative, key=lambda m: m.similarity)
    accepted = [m.similarity for m in matches if m.verdict == Verdict.ACCEPTED]
    if accepted and max(accepted) >= best.similarity:
        return None
    return best


def apply_learning(
    repo: str,
    findings: Sequence[Finding],
    decisions: Mapping[str, RuleDecision],
    similar: Mapping[str, Sequence[PastFeedback]],
    options: LearningOptions,
) -> LearningOutcome:
    """The findings to post (lowered ones with their new confidence), and those held back.

    ``similar`` maps a finding's fingerprint to the nearest past verdicts on its rule in
    ``repo`` (none when no embedding was available: then only rule decisions apply).
    """
    if not options.enabled:
        return LearningOutcome(list(findings))
    by_rule = {rule.lower(): d for rule, d in decisions.items()}
    kept: list[Finding] = []
    held: list[HeldBack] = []
    lowered: list[Lowered] = []
    for f in findings:
        decision = by_rule.get(f.rule.lower())
        action = decision.action if decision is not None else RuleAction.UNTOUCHED
        if action == RuleAction.KEPT:
            kept.append(f)
            continue
        if action == RuleAction.SUPPRESSED:
            held.append(HeldBack(f.fingerprint, f.rule, f.path, f.line, f"rule {f.rule}: {decision.reason}", "rule"))
            continue
        voters = CRITICAL_VOTERS if f.severity == Severity.CRITICAL else 1
        match = rejected_match(similar.get(f.fingerprint, ()), options.similarity, voters=voters)
        if match is not None:
            held.append(
                HeldBack(
                    f.fingerprint, f.rule, f.path, f.line, _similar_reason(match, repo), "similar",
                    feedback_id=match.id, similarity=round(match.similarity, 4),
                )
            )
            continue
        if action == RuleAction.LOWERED:
            after = round(f.confidence * options.confidence_factor, 4)
            lowered.append(Lowered(f.fingerprint, f.rule, f.path, f.line, f.confidence, after, decision.reason))
            f = f.model_copy(update={"confidence": after})
        kept.append(f)
    return LearningOutcome(kept, held, lowered)


def finding_code(finding: Finding, text: str | None) -> str | None:
    """The code a finding is about, as embedded for similarity: its lines, stripped, capped.

    The signals side stores feedback with the embedding of this same text, so new findings
    and past verdicts are compared like with like.
    """
    return flagged_code(text, finding.line, finding.last_line)


def flagged_code(text: str | None, line: int, end_line: int | None = None) -> str | None:
    """Lines ``line..end_line`` of ``text``, stripped and capped: the text both sides embed."""
    if not text:
        return None
    lines = text.splitlines()[line - 1 : end_line or line][:MAX_CODE_LINES]
    code = "\n".join(part.strip() for part in lines if part.strip())
    return code[:MAX_CODE_CHARS] or None


# --- few-shot context for the LLM ----------------------------------------------------------

#: The examples' share of a prompt: about 300 tokens, measured inside the request's fixed
#: part, so the token budget still holds (the code chunks get that much less room).
MAX_EXAMPLE_CHARS = 1_200
MIN_EXAMPLE_SIMILARITY = 0.5


def few_shot_text(examples: Sequence[tuple[PastFeedback, str]], *, max_chars: int = MAX_EXAMPLE_CHARS) -> str:
    """Past verdicts as prompt lines ("developers here rejected this kind of finding: ...").

    The text holds code and reasons from earlier pull requests: the prompt puts it inside
    the untrusted-data boundary.
    """
    lines: list[str] = []
    used = 0
    for past, message in examples:
        if past.similarity < MIN_EXAMPLE_SIMILARITY:
            continue
        verb = {
            Verdict.ACCEPTED: "accepted",
            Verdict.REJECTED: "rejected",
            Verdict.DISMISSED: "dismissed",
        }[past.verdict]
        code = " ".join((past.code or "").split())[:200]
        line = f"- developers here {verb} this kind of finding: {past.rule}"
        if message:
            line += f" — {' '.join(message.split())[:200]}"
        if code:
            line += f" — code: {code}"
        if past.reason:
            line += f" — their reason: {' '.join(past.reason.split())[:160]}"
        if used + len(line) + 1 > max_chars:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)

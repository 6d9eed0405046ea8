"""generate_fixes' work: validated fixes for the merged findings, some of them asked of the LLM.

Deterministic fixes come first (``reviewer.fixes``). For the few confident findings left
without one, :class:`LLMFixer` asks the configured model — through the LLM pass's own
completer (shared rate limiter, retries, circuit breaker) and the review's dollar ledger, so
a fix is asked only while the per-PR cap leaves room. Its calls are recorded as a ``fixes``
step beside the agents (tokens, cost), so the summary's totals include them. Without an API
key there is no fixer and nothing else changes.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded

from reviewer.diff import parse_file_patch
from reviewer.findings import Finding
from reviewer.fixes import generate_fixes
from reviewer.fixes.llm import FIX_AGENT, FIX_PROMPT_VERSION, fix_from_answer, fix_messages
from reviewer.fixes.source import Fix, Source
from reviewer.llm.agent_pass import MODE_COST_CAP, MODE_LLM, MODE_UNAVAILABLE
from reviewer.llm.calls import ChunkRequest, review_chunk
from reviewer.llm.prompts import BoundaryCollision, repo_instructions
from reviewer.llm.schema import schema_prompt_tokens
from reviewer.llm.tokens import count_messages
from reviewer.payloads import AgentResult, AgentStatus
from reviewer.snapshot import PullRequestSnapshot

#: The step's name in the review's run record (beside the four agents).
FIXES_STEP = FIX_AGENT


@dataclass
class LLMFixer:
    """Asks the LLM pass' model for one finding's fix at a time; never raises.

    Stops asking once the provider is unavailable (breaker open, retries exhausted) or the
    review's dollar cap would be passed; each answer is only a candidate until validated.
    """

    service: object  # reviewer.adapters.llm.LLMReviewService
    review_key: str
    model: str
    config_files: dict[str, str]
    log: object
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    proposed: set[str] = field(default_factory=set)  # fingerprints
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None
    stop_mode: str = MODE_UNAVAILABLE
    started: float = field(default_factory=time.monotonic)

    def __call__(self, finding: Finding, source: Source) -> Fix | None:
        if self.stopped is not None:
            return None
        try:
            return self._ask(finding, source)
        except SoftTimeLimitExceeded:
            self.stopped = "stopped at the task's time limit"
        except Exception as exc:  # a fix is optional: the finding stays advice
            self.log.exception("fixes.llm_failed", fingerprint=finding.fingerprint)
            self.problems.append(f"{type(exc).__name__}: {exc}"[:200])
        return None

    def _ask(self, finding: Finding, source: Source) -> Fix | None:
        service = self.service
        messages = self._messages(finding, source)
        max_output = service.config.policy.max_output_tokens
        ledger = service.ledger(self.review_key)
        # the structured-output schema is billed as input too
        prompt = count_messages(messages, service.count) + schema_prompt_tokens(service.count)
        estimate = service.prices.cost(self.model, prompt, max_output)
        cap = service.config.usd_cap_per_pr
        if ledger.spent() + estimate > cap:
            self.stopped = f"per-PR LLM cost cap ${cap:g} reached"
            self.stop_mode = MODE_COST_CAP
            return None
        request = ChunkRequest(
            agent=FIX_AGENT, code="\n".join(source.lines[finding.line - 1 : finding.last_line]),
            prompt_version=FIX_PROMPT_VERSION, model=self.model, messages=messages,
            max_output_tokens=max_output,
        )
        answer = review_chunk(request, complete=service.complete, count=service.count)
        cost = sum(
            service.prices.cost(c.model, c.prompt_tokens, c.completion_tokens, c.cached_tokens)
            for c in answer.calls
        )
        if cost:
            ledger.add(cost)
        self.calls += len(answer.calls)
        self.tokens += sum(c.total for c in answer.calls)
        self.cost += cost
        if answer.unavailable is not None:
            self.stopped = f"LLM unavailable: {answer.unavailable}"
            return None
        if answer.malformed is not None:
            self.problems.append(answer.malformed[:200])
            self.log.warning("fixes.llm_answer_invalid", fingerprint=finding.fingerprint)
            return None
        fix = fix_from_answer(finding, source, answer.findings)
        if fix is not None:
            self.proposed.add(finding.fingerprint)
        return fix

    def _messages(self, finding: Finding, source: Source) -> list[dict[str, str]]:
        instructions = repo_instructions(self.config_files, [finding.path])
        for _ in range(8):
            try:
                return fix_messages(finding, source, nonce=secrets.token_hex(8), instructions=instructions)
            except BoundaryCollision:
                continue
        raise RuntimeError("could not find a boundary nonce absent from the pull request")

    def result(self, fixed: list[Finding]) -> AgentResult | None:
        """The ``fixes`` step for the run record, or None when no call was even tried."""
        if not self.calls and self.stopped is None and not self.problems:
            return None
        offered = sum(1 for f in fixed if f.suggestion is not None and f.fingerprint in self.proposed)
        notes = [*self.problems[:3]]
        if self.stopped:
            notes.append(self.stopped)
        return AgentResult(
            agent=FIXES_STEP,
            status=AgentStatus.OK,
            mode=MODE_LLM if self.calls else self.stop_mode,
            tokens=self.tokens,
            cost_usd=round(self.cost, 6),
            duration_s=round(time.monotonic() - self.started, 4),
            error="; ".join([f"{offered} of {len(self.proposed)} LLM fixes passed validation", *notes])
            if self.proposed or notes
            else None,
        )


def with_fixes(
    findings: list[Finding], snapshot: PullRequestSnapshot | None, services, *, review_id: int, log,
    posted: set[str] = frozenset(),
) -> tuple[list[Finding], AgentResult | None]:
    """The findings with validated suggestions, and the LLM fixes' step (None if unused).

    ``posted``: fingerprints earlier reviews of the PR reported (inline or in a body); the LLM
    is not asked to fix those again (they are not posted again). Deterministic fixes cost
    nothing and still apply.

    On any trouble, the findings come back without suggestions: an unvalidated suggestion
    is never offered.
    """
    if snapshot is None:
        return [f.model_copy(update={"suggestion": None}) for f in findings], None
    settings = services.settings
    fixer = None
    if services.llm is not None and settings.llm_fix_max_findings > 0:
        fixer = LLMFixer(
            service=services.llm, review_key=str(review_id), model=settings.llm_model_fixes,
            config_files=snapshot.config_files, log=log,
        )
    try:
        diffs = {
            f.path: parse_file_patch(f.path, f.patch, status=str(f.status), previous_path=f.previous_path)
            for f in snapshot.files
        }
        texts = {f.path: f.head_content for f in snapshot.files}
        fixed = generate_fixes(
            findings, texts, diffs, threshold=settings.fix_confidence_threshold,
            ask_llm=fixer, llm_limit=settings.llm_fix_max_findings, posted=posted,
        )
    except Exception:
        log.exception("fixes.failed")
        return [f.model_copy(update={"suggestion": None}) for f in findings], None
    step = fixer.result(fixed) if fixer is not None else None
    if fixer is not None:
        log.info(
            "fixes.llm", calls=fixer.calls, tokens=fixer.tokens, cost_usd=round(fixer.cost, 6),
            proposed=len(fixer.proposed), stopped=fixer.stopped,
        )
    log.info("fixes.generated", suggestions=sum(1 for f in fixed if f.suggestion is not None))
    return fixed, step

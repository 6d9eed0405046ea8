"""The shared agent machinery: pick files, run analyzers under time limits, shape the findings.

An agent never raises: whatever goes wrong becomes ``AgentResult(status="failed")`` with the
exception named, because a raising header task would cancel the whole chord (DESIGN §2).
Analyzers of one agent run concurrently in daemon threads, each against its own deadline: a
subprocess engine (ruff) then overlaps with the in-process ones, and an engine that overruns
leaves skip notes for its files instead of holding the review. A thread cannot be killed; an
overrunning one is abandoned and ends with the worker's hard time limit at the latest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from reviewer.agents import shaping
from reviewer.analyzers.base import Analyzer, AnalyzerOutput, SourceFile
from reviewer.analyzers.intake import DEFAULT_MAX_BYTES, intake
from reviewer.findings import Category
from reviewer.payloads import AgentResult, AgentStatus, SkipNote
from reviewer.snapshot import PullRequestSnapshot

# Extra time granted after an analyzer's deadline for it to return what it finished (they
# check the deadline between files) before it is abandoned.
GRACE_S = 1.0


class AgentOptions(BaseModel):
    """Per-run knobs, filled by the caller from settings and the repo's ``.reviewer.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    analyzer_time_limit_s: float = Field(default=30.0, gt=0)
    # Caps on what an agent keeps (worst first). What a developer is shown inline is capped
    # again, lower, when the review is posted (REVIEWER_INLINE_COMMENT_CAP); the rest is
    # listed in the review body. These caps only stop a pathological file or PR (generated
    # code, a vendored tree) from flooding storage and the summary.
    max_findings_per_file: int = Field(default=40, ge=0)
    max_findings_per_pr: int = Field(default=150, ge=0)
    max_file_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    # Module (its submodules too) -> why it is banned ('' for no reason given).
    banned_imports: dict[str, str] = Field(default_factory=dict)


AnalyzerFactory = Callable[[AgentOptions], Sequence[Analyzer]]


@dataclass(frozen=True)
class Agent:
    """One review dimension: the analyzers it composes and the category it reports under.

    ``analyzers`` is a factory so engines that depend on options (a ban list) are built per
    run from plain settings.
    """

    name: str
    category: Category
    analyzers: AnalyzerFactory

    def run(
        self, snapshot: PullRequestSnapshot, options: AgentOptions | None = None
    ) -> AgentResult:
        started = time.perf_counter()
        try:
            findings, skipped = self._review(snapshot, options or AgentOptions())
        except Exception as exc:  # noqa: BLE001 - the contract: never raise into the chord
            return AgentResult(
                agent=self.name,
                status=AgentStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}",
                duration_s=time.perf_counter() - started,
            )
        return AgentResult(
            agent=self.name,
            status=AgentStatus.OK,
            findings=findings,
            skipped=skipped,
            duration_s=time.perf_counter() - started,
        )

    def _review(self, snapshot: PullRequestSnapshot, options: AgentOptions):
        analyzers = list(self.analyzers(options))
        sources, skipped = self._sources(snapshot, analyzers, options)
        outputs = run_analyzers(analyzers, sources, time_limit_s=options.analyzer_time_limit_s)
        by_path = {source.path: source for source in sources}
        hits = []
        for output in outputs:
            hits.extend(output.hits)
            skipped.extend(output.skipped)
        hits = shaping.on_changed_lines(hits, by_path)
        hits = shaping.recategorise(hits, self.category)
        hits = shaping.deduplicate(hits)
        findings = shaping.fingerprint(hits, by_path)
        findings, capped = shaping.rank_and_cap(
            findings,
            per_file=options.max_findings_per_file,
            per_pr=options.max_findings_per_pr,
            agent=self.name,
        )
        return findings, _unique(skipped + capped)

    @staticmethod
    def _sources(
        snapshot: PullRequestSnapshot, analyzers: Sequence[Analyzer], options: AgentOptions
    ) -> tuple[list[SourceFile], list[SkipNote]]:
        sources, skipped = [], []
        for changed in snapshot.files:
            if not any(analyzer.handles(changed.path) for analyzer in analyzers):
                continue
            prepared = intake(changed, max_bytes=options.max_file_bytes)
            if isinstance(prepared, SkipNote):
                skipped.append(prepared)
            elif prepared is not None:
                sources.append(prepared)
        return sources, skipped


def run_analyzers(
    analyzers: Sequence[Analyzer], sources: Sequence[SourceFile], *, time_limit_s: float
) -> list[AnalyzerOutput]:
    """Each analyzer on the files it handles, concurrently, each within ``time_limit_s``.

    An analyzer that raises makes this raise (after the others finish or time out): that is a
    bug in the engine, and the agent reports it as a failure rather than hiding it.
    """
    runs = []
    for analyzer in analyzers:
        mine = [source for source in sources if analyzer.handles(source.path)]
        if mine:
            runs.append(_AnalyzerRun(analyzer, mine, time_limit_s))
    for run in runs:
        run.start()
    outputs = [run.join() for run in runs]
    for run in runs:
        if run.error is not None:
            raise run.error
    return outputs


class _AnalyzerRun:
    def __init__(self, analyzer: Analyzer, sources: list[SourceFile], time_limit_s: float):
        self.analyzer = analyzer
        self.sources = sources
        self.time_limit_s = time_limit_s
        self.output: AnalyzerOutput | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(
            target=self._target, name=f"analyzer-{analyzer.name}", daemon=True
        )
        self._deadline = 0.0

    def start(self) -> None:
        self._deadline = time.monotonic() + self.time_limit_s
        self._thread.start()

    def _target(self) -> None:
        try:
            self.output = self.analyzer.analyze_all(self.sources, deadline=self._deadline)
        except Exception as exc:  # noqa: BLE001 - re-raised in the calling thread
            self.error = exc

    def join(self) -> AnalyzerOutput:
        self._thread.join(max(self._deadline - time.monotonic(), 0.0) + GRACE_S)
        if self._thread.is_alive():
            return AnalyzerOutput(
                skipped=[
                    SkipNote(
                        path=source.path,
                        reason=f"{self.analyzer.name}: exceeded its time limit of "
                        f"{self.time_limit_s:g} s",
                    )
                    for source in self.sources
                ]
            )
        return self.output or AnalyzerOutput()


def _unique(notes: list[SkipNote]) -> list[SkipNote]:
    return list(dict.fromkeys(notes))

"""A repository's ``.reviewer.toml`` (read from the BASE branch): parsed, validated, applied.

Read from the base commit so a pull request cannot relax the rules it is reviewed by. A
broken file never breaks a review: the defaults are used and the problem is shown as a note
in the review, so the team sees why its settings had no effect. Pure: no I/O.

    [paths]
    exclude = ["migrations/**", "*.min.js"]
    include = ["app/**"]                     # optional: only these paths are reviewed

    [rules]
    disable = ["ruff-F401", "sql-injection"]  # by rule name

    [review]
    min_severity = "low"                      # info | low | medium | high | critical
    inline_comment_cap = 10

    [[instructions]]
    path = "app/payments/**"
    text = "Amounts are integers in cents; flag any float arithmetic on money."

    [learning]                                # what feedback may change (reviewer.learning)
    enabled = true
    keep = ["sql-injection"]                  # never suppressed here, whatever the feedback
    suppress = ["magic-number"]               # suppressed here by the team's decision

The ``[architecture]`` table is read by ``reviewer.analyzers.arch_reviewer_config``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewer.findings import Finding, Severity
from reviewer.payloads import SkipNote
from reviewer.snapshot import PullRequestSnapshot

CONFIG_NAME = ".reviewer.toml"
#: A repository may lower or raise the inline cap, but never beyond this.
MAX_INLINE_CAP = 50
EXCLUDED_REASON = f"excluded by {CONFIG_NAME} [paths]"
MAX_INSTRUCTION_CHARS = 2_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathFilters(_Section):
    include: list[str] = []
    exclude: list[str] = []


class RuleSwitches(_Section):
    disable: list[str] = []


class ReviewOptions(_Section):
    min_severity: Severity = Severity.INFO
    inline_comment_cap: int | None = Field(default=None, ge=0, le=MAX_INLINE_CAP)


class LearningOptions(_Section):
    """``[learning]``: whether and how developers' feedback changes this repository's reviews.

    The defaults and the reasons for them are in ``reviewer.learning`` (docs/learning.md).
    """

    enabled: bool = True
    # Rule-wide suppression: at least this many rejections (rejected + dismissed, one vote
    # per person and finding) and at least this share of all verdicts on the rule.
    suppress_after: int = Field(default=3, ge=1, le=1000)
    suppress_share: float = Field(default=0.8, gt=0.0, le=1.0)
    # Weaker evidence lowers the rule's confidence instead (multiplied by ``confidence_factor``).
    lower_after: int = Field(default=2, ge=1, le=1000)
    lower_share: float = Field(default=0.5, gt=0.0, le=1.0)
    confidence_factor: float = Field(default=0.5, ge=0.0, le=1.0)
    # A finding whose code is this close (cosine) to code developers rejected here is held back.
    similarity: float = Field(default=0.85, ge=0.5, le=1.0)
    keep: list[str] = []
    suppress: list[str] = []


class PathInstruction(_Section):
    path: str = "**"
    text: str = Field(min_length=1, max_length=MAX_INSTRUCTION_CHARS)


class RepoConfig(_Section):
    """The validated file; every section optional, defaults change nothing."""

    paths: PathFilters = PathFilters()
    rules: RuleSwitches = RuleSwitches()
    review: ReviewOptions = ReviewOptions()
    instructions: list[PathInstruction] = []
    architecture: dict[str, Any] = {}
    learning: LearningOptions = LearningOptions()

    @field_validator("instructions", mode="before")
    @classmethod
    def _table_form(cls, value: Any) -> Any:
        """``[instructions] general = "..."`` (a table) is accepted too: for every path."""
        if isinstance(value, dict):
            return [{"path": "**", "text": f"{key}: {text}"} for key, text in value.items()]
        return value


class LoadedConfig(BaseModel):
    """The configuration in effect, and what was wrong with the file (if anything)."""

    model_config = ConfigDict(frozen=True)

    config: RepoConfig = RepoConfig()
    problem: str | None = None
    present: bool = False

    def note(self) -> SkipNote | None:
        """The review's note about a broken file (None when the file is fine or absent)."""
        if self.problem is None:
            return None
        return SkipNote(path=CONFIG_NAME, reason=f"not applied, defaults used: {self.problem}")


def load_repo_config(config_files: Mapping[str, str]) -> LoadedConfig:
    """The repository's configuration from the base branch's files; never raises."""
    text = config_files.get(CONFIG_NAME)
    if text is None:
        return LoadedConfig()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return LoadedConfig(problem=f"invalid TOML ({exc})"[:300], present=True)
    try:
        return LoadedConfig(config=RepoConfig.model_validate(data), present=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:3]
        )
        return LoadedConfig(problem=problems[:300], present=True)


# -- applying it ------------------------------------------------------------------------------


def path_matches(path: str, pattern: str) -> bool:
    """Glob match; ``**`` spans directories, ``dir/**`` covers everything under ``dir``, and a
    pattern without ``/`` also matches the file name alone (``*.min.js`` anywhere)."""
    if fnmatchcase(path, pattern):
        return True
    if pattern.endswith("/**") and (path + "/").startswith(pattern[:-2]):
        return True
    return "/" not in pattern and fnmatchcase(path.rsplit("/", 1)[-1], pattern)


def is_reviewed(path: str, config: RepoConfig) -> bool:
    """Whether the path filters let ``path`` be reviewed."""
    filters = config.paths
    if filters.include and not any(path_matches(path, p) for p in filters.include):
        return False
    return not any(path_matches(path, p) for p in filters.exclude)


def filter_snapshot(snapshot: PullRequestSnapshot, config: RepoConfig) -> PullRequestSnapshot:
    """Files the filters exclude keep only a skip reason (no patch, no content): the agents
    cannot analyse them and the review says why."""
    files = [
        f if is_reviewed(f.path, config)
        else f.model_copy(update={"patch": None, "head_content": None, "skip_reason": EXCLUDED_REASON})
        for f in snapshot.files
    ]
    return snapshot.model_copy(update={"files": files})


def apply_to_findings(
    findings: Iterable[Finding], config: RepoConfig, *, ignored: Iterable[str] = ()
) -> list[Finding]:
    """Findings without disabled rules, below the severity threshold, on excluded paths, or
    ignored by a ``/reviewer ignore`` command (rule name or fingerprint)."""
    disabled = {r.lower() for r in config.rules.disable} | {v.lower() for v in ignored}
    floor = config.review.min_severity.rank
    return [
        f
        for f in findings
        if f.rule.lower() not in disabled
        and (not f.fingerprint or f.fingerprint.lower() not in disabled)
        and f.severity.rank >= floor
        and is_reviewed(f.path, config)
    ]


def inline_cap(config: RepoConfig, default: int) -> int:
    """The repository's inline-comment cap, else the service's."""
    cap = config.review.inline_comment_cap
    return default if cap is None else cap


def instructions_for(config: RepoConfig, paths: Iterable[str]) -> str:
    """The instructions whose path pattern matches any of ``paths``, as lines for a prompt."""
    wanted = list(paths)
    lines = [
        f"- ({i.path}) {i.text}"
        for i in config.instructions
        if i.path in ("**", "*") or any(path_matches(p, i.path) for p in wanted)
    ]
    return "\n".join(lines)[:MAX_INSTRUCTION_CHARS]

"""The Finding: the unit every agent, task and tool passes around (DESIGN §3 contract)."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Category(StrEnum):
    SECURITY = "security"
    PERFORMANCE = "performance"
    QUALITY = "quality"
    ARCHITECTURE = "architecture"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; for sorting and thresholds."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}

_WHITESPACE = re.compile(r"\s+")


def normalise_code(text: str) -> str:
    """Code with whitespace collapsed, so fingerprints survive re-indentation and line shifts."""
    return _WHITESPACE.sub(" ", text).strip()


def fingerprint_for(*, path: str, rule: str, category: str, code: str, occurrence: int = 0) -> str:
    """A stable hash of what a finding is about, independent of its line number.

    Built from the path, the rule and the normalised text of the flagged code, so the same
    problem keeps its fingerprint when lines above it move. ``occurrence`` tells apart
    identical lines flagged by the same rule in one file.
    """
    material = "\x1f".join([path, category, rule, normalise_code(code), str(occurrence)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


class Finding(BaseModel):
    """One problem on the head side of a pull request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)
    category: Category
    severity: Severity
    rule: str
    cwe: str | None = None
    message: str
    confidence: float = Field(ge=0.0, le=1.0)
    suggestion: str | None = None
    source: str
    fingerprint: str = ""

    @model_validator(mode="after")
    def _check_range(self) -> Finding:
        if self.end_line is not None and self.end_line < self.line:
            raise ValueError(f"end_line {self.end_line} is before line {self.line}")
        if self.cwe is not None and not re.fullmatch(r"CWE-\d+", self.cwe):
            raise ValueError(f"cwe must look like 'CWE-89', got {self.cwe!r}")
        return self

    @property
    def last_line(self) -> int:
        return self.end_line or self.line

    def sort_key(self) -> tuple:
        """Worst first, then most confident, then by place."""
        return (-self.severity.rank, -self.confidence, self.path, self.line, self.rule)

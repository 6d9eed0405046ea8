"""The ground truth of one evaluation case, as ``truth.json`` describes it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CATEGORIES: tuple[str, ...] = ("security", "performance", "quality", "architecture")

# Tolerance (lines either side) for labels that do not carry their own: a line label marks
# one statement, and tools legitimately report a neighbouring line of it.
DEFAULT_TOLERANCE = 3
# Known-clean lines are judged with a tight window so a true hit next to them is not an FP.
CLEAN_TOLERANCE = 1


class Label(BaseModel):
    """A head-side line (or region, with ``end_line``) that carries a real problem."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    path: str
    line: int
    end_line: int | None = None
    cwe: str | None = None
    rule: str | None = None
    kind: str | None = None
    # Regions carry 1: they already span the statement or function.
    tol: int | None = None

    @property
    def last_line(self) -> int:
        return self.end_line or self.line

    def tolerance(self, default: int = DEFAULT_TOLERANCE) -> int:
        return default if self.tol is None else self.tol


class CleanLine(BaseModel):
    """A head-side line known to be clean for the case's category (an ``# ok:`` annotation)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    path: str
    line: int
    end_line: int | None = None
    rule: str | None = None

    @property
    def last_line(self) -> int:
        return self.end_line or self.line


class CaseTruth(BaseModel):
    """One case: which category it measures, its labels, and how exhaustive they are."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: str
    category: Literal["security", "performance", "quality", "architecture"]
    polarity: Literal["pos", "neg"]
    whole_file_truth: bool = False
    corpus: str | None = None
    subtype: str | None = None
    labels: list[Label] = Field(default_factory=list)
    negatives: list[CleanLine] = Field(default_factory=list)
    base: str = Field(description="the base commit SHA in the case's repository")
    head: str = Field(description="the head commit SHA (the pull request)")

    @property
    def exhaustive(self) -> bool:
        """Any unmatched finding of the category is wrong: a clean PR, or complete labels."""
        return self.polarity == "neg" or self.whole_file_truth

"""Seed PR reviews for report and dashboard tests, through the storage repositories.

Rows are written by the same repository functions the canvas uses; only the timestamps are
then moved (one UPDATE) to the day and times a test needs, since the database stamps
``now()`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update

from reviewer.adapters.storage import AgentRun, Review, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.findings import Finding
from reviewer.payloads import AgentResult


@dataclass
class SeededReview:
    repo: str
    pr_number: int
    created_at: datetime
    # (category, rule, severity) per finding
    findings: list[tuple[str, str, str]] = field(default_factory=list)
    duration_s: float = 60.0
    status: ReviewStatus = ReviewStatus.POSTED
    # agent -> (status, start offset s, duration s, tokens, cost)
    agents: dict[str, tuple[str, float, float, int, float]] = field(default_factory=dict)
    error: str | None = None
    id: int = 0


def seed(db, reviews: list[SeededReview]) -> list[SeededReview]:
    """Store each review with its agent runs and findings; fills in ``id``."""
    for n, seeded in enumerate(reviews):
        with db.session() as s:
            review, _ = repo.get_or_create_review(
                s, source="github", repo=seeded.repo, pr_number=seeded.pr_number,
                head_sha=f"{n:040x}", base_sha="0" * 40, installation_id=1, trigger="opened",
            )
            seeded.id = review.id
            repo.set_review_status(s, review.id, seeded.status, error=seeded.error)
            for agent, (status, _start, duration, tokens, cost) in seeded.agents.items():
                repo.save_agent_result(
                    s, review.id,
                    AgentResult(agent=agent, status=status, duration_s=duration, tokens=tokens, cost_usd=cost,
                                error=None if status == "ok" else f"{agent} {status}"),
                )
            findings = [
                Finding(path=f"src/{rule}.py", line=i + 1, category=category, severity=severity, rule=rule,
                        message=f"{rule} here", confidence=0.9, source="static:test")
                for i, (category, rule, severity) in enumerate(seeded.findings)
            ]
            repo.save_findings(s, review.id, findings)
            done = seeded.created_at + timedelta(seconds=seeded.duration_s)
            s.execute(
                update(Review).where(Review.id == review.id).values(
                    created_at=seeded.created_at, updated_at=done, started_at=seeded.created_at + timedelta(seconds=1),
                    posted_at=done if seeded.status in (ReviewStatus.POSTED, ReviewStatus.COMPLETED) else None,
                    finished_at=done,
                )
            )
            for agent, (_status, start, duration, _tokens, _cost) in seeded.agents.items():
                began = seeded.created_at + timedelta(seconds=1 + start)
                s.execute(
                    update(AgentRun).where(AgentRun.review_id == review.id, AgentRun.agent == agent)
                    .values(started_at=began, finished_at=began + timedelta(seconds=duration))
                )
    return reviews

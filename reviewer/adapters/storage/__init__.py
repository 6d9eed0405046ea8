"""Review state in Postgres + pgvector: models, migrations, sessions and repository queries."""

from reviewer.adapters.storage import cache, feedback, reports, repositories
from reviewer.adapters.storage.cache_models import ReviewCacheRow
from reviewer.adapters.storage.database import Database
from reviewer.adapters.storage.embedded import resolve_database_url, sqlalchemy_url
from reviewer.adapters.storage.migrate import current_revision, head_revision, upgrade
from reviewer.adapters.storage.models import (
    IN_FLIGHT_REVIEW_STATUSES,
    OPEN_REVIEW_STATUSES,
    AgentRun,
    Base,
    Delivery,
    DeliveryStatus,
    FeedbackRow,
    FindingRow,
    LearningOverride,
    LearningOverrideAction,
    PostedComment,
    PostedKind,
    Review,
    ReviewSource,
    ReviewStatus,
    Snapshot,
)
from reviewer.adapters.storage.report_models import DailyReportRow

__all__ = [
    "IN_FLIGHT_REVIEW_STATUSES",
    "OPEN_REVIEW_STATUSES",
    "AgentRun",
    "Base",
    "DailyReportRow",
    "Database",
    "Delivery",
    "DeliveryStatus",
    "FeedbackRow",
    "FindingRow",
    "LearningOverride",
    "LearningOverrideAction",
    "PostedComment",
    "PostedKind",
    "Review",
    "ReviewCacheRow",
    "ReviewSource",
    "ReviewStatus",
    "Snapshot",
    "cache",
    "current_revision",
    "feedback",
    "head_revision",
    "reports",
    "repositories",
    "resolve_database_url",
    "sqlalchemy_url",
    "upgrade",
]

"""The ``daily_reports`` table: one stored daily summary per UTC day, and where it was sent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, func, text
from sqlalchemy.orm import Mapped, mapped_column

from reviewer.adapters.storage.models import Base


class DailyReportRow(Base):
    """The report of one day (``reviewer.reports.DailyReport`` as JSON).

    Keyed by the day, so a re-run (beat redelivery, ``reviewer report daily --date``) replaces
    the report instead of adding a second one; ``delivery`` remembers each channel it reached,
    so a re-run does not post the same summary to Slack or GitHub twice.
    """

    __tablename__ = "daily_reports"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    generated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    data: Mapped[dict[str, Any]]
    delivery: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))

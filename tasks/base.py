"""The task base class: services, structured logs with ids, and payload validation, once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from celery import Task

if TYPE_CHECKING:
    from tasks.services import Services


class ReviewerTask(Task):
    """Base for every reviewer task: ``self.services`` and a logger bound to the task."""

    abstract = True

    @property
    def services(self) -> Services:
        return self.app.reviewer_services

    def log(self, **ids):
        return structlog.get_logger("reviewer.tasks").bind(
            task=self.name, task_id=self.request.id, **ids
        )

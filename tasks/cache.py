"""The beat-driven prune of the LLM similarity cache: old entries and entries of dead versions."""

from __future__ import annotations

from celery import shared_task

from reviewer.llm.cache import current_versions
from reviewer.llm.prompts import PROMPT_VERSION
from tasks.base import ReviewerTask


@shared_task(bind=True, base=ReviewerTask, name="reviewer.prune_cache", acks_late=False)
def prune_cache(self: ReviewerTask) -> dict:
    """Idempotent: deletes what is older than the max age or keyed to a prompt/model no longer used."""
    s = self.services.settings
    models = [s.llm_model_security, s.llm_model_performance, s.llm_model_quality, s.llm_model_architecture]
    removed = self.services.review_cache.prune(
        older_than_days=s.llm_cache_max_age_days, keep_versions=current_versions(models, PROMPT_VERSION)
    )
    self.log().info("cache.pruned", removed=removed)
    return {"removed": removed}

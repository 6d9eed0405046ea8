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


def connect_llm_warmup(app, settings) -> None:
    """Load the exact token counter (o200k_base, ~2 s) and the local embedding model's weights
    once in the worker's main process, before it forks its children (``worker_init``).

    The children inherit both (copy-on-write: one copy of the ~90 MB weights per host, not one
    per child), so no agent spends its time limit loading them — four children loading them
    at once on two cores took over 5 s. Called by the app factory; nothing runs at import.
    """
    from celery import signals

    def warm(**_) -> None:
        if settings.llm_enabled:
            from reviewer.adapters.llm.tokens import token_counter

            token_counter()
        if settings.embeddings == "local":
            from reviewer.adapters.llm.embeddings import (
                EmbeddingsUnavailable,
                shared_local_embedder,
            )

            try:
                shared_local_embedder().load()
            except EmbeddingsUnavailable:
                pass  # said where it is used: near hits and similarity suppression are off

    signals.worker_init.connect(warm, weak=False, dispatch_uid="reviewer.llm.warmup")

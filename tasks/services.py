"""The dependencies tasks and views use, built lazily from settings (or passed in by tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import redis

from config.settings import Settings
from reviewer.agents.registry import run_agent
from reviewer.payloads import AgentResult
from reviewer.ports import CodeHost
from reviewer.snapshot import PullRequestSnapshot

AgentRunner = Callable[[str, PullRequestSnapshot], AgentResult]


class Services:
    """Connections and adapters, created on first use and shared by one process.

    ``agent_runner`` and ``code_host_factory`` can be replaced: the CLI and test worker
    entrypoints pass their own (a different code host, an agent that fails on purpose).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        agent_runner: AgentRunner | None = None,
        code_host_factory: Callable[[int | None], CodeHost] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.settings = settings
        self._agent_runner = agent_runner
        self._code_host_factory = code_host_factory
        self._database_url = database_url
        self._lock = threading.Lock()

    @cached_property
    def database_url(self) -> str:
        """The configured database, or the embedded server's (started on first use)."""
        from reviewer.adapters.storage import resolve_database_url

        with self._lock:
            return self._database_url or resolve_database_url(
                self.settings.database_url, Path(self.settings.state_dir)
            )

    @cached_property
    def db(self):
        from reviewer.adapters.storage import Database

        return Database(self.database_url)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.settings.redis_url,
            socket_timeout=self.settings.broker_publish_timeout_s,
            socket_connect_timeout=self.settings.broker_publish_timeout_s,
        )

    @cached_property
    def llm(self):
        """The LLM pass (``reviewer.adapters.llm.LLMReviewService``), or None without an API key."""
        if not self.settings.llm_enabled:
            return None
        from reviewer.adapters.llm import RetryPolicy, build_llm_service
        from reviewer.llm.budget import BudgetPolicy

        s = self.settings
        prices = Path(s.llm_prices_file) if s.llm_prices_file else Path(__file__).parents[1] / "config" / "prices.toml"
        return build_llm_service(
            api_key=s.openai_api_key.get_secret_value(),
            base_url=s.openai_base_url,
            models={
                "security": s.llm_model_security,
                "performance": s.llm_model_performance,
                "quality": s.llm_model_quality,
                "architecture": s.llm_model_architecture,
            },
            prices_toml=prices.read_text(),
            redis_client=self.redis,
            policy=BudgetPolicy(
                tokens_per_pr=s.llm_tokens_per_pr,
                max_chunk_tokens=s.llm_max_chunk_tokens,
                max_output_tokens=s.llm_max_output_tokens,
            ),
            usd_cap_per_pr=s.llm_usd_cap_per_pr,
            requests_per_window=s.llm_requests_per_minute,
            tokens_per_window=s.llm_tokens_per_minute,
            window_s=s.llm_rate_window_s,
            breaker_threshold=s.llm_breaker_failures,
            breaker_cooldown_s=s.llm_breaker_cooldown_s,
            retry=RetryPolicy(
                max_attempts=s.llm_max_attempts, backoff_s=s.llm_backoff_s, max_wait_s=s.llm_max_wait_s
            ),
            timeout_s=s.llm_timeout_s,
            json_schema=s.llm_json_schema,
            cache_store=self.review_cache if s.llm_cache_enabled else None,
            embeddings=s.embeddings,
            embeddings_model=s.embeddings_openai_model,
            cache_threshold=s.llm_cache_threshold,
        )

    @cached_property
    def review_cache(self):
        """The similarity cache's store (``review_cache`` in Postgres + pgvector)."""
        from reviewer.adapters.storage.cache import PgReviewCache

        return PgReviewCache(self.db)

    def run_agent(self, name: str, snapshot: PullRequestSnapshot) -> AgentResult:
        if self._agent_runner is not None:
            return self._agent_runner(name, snapshot)
        return run_agent(name, snapshot)

    def code_host(self, installation_id: int | None) -> CodeHost:
        if self._code_host_factory is not None:
            return self._code_host_factory(installation_id)
        return self._github_factory.for_installation(installation_id)

    def code_host_for_repository(self, repo: str) -> CodeHost:
        """A host for work no webhook names an installation for (the daily report's issue)."""
        if self._code_host_factory is not None:
            return self._code_host_factory(None)
        return self._github_factory.for_repository(repo)

    @cached_property
    def _github_factory(self):
        from reviewer.adapters.github import GitHubHostFactory

        s = self.settings
        private_key = None
        if s.github_app_private_key_file is not None:
            private_key = Path(s.github_app_private_key_file).read_text()
        return GitHubHostFactory(
            s.github_api_url,
            s.github_api_version,
            token=s.github_token.get_secret_value() if s.github_token else None,
            app_id=s.github_app_id,
            private_key=private_key,
            redis_client=self.redis,
        )

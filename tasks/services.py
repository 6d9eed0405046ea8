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

    def run_agent(self, name: str, snapshot: PullRequestSnapshot) -> AgentResult:
        if self._agent_runner is not None:
            return self._agent_runner(name, snapshot)
        return run_agent(name, snapshot)

    def code_host(self, installation_id: int | None) -> CodeHost:
        if self._code_host_factory is not None:
            return self._code_host_factory(installation_id)
        return self._github_factory.for_installation(installation_id)

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

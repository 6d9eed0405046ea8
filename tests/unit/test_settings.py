"""Settings fail fast, naming the environment variable, and never echo secrets."""

import pytest

from config.settings import ConfigurationError, load_settings


def test_defaults_load_without_any_environment(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.github_api_version == "2022-11-28"
    assert settings.llm_enabled is False


def test_invalid_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("REVIEWER_INLINE_COMMENT_CAP", "many")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert "REVIEWER_INLINE_COMMENT_CAP" in str(err.value)


def test_cross_field_problem_names_the_variables(monkeypatch):
    monkeypatch.setenv("REVIEWER_AGENT_SOFT_TIME_LIMIT_S", "500")
    monkeypatch.setenv("REVIEWER_AGENT_TIME_LIMIT_S", "100")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert "REVIEWER_AGENT_SOFT_TIME_LIMIT_S" in str(err.value)


def test_missing_private_key_file_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("REVIEWER_GITHUB_APP_ID", "42")
    monkeypatch.setenv("REVIEWER_GITHUB_APP_PRIVATE_KEY_FILE", str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert "REVIEWER_GITHUB_APP_PRIVATE_KEY_FILE" in str(err.value)


def test_secret_values_are_not_echoed(monkeypatch):
    monkeypatch.setenv("REVIEWER_GITHUB_WEBHOOK_SECRET", "s3cr3t-value")
    monkeypatch.setenv("REVIEWER_MAX_BODY_BYTES", "-1")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert "s3cr3t-value" not in str(err.value)
    settings = load_settings(max_body_bytes=10)
    assert "s3cr3t-value" not in repr(settings)


def test_openai_variables_are_read_without_prefix(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = load_settings()
    assert settings.llm_enabled
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"

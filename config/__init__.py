"""Configuration: settings from the environment and data files (price table, defaults)."""

from config.settings import ConfigurationError, Settings, load_settings

__all__ = ["ConfigurationError", "Settings", "load_settings"]

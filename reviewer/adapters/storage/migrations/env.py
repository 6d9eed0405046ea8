"""Alembic environment: runs migrations on the connection ``migrate.upgrade`` hands in.

Run programmatically (no alembic.ini). A connection passed in ``config.attributes`` is used
as is; otherwise one is made from the ``sqlalchemy.url`` option, so the ``alembic`` command
line still works with ``-c`` pointing at a small ini file.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from reviewer.adapters.storage.models import Base
from reviewer.adapters.storage.report_models import DailyReportRow  # noqa: F401  (its table)
from reviewer.adapters.storage.cache_models import ReviewCacheRow  # noqa: F401  (its table)

# Any constant; two processes migrating at once (web and worker starting together) serialise
# on it instead of racing to create the same tables.
MIGRATION_LOCK_KEY = 7_201_318_004

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

"""A database handle: one engine and a session factory whose blocks commit or roll back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """Wraps an Engine; ``with db.session() as s:`` is one transaction.

    Creating a ``Database`` opens no connection. Objects loaded in a session stay readable
    after the block ends (``expire_on_commit=False``), so callers can return ids and values
    without another query. In a forking worker, call :meth:`reset_after_fork` in the child.
    """

    def __init__(self, url: str, *, connect_timeout_s: int = 5, **engine_options: Any) -> None:
        options: dict[str, Any] = {"pool_pre_ping": True}
        options.update(engine_options)
        connect_args = dict(options.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", connect_timeout_s)
        self.engine: Engine = create_engine(url, connect_args=connect_args, **options)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> bool:
        """Whether the database answers a trivial query (for readiness checks)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset_after_fork(self) -> None:
        """Forget the parent's pooled connections without closing them under the parent."""
        self.engine.dispose(close=False)

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()

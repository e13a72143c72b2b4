"""Throwaway Postgres databases for tests, on a real server.

``TEST_DATABASE_URL`` (CI points it at the local server) or, when unset, the embedded
server from ``pgserver`` in a per-user cache folder. Each test run creates a migrated
template database; each test that needs a database gets its own copy of it, dropped
afterwards.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from persistence.embedded import start_embedded


def admin_url() -> str:
    """A URL to a maintenance database where the test role may CREATE DATABASE."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return start_embedded(cache / "support-refund-agent" / "test-pgdata")


def with_dbname(url: str, dbname: str) -> str:
    """``url`` pointing at another database on the same server."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def create_database(admin: str, *, template: str | None = None, prefix: str = "test") -> str:
    """Create a uniquely named database and return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(query)
    return name


def drop_database(admin: str, name: str) -> None:
    """Drop a test database, closing whatever still uses it."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

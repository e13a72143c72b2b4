"""Throwaway Postgres databases for tests, on a real server.

``TEST_DATABASE_URL`` (CI points it at the local server) or, when unset, the embedded
server from ``pgserver`` in a per-user cache folder. Each test run creates a migrated
template database; each test that needs a database gets its own copy of it, dropped
afterwards.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from persistence import db
from persistence.db import with_dbname
from persistence.embedded import start_embedded

__all__ = ["admin_url", "create_database", "drop_database", "with_dbname"]


def admin_url() -> str:
    """A URL to a maintenance database where the test role may CREATE DATABASE."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return start_embedded(cache / "support-refund-agent" / "test-pgdata")


def create_database(admin: str, *, template: str | None = None, prefix: str = "test") -> str:
    """Create a uniquely named database and return its name (blocking, for fixtures)."""
    return asyncio.run(db.create_database(admin, prefix=prefix, template=template))


def drop_database(admin: str, name: str) -> None:
    """Drop a test database, closing whatever still uses it (blocking, for fixtures)."""
    asyncio.run(db.drop_database(admin, name))

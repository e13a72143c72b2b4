from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from core.settings import Settings, get_settings
from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence.audit import AuditLog
from persistence.db import Pool, connect, open_pool
from persistence.migrations import migrate
from persistence.runtime import Storage
from tests.harness import Chat
from tests.pg import (
    admin_url,
    create_database,
    drop_database,
    remember_embedded_state,
    stop_embedded_if_started,
    with_dbname,
)
from wiring.services import create_services

# --- running under pytest-xdist (``uv run pytest -n auto``) ------------------------------
#
# Every worker has its own sandbox and its own databases, so tests spread freely; what
# they share is the Postgres server's max_connections (100 by default). A worker's tests
# hold few connections (pools are capped at TEST_POOL_MAX_SIZE); the tests that race
# dozens of processes on one database carry ``xdist_group("many_connections")`` and so
# run one after another on one worker (``--dist=loadgroup`` in pyproject.toml), as do
# the browser tests, which share one Chromium per worker. ``-n auto`` is capped at
# MAX_AUTO_WORKERS so that the race tests (about 55 connections) plus every other
# worker stay well under 100; set PYTEST_XDIST_AUTO_NUM_WORKERS to choose another
# number for a server with a higher max_connections.

TEST_POOL_MAX_SIZE = 5
MAX_AUTO_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for ``-n auto``: the usable CPUs, at most MAX_AUTO_WORKERS."""
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if chosen:
        return max(1, int(chosen))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, MAX_AUTO_WORKERS))


def pytest_configure(config: pytest.Config) -> None:
    remember_embedded_state(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_embedded_if_started(config)


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """No test leaks environment variables or cached settings into the next."""
    saved = dict(os.environ)
    get_settings.cache_clear()
    yield
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_admin() -> str:
    return admin_url()


@pytest.fixture(scope="session")
def template_db(pg_admin: str) -> Iterator[str]:
    """A migrated database that per-test databases are copied from."""
    name = create_database(pg_admin, suffix="tpl")

    async def _migrate() -> None:
        async with await connect(with_dbname(pg_admin, name)) as conn:
            await migrate(conn)

    asyncio.run(_migrate())
    yield name
    drop_database(pg_admin, name)


@pytest.fixture
def db_url(pg_admin: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated, empty database for one test."""
    name = create_database(pg_admin, template=template_db)
    yield with_dbname(pg_admin, name)
    drop_database(pg_admin, name)


@pytest.fixture
def empty_db_url(pg_admin: str) -> Iterator[str]:
    """A fresh database with no tables at all."""
    name = create_database(pg_admin)
    yield with_dbname(pg_admin, name)
    drop_database(pg_admin, name)


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    """Default settings, except a pool small enough for many workers on one server."""
    return Settings(_env_file=None, db_pool_max_size=TEST_POOL_MAX_SIZE)  # type: ignore[call-arg]


@pytest.fixture
async def pool(db_url: str, settings: Settings) -> AsyncIterator[Pool]:
    p = await open_pool(db_url, settings)
    yield p
    await p.close()


@pytest.fixture
async def storage(db_url: str, pool: Pool) -> AsyncIterator[Storage]:
    audit = AuditLog(pool)
    yield Storage(url=db_url, pool=pool, audit=audit)
    await audit.aclose()


pytest_plugins = [
    "tests.integration.moltpe_fixtures",
    "tests.e2e.server_fixtures",
    "tests.e2e.browser_fixtures",
]


@pytest.fixture
async def seeded(storage: Storage) -> Storage:
    """Storage with the bundled demo customers and orders."""
    from persistence.seed import apply_seed, load_seed_file

    async with storage.pool.connection() as conn:
        await apply_seed(conn, load_seed_file())
    return storage


@pytest.fixture
async def services(
    seeded: Storage, sandbox: SandboxServer, settings: Settings
) -> AsyncIterator[Services]:
    """Services on a seeded test database and a fresh sandbox wallet (rules mode)."""
    svc = await create_services(settings, storage=seeded, sandbox=sandbox, reconcile=False)
    yield svc
    await svc.aclose()


@pytest.fixture
def chat(services: Services) -> Chat:
    """A conversation driver over the compiled graph with an in-memory checkpointer."""
    return Chat(services)

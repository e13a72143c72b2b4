"""The process-wide Postgres connection pool.

One :class:`psycopg_pool.AsyncConnectionPool` serves the whole process: the
repositories, the audit log and LangGraph's ``AsyncPostgresSaver``. Its connections
are ``autocommit=True`` with ``dict_row`` rows, which the checkpointer requires;
repositories open explicit transactions (``async with conn.transaction()``). Every
checkout is checked first, so connections killed under the pool (a Postgres restart,
``pg_terminate_backend``) are replaced, not handed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from core.settings import Settings
from persistence.embedded import embedded_data_dir, start_embedded

Conn = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[Conn]


@contextlib.asynccontextmanager
async def pipelined_transaction(conn: Conn, *, force_rollback: bool = False) -> AsyncIterator[None]:
    """A transaction whose statements travel together: BEGIN ... COMMIT in pipeline mode.

    Statements whose results are not read are sent with the next read (which waits for
    everything sent before it) or with the COMMIT, so a transaction that only writes is
    one round trip instead of one per statement plus BEGIN and COMMIT. Raises the first
    failed statement's error; on any exception the transaction is rolled back and the
    connection left idle. ``force_rollback``: end with ROLLBACK (a dry run).

    (psycopg's own ``transaction()`` in pipeline mode waits at BEGIN and again at COMMIT.)
    """
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("pipelined_transaction needs a connection outside a transaction")
    try:
        async with conn.pipeline() as pipeline:
            await conn.execute("BEGIN")
            try:
                yield
            except BaseException:
                # Sent now, so the pipeline's own exit has nothing left that could fail
                # (it would log the failure it swallows); the caller's error is raised.
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")  # skipped if a statement failed
                    await pipeline.sync()
                raise
            await conn.execute("ROLLBACK" if force_rollback else "COMMIT")
    finally:
        if not conn.closed and conn.info.transaction_status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
        ):
            await conn.execute("ROLLBACK")


def connection_kwargs(settings: Settings | None = None) -> dict[str, Any]:
    """Keyword arguments every connection of the project is opened with."""
    threshold = settings.db_prepare_threshold if settings is not None else 5
    return {"autocommit": True, "row_factory": dict_row, "prepare_threshold": threshold}


async def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, else the embedded server's URL (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return await asyncio.to_thread(start_embedded, embedded_data_dir(settings.refund_agent_home))


async def open_pool(url: str, settings: Settings | None = None) -> Pool:
    """Open a pool on ``url`` and wait until its first connection works."""
    min_size = settings.db_pool_min_size if settings is not None else 1
    max_size = settings.db_pool_max_size if settings is not None else 10
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max(max_size, min_size, 1),
        kwargs=connection_kwargs(settings),
        connection_class=AsyncConnection[DictRow],
        # Check each connection as it is handed out: after a server restart or a killed
        # backend, the dead ones are replaced instead of failing the caller's first query.
        check=AsyncConnectionPool.check_connection,
        open=False,
        name="refund-agent",
    )
    await pool.open(wait=True, timeout=30)
    return pool


async def connect(url: str, settings: Settings | None = None) -> Conn:
    """One standalone connection with the project's connection settings."""
    return await AsyncConnection.connect(url, **connection_kwargs(settings))


def with_dbname(url: str, dbname: str) -> str:
    """``url`` pointing at another database on the same server."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


async def create_database(admin_url: str, *, prefix: str, template: str | None = None) -> str:
    """Create a uniquely named database on the server of ``admin_url``; return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    async with await AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(query)
    return name


async def drop_database(admin_url: str, name: str) -> None:
    """Drop a database, closing whatever still uses it."""
    query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    async with await AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(query)

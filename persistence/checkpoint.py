"""LangGraph's ``AsyncPostgresSaver`` on the shared pool, without its instance lock.

The pool's connections are ``autocommit=True`` with ``dict_row``, as the saver needs.
``setup()`` runs ``CREATE INDEX CONCURRENTLY`` (outside any transaction) and has no lock
of its own, so concurrent start-ups are serialised here with a session advisory lock.

``AsyncPostgresSaver`` serialises every call (read, put, put_writes) on one instance-wide
``asyncio.Lock``, even when it is given a pool (langgraph issue 7259). The lock exists
so that coroutines never share one connection; with a pool, every call takes its own
connection for its whole length (``_cursor``: ``async with self.lock,
get_connection(pool)``), so the lock only queues conversations behind each other: at 32
concurrent conversations it was 70% of a turn's latency once the project's own locks
were gone (``benchmarks/concurrency.py``). :class:`PooledSaver` drops it, only when
given a pool and no pipeline. The order of one run's checkpoint writes is LangGraph's
loop's own (each put awaits the previous one); two turns of one conversation never run
at once (``serve``'s lease).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final, Literal

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg import AsyncPipeline
from psycopg_pool import AsyncConnectionPool

from persistence.db import Pool

logger = logging.getLogger(__name__)

CHECKPOINT_SETUP_LOCK_ID: Final = 0x5246_4E44_4350_5354  # "RFNDCPST"


class NoLock(asyncio.Lock):
    """A lock that never waits: for a saver whose every call has its own connection."""

    async def acquire(self) -> Literal[True]:
        """Return at once."""
        return True

    def release(self) -> None:
        """Nothing to release."""

    def locked(self) -> bool:
        """Never held."""
        return False


class PooledSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that does not serialise its calls when given a pool."""

    def __init__(
        self,
        conn: Any,
        pipe: AsyncPipeline | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(conn, pipe, serde)
        if isinstance(conn, AsyncConnectionPool) and pipe is None:
            self.lock = NoLock()


async def open_checkpointer(pool: Pool, *, setup: bool = True) -> AsyncPostgresSaver:
    """A saver on ``pool``; with ``setup``, its tables are created or upgraded first."""
    saver = PooledSaver(conn=pool)
    if setup:
        async with pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (CHECKPOINT_SETUP_LOCK_ID,))
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (CHECKPOINT_SETUP_LOCK_ID,))
    return saver


async def prune_superseded(saver: AsyncPostgresSaver, thread_id: str) -> bool:
    """Delete the conversation's checkpoints but its latest (what a resume reads).

    Without this every turn leaves a checkpoint behind and a conversation's storage grows
    with the square of its length. A prune that races another write of the same thread
    gives up (the next one catches up); returns whether it pruned.
    """
    try:
        await saver.aprune([thread_id], strategy="keep_latest")
    except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
        logger.info("checkpoint prune of %s raced another write; left for the next", thread_id)
        return False
    return True

"""LangGraph's ``AsyncPostgresSaver`` on the shared pool.

The pool's connections are ``autocommit=True`` with ``dict_row``, as the saver needs.
``setup()`` runs ``CREATE INDEX CONCURRENTLY`` (outside any transaction) and has no lock
of its own, so concurrent start-ups are serialised here with a session advisory lock.
"""

from __future__ import annotations

import logging
from typing import Final

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from persistence.db import Pool

logger = logging.getLogger(__name__)

CHECKPOINT_SETUP_LOCK_ID: Final = 0x5246_4E44_4350_5354  # "RFNDCPST"


async def open_checkpointer(pool: Pool, *, setup: bool = True) -> AsyncPostgresSaver:
    """A saver on ``pool``; with ``setup``, its tables are created or upgraded first."""
    saver = AsyncPostgresSaver(conn=pool)
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

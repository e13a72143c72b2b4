"""LangGraph's ``AsyncPostgresSaver`` on the shared pool.

The pool's connections are ``autocommit=True`` with ``dict_row``, as the saver needs.
``setup()`` runs ``CREATE INDEX CONCURRENTLY`` (outside any transaction) and has no lock
of its own, so concurrent start-ups are serialised here with a session advisory lock.
"""

from __future__ import annotations

from typing import Final

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from persistence.db import Pool

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

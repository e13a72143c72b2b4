"""Turn leases that expire with their holder.

A conversation runs one turn at a time. The turn holds a short lease on the
conversation's row (``busy_until``) and renews it every third of its length while it
runs; a process that crashes stops renewing, so the conversation is free again within
one lease (15 s by default), not after a fixed two minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from core.tasks import raise_if_cancelled
from persistence import repo
from persistence.db import Pool

logger = logging.getLogger(__name__)

RENEW: Final = """
UPDATE conversations SET busy_until = now() + make_interval(secs => %s)
 WHERE thread_id = %s AND busy_token = %s
RETURNING thread_id
"""


class Leases:
    """Takes, renews and releases turn leases on conversations."""

    def __init__(self, pool: Pool, seconds: float) -> None:
        self._pool = pool
        self.seconds = seconds
        self._heartbeats: dict[str, asyncio.Task[None]] = {}

    async def take(self, thread_id: str) -> str | None:
        """Lease the conversation for a turn and keep it renewed; None while it is busy."""
        async with self._pool.connection() as conn:
            token = await repo.take_conversation(conn, thread_id, self.seconds)
        if token is not None:
            self._heartbeats[token] = asyncio.create_task(
                self._renew(thread_id, token), name=f"lease-{thread_id[:8]}"
            )
        return token

    async def take_within_limit(
        self, thread_id: str, *, bucket: str, limit: int, window_seconds: int
    ) -> tuple[bool, int, str | None]:
        """Count a message against ``bucket``'s limit and, if allowed, lease the conversation.

        One statement for both; returns whether allowed, the seconds until the limit's
        window resets, and the lease's token (None when refused or busy).
        """
        async with self._pool.connection() as conn:
            allowed, retry_after, token = await repo.hit_and_take_conversation(
                conn,
                thread_id,
                bucket=bucket,
                limit=limit,
                window_seconds=window_seconds,
                lease_seconds=self.seconds,
            )
        if token is not None:
            self._heartbeats[token] = asyncio.create_task(
                self._renew(thread_id, token), name=f"lease-{thread_id[:8]}"
            )
        return allowed, retry_after, token

    async def release(self, thread_id: str, token: str) -> None:
        """Stop renewing and free the conversation (only this holder's lease)."""
        heartbeat = self._heartbeats.pop(token, None)
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        async with self._pool.connection() as conn:
            await repo.release_conversation(conn, thread_id, token)

    async def renew(self, thread_id: str, token: str) -> bool:
        """Push the lease's end forward; False when it is no longer this holder's."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(RENEW, (self.seconds, thread_id, token))
            return await cur.fetchone() is not None

    async def _renew(self, thread_id: str, token: str) -> None:
        while True:
            raise_if_cancelled()
            await asyncio.sleep(self.seconds / 3)
            try:
                if not await self.renew(thread_id, token):
                    logger.warning("lost the lease on conversation %s", thread_id[:8])
                    return
            except Exception:  # a database hiccup: try again at the next beat
                logger.warning("could not renew the lease on %s", thread_id[:8], exc_info=True)

    async def aclose(self) -> None:
        """Stop every heartbeat (the process is shutting down)."""
        for task in self._heartbeats.values():
            task.cancel()
        self._heartbeats.clear()

"""The product's checkpointer drops the saver's instance lock only when every call has its
own connection (a pool)."""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from persistence.checkpoint import NoLock, PooledSaver, open_checkpointer
from persistence.db import Pool


async def test_the_products_saver_on_a_pool_does_not_queue_calls(pool: Pool) -> None:
    saver = await open_checkpointer(pool)
    assert isinstance(saver, PooledSaver) and isinstance(saver.lock, NoLock)
    # Two reads at once each hold a connection of their own at the same time: with the
    # stock lock the second would wait for the first to give its connection back.
    inside = 0
    most = 0
    real = saver._cursor

    def counting(*args: object, **kwargs: object) -> object:
        context = real(*args, **kwargs)  # type: ignore[arg-type]

        class Counted:
            async def __aenter__(self) -> object:
                nonlocal inside, most
                cursor = await context.__aenter__()
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.05)
                return cursor

            async def __aexit__(self, *exc: object) -> None:
                nonlocal inside
                inside -= 1
                await context.__aexit__(*exc)  # type: ignore[arg-type]

        return Counted()

    saver._cursor = counting  # type: ignore[assignment,method-assign]
    config = {"configurable": {"thread_id": "nobody", "checkpoint_ns": ""}}
    await asyncio.gather(saver.aget_tuple(config), saver.aget_tuple(config))  # type: ignore[arg-type]
    assert most == 2


async def test_without_a_pool_the_lock_stays() -> None:
    class FakeConnection:  # one connection: calls must not share it at once
        pass

    saver = PooledSaver(FakeConnection())
    assert not isinstance(saver.lock, NoLock)
    assert isinstance(AsyncPostgresSaver(FakeConnection()).lock, asyncio.Lock)  # type: ignore[arg-type]

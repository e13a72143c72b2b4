"""A background loop stops when cancelled even if something it awaited swallowed the cancel."""

from __future__ import annotations

import asyncio

import pytest

from core.tasks import raise_if_cancelled


async def swallowing_step(started: asyncio.Event) -> None:
    """What Python 3.11's ``wait_for`` can do: the cancellation arrives and is dropped."""
    started.set()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        return


async def loop(started: asyncio.Event, rounds: list[int], *, check: bool) -> None:
    while True:
        if check:
            raise_if_cancelled()
        rounds.append(1)
        if len(rounds) == 1:
            await swallowing_step(started)
        if len(rounds) > 50:  # a loop that forgot the check would go on for ever
            return
        await asyncio.sleep(0)


async def test_a_swallowed_cancel_still_stops_the_loop() -> None:
    started, rounds = asyncio.Event(), []
    task = asyncio.create_task(loop(started, rounds, check=True))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(rounds) == 1


async def test_without_the_check_the_loop_runs_on() -> None:
    started, rounds = asyncio.Event(), []
    task = asyncio.create_task(loop(started, rounds, check=False))
    await started.wait()
    task.cancel()
    await task  # it returned on its own: the cancel was lost
    assert len(rounds) > 50


async def test_a_task_not_asked_to_stop_goes_on() -> None:
    raise_if_cancelled()  # nothing was cancelled: no exception

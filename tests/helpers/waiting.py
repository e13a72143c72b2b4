"""Waiting on a condition instead of sleeping a guessed time.

A test that sleeps and then checks that something did *not* happen passes on a slow
machine for the wrong reason, and one that sleeps before checking that something *did*
happen fails there. :func:`wait_until` polls a predicate until it holds; its
``timeout`` only bounds a hung run, it is never the thing a test measures.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.02


async def wait_until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 30.0,  # noqa: ASYNC109 - a bound on polling, not on one await
    *,
    what: str = "the condition",
) -> T:
    """Poll ``predicate`` (sync or async) until it returns something truthy; return that.

    Fails the test, naming ``what``, if it has not held after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() >= give_up:
            raise AssertionError(f"{what} did not hold within {timeout} s (last: {value!r})")
        await asyncio.sleep(POLL_SECONDS)

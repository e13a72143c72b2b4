"""Long-running background loops that stop when they are cancelled, whatever they call.

On Python 3.11, ``asyncio.wait_for`` drops a cancellation that arrives as the awaited
thing completes (fixed in 3.12). psycopg_pool waits for a free connection that way, so a
loop cancelled while it takes a pooled connection can get the connection instead of the
``CancelledError``, then sleep and go round for ever: ``Task.cancel()`` is delivered once.
Every ``while True`` loop of a background task calls :func:`raise_if_cancelled` at the
top of each round, which turns a cancellation that was asked for but swallowed back into
an exception.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop (``cancelling()``)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError

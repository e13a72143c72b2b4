"""One reconciler per deployment, elected in the database.

Every process reconciles unsettled refunds when it starts (:func:`create_services`);
between restarts something must settle a refund whose outcome became unknown (MoltPe
did not answer in time, the process died after the call). :func:`reconcile_forever`
does that in a loop, as ``refund-agent refunds reconcile --watch``.

Any number of them may run: each tries a session-level advisory lock on its own
connection; the one that holds it leads, the others retry every interval and take over
when the leader's session ends (it stopped, crashed or lost its connection). A refund
is re-sent only after it has been unsettled for ``older_than`` seconds (the MoltPe
deadline), so a serving process still sending it is not raced; re-sending is safe
anyway: MoltPe answers a repeated idempotency key with its first answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from core.tasks import raise_if_cancelled
from graph.services import Services
from persistence.db import Conn, connect
from persistence.models import OPEN_REFUND_STATUSES, Refund
from tools.refunds import RefundOutcome

__all__ = ["RECONCILER_LOCK_ID", "reconcile_forever", "reconcile_stale", "stuck_alert"]

logger = logging.getLogger(__name__)

RECONCILER_LOCK_ID: Final = 0x5246_4E44_5245_434F  # "RFNDRECO"
SELECT_STALE: Final = """
SELECT * FROM refunds
 WHERE status = ANY(%(statuses)s)
   AND updated_at < now() - make_interval(secs => %(older_than)s)
 ORDER BY created_at
"""
TRY_LEAD: Final = "SELECT pg_try_advisory_lock(%s) AS leads"
STUCK: Final = """
SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest
  FROM refunds
 WHERE status = ANY(%(statuses)s)
   AND created_at < now() - make_interval(secs => %(after)s)
"""


async def stuck_alert(services: Services, after: float) -> str | None:
    """An alert line when refunds stay unsettled longer than ``after`` seconds, else None."""
    async with services.storage.pool.connection() as conn:
        cur = await conn.execute(
            STUCK, {"statuses": list(OPEN_REFUND_STATUSES), "after": float(after)}
        )
        row = await cur.fetchone()
    if not row or not row["n"]:
        return None
    return (
        f"ALERT: {row['n']} refund(s) unsettled for more than {after:g}s "
        f"(oldest {float(row['oldest']):.0f}s): see refund-agent refunds list --status unknown"
    )


async def reconcile_stale(services: Services, *, older_than: float) -> list[RefundOutcome]:
    """Reconcile every refund unsettled for more than ``older_than`` seconds (DB clock)."""
    async with services.storage.pool.connection() as conn:
        cur = await conn.execute(
            SELECT_STALE,
            {"statuses": list(OPEN_REFUND_STATUSES), "older_than": float(older_than)},
        )
        stale = [Refund.model_validate(row) for row in await cur.fetchall()]
    return [await services.refunds.reconcile(refund, notify=True) for refund in stale]


async def reconcile_forever(
    services: Services,
    *,
    interval: float,
    older_than: float,
    report: Callable[[str], None] | None = None,
    alert_after: float = 300.0,
) -> None:
    """Stand by until this process leads, then reconcile every ``interval`` seconds.

    A refund still unsettled ``alert_after`` seconds after it was made (MoltPe keeps
    answering nothing definite) is raised as an ``ALERT`` line in the log: someone
    should look at it.

    Runs until cancelled. Raises when the leader's database session fails (the lock went
    with it): let a supervisor restart the process, which then stands by or leads again.
    """
    say = report or (lambda line: logger.info("%s", line))
    async with await connect(services.storage.url, services.settings) as session:
        if not await _try_lead(session):
            say("standing by: another reconciler leads")
            while True:
                raise_if_cancelled()
                await asyncio.sleep(interval)
                if await _try_lead(session):
                    break
        say(
            f"leading: every {interval:g}s, refunds unsettled for more than {older_than:g}s "
            "are re-sent with their idempotency keys"
        )
        while True:
            raise_if_cancelled()
            await session.execute("SELECT 1")  # the session, and so the lock, still holds
            for outcome in await reconcile_stale(services, older_than=older_than):
                refund = outcome.refund
                say(f"{refund.id} ({refund.order_id}): {refund.status}")
            alert = await stuck_alert(services, alert_after)
            if alert:
                logger.warning("%s", alert)
                say(alert)
            await asyncio.sleep(interval)


async def _try_lead(session: Conn) -> bool:
    cur = await session.execute(TRY_LEAD, (RECONCILER_LOCK_ID,))
    row = await cur.fetchone()
    return bool(row and row["leads"])

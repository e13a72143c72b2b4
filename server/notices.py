"""Customers told, on their conversation, how a refund settled after their turn ended.

A turn that cannot learn MoltPe's answer (a timeout, a lost connection, a crash) tells the
customer the refund is being processed; the elected reconciler settles it later. When it
does (or a process starting up, or ``refunds reconcile``), the settlement marks the refund
``notice_due`` in its own transaction (``RefundService.reconcile(notify=True)``), and every
``serve`` process looks for such refunds every few seconds (:func:`keep_telling`, whoever
leads the reconciler) and tells each customer, in the conversation's language, whether the
refund went through (with its transaction hash) or not. The refund is re-read and locked,
and the transcript line, ``customer_told_at`` and a ``customer_told`` audit event written,
in one transaction: the customer is told once, and of the refund's status at that moment.
The message is then added to the conversation's state under its lease (best effort: the
transcript is what the customer and reviewers read). A conversation that is running a
turn is told at the next round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from langchain_core.messages import AIMessage

from core.tasks import raise_if_cancelled
from graph.replies import compose
from graph.replies.catalog import translator
from persistence import repo, transcripts
from persistence.audit import AuditEvent, EventType
from persistence.models import Refund
from server.runtime import ServerRuntime
from server.turns import config_of

logger = logging.getLogger(__name__)

DUE: Final = """
SELECT * FROM refunds
 WHERE notice_due AND customer_told_at IS NULL
 ORDER BY updated_at
 LIMIT %s
"""
MARK_TOLD: Final = (
    "UPDATE refunds SET customer_told_at = now() "
    "WHERE id = %s AND customer_told_at IS NULL RETURNING id"
)
LOCK_DUE: Final = "SELECT * FROM refunds WHERE id = %s AND customer_told_at IS NULL FOR UPDATE"
BATCH: Final = 20
NOTICE_INTERVAL_SECONDS: Final = 5.0


async def keep_telling(runtime: ServerRuntime, interval: float) -> None:
    """Tell customers of refunds settled after their turn every ``interval`` s, until cancelled."""
    while True:
        raise_if_cancelled()
        try:
            await tell_settled_refunds(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("could not look for refunds to tell customers of", exc_info=True)
        await asyncio.sleep(interval)


async def tell_settled_refunds(runtime: ServerRuntime) -> int:
    """Tell the customers of refunds settled since their turn; how many were told."""
    async with runtime.services.storage.pool.connection() as conn:
        cur = await conn.execute(DUE, (BATCH,))
        due = [Refund.model_validate(row) for row in await cur.fetchall()]
    told = 0
    for refund in due:
        try:
            told += await tell_one(runtime, refund)
        except asyncio.CancelledError:
            raise
        except Exception:  # one refund's trouble does not hold up the others
            logger.warning("could not tell the customer of refund %s", refund.id, exc_info=True)
    return told


async def tell_one(runtime: ServerRuntime, refund: Refund) -> bool:
    """Tell one refund's customer; False when there is nothing to tell here or not yet."""
    pool = runtime.services.storage.pool
    thread_id = refund.thread_id
    if not thread_id:
        return False
    async with pool.connection() as conn:
        served_here = await repo.get_conversation(conn, thread_id) is not None
        if not served_here:
            # The graph ran in someone else's backend: no conversation here to tell.
            await conn.execute(MARK_TOLD, (refund.id,))
            return False
    token = await runtime.leases.take(thread_id)
    if token is None:
        return False  # a turn is running; the next round tells
    try:
        config = config_of(thread_id)
        state = await runtime.agent.aget_state(config)
        language = (state.values or {}).get("language") or "en"
        audit = runtime.services.storage.audit
        async with audit.transaction() as tx:
            conn = tx.conn
            cur = await conn.execute(LOCK_DUE, (refund.id,))
            row = await cur.fetchone()
            if row is None:
                return False  # told meanwhile
            current = Refund.model_validate(row)  # its status now, not when it was listed
            info = compose.RefundInfo.of(
                order_id=current.order_id,
                amount=current.amount_usdc,
                status=current.status,
                tx_hash=current.tx_hash,
            )
            message = compose.refund_status(translator(language), refunds=[info]).text
            await conn.execute(MARK_TOLD, (refund.id,))
            await transcripts.append(conn, thread_id, [transcripts.Line("agent", message)])
            await tx.append(
                AuditEvent(
                    EventType.CUSTOMER_TOLD,
                    thread_id=thread_id,
                    order_id=current.order_id,
                    customer_email=current.customer_email,
                    payload={
                        "refund_id": current.id,
                        "status": current.status,
                        "tx_hash": current.tx_hash,
                        "language": language,
                    },
                )
            )
        update: dict[str, Any] = {"messages": [AIMessage(message)], "reply": message}
        try:
            await runtime.agent.aupdate_state(config, update, as_node="respond")
        except Exception:  # the transcript has it; the state's window misses one line
            logger.warning("could not add the notice to %s's state", thread_id[:8], exc_info=True)
        logger.info("told the customer of refund %s: %s", refund.id, current.status)
        return True
    finally:
        await runtime.leases.release(thread_id, token)

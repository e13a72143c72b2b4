"""A customer's refund history, across every conversation: what refund-status answers read."""

from __future__ import annotations

from typing import Final

from persistence.db import Conn
from persistence.models import Refund

REFUNDS_OF_ORDER: Final = """
SELECT * FROM refunds
 WHERE order_id = %s AND customer_email = %s
 ORDER BY created_at, attempt
 LIMIT 20
"""


async def refunds_of_order(conn: Conn, order_id: str, customer_email: str) -> list[Refund]:
    """The refunds of ``order_id`` made for ``customer_email``, oldest first (at most 20).

    Every conversation's refunds count: a customer asking days later in a new chat
    whether their refund went through gets the answer from the refunds table.
    """
    cur = await conn.execute(REFUNDS_OF_ORDER, (order_id, customer_email))
    return [Refund.model_validate(row) for row in await cur.fetchall()]

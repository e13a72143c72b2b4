"""Order lookup and the facts about an order and customer, read from Postgres by code.

The lookup follows the guide's ``lookup_order``: an order is found only when it exists
*and* belongs to the given email. A customer is never told whether an order they do
not own exists; the mismatch is recorded in the audit log for reviewers. With an
:class:`~tools.order_source.OrderSource` (``ORDERS_SOURCE_QUERY``), an order missing
from the agent's table is looked for there and copied in first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from core.settings import get_settings
from persistence import repo
from persistence.audit import AuditEvent, AuditLog, EventType
from persistence.db import Conn
from persistence.models import Order

if TYPE_CHECKING:
    from tools.order_source import OrderSource


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The outcome of one lookup. ``order`` is set only when found and owned."""

    order: Order | None
    owner_mismatch: bool = False

    @property
    def ok(self) -> bool:
        """True when the order exists and belongs to the customer."""
        return self.order is not None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """Everything the policy gate needs to know, as found in the database."""

    order: Order | None
    owned: bool
    refund_in_progress: bool
    customer_recent_refunds: int
    spent_today: Decimal
    now: dt.datetime


async def lookup_order(
    audit: AuditLog,
    *,
    order_id: str,
    customer_email: str,
    thread_id: str | None,
    failed_before: int = 0,
    source: OrderSource | None = None,
) -> LookupResult:
    """Find ``order_id`` for ``customer_email`` and audit the lookup.

    With ``source``, an order the agent's table does not have is copied in from it first.
    """
    email = customer_email.strip().lower()
    copied = False
    async with audit.pool.connection() as conn:
        order = await repo.get_order(conn, order_id)
        if order is None and source is not None:
            order = await source.copy_in(audit, conn, order_id)
            copied = order is not None
    found = order is not None and order.customer_email == email
    mismatch = order is not None and not found
    await audit.record(
        AuditEvent(
            EventType.LOOKUP,
            thread_id=thread_id,
            order_id=order_id,
            customer_email=email,
            payload={
                "result": "found" if found else "not_found",
                "owner_mismatch": mismatch,
                "failed_lookups_before": failed_before,
                **({"copied_from_source": True} if copied else {}),
                **(
                    {
                        "amount_usdc": order.amount_usdc,
                        "refunded_usdc": order.refunded_usdc,
                        "created_at": order.created_at,
                        "refund_status": order.refund_status,
                    }
                    if found and order is not None
                    else {}
                ),
            },
        )
    )
    return LookupResult(order=order if found else None, owner_mismatch=mismatch)


async def gather_facts(
    conn: Conn,
    *,
    order_id: str,
    customer_email: str,
    velocity_days: int,
    now: dt.datetime | None = None,
    business_timezone: str | None = None,
) -> OrderFacts:
    """Read the facts about an order and its customer at this moment.

    Times are the database's (``now`` defaults to its ``now()``, the clock that stamps
    refunds) and today's spend is that of its business day in ``business_timezone``
    (default: ``REFUND_BUSINESS_TIMEZONE``), as the refund path re-checks it.
    """
    if business_timezone is None:
        business_timezone = get_settings().refund_business_timezone
    now = now or await repo.db_now(conn)
    email = customer_email.strip().lower()
    order = await repo.get_order(conn, order_id)
    owned = order is not None and order.customer_email == email
    in_progress = owned and await repo.open_refund_for_order(conn, order_id) is not None
    recent = await repo.customer_refunds_since(conn, email, now - dt.timedelta(days=velocity_days))
    spent = await repo.spent_in_business_day(conn, business_timezone, now)
    return OrderFacts(
        order=order if owned else None,
        owned=owned,
        refund_in_progress=in_progress,
        customer_recent_refunds=recent,
        spent_today=spent,
        now=now,
    )

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
from typing import TYPE_CHECKING, Final

from core.settings import get_settings
from persistence import repo
from persistence.audit import AuditEvent, AuditLog, EventType
from persistence.db import Conn
from persistence.models import (
    COUNTED_REFUND_STATUSES,
    OPEN_REFUND_STATUSES,
    Order,
    Refund,
    Ticket,
)

if TYPE_CHECKING:
    from tools.order_source import OrderSource


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """Everything the policy gate needs to know, as found in the database."""

    order: Order | None
    owned: bool
    refund_in_progress: bool
    customer_recent_refunds: int
    spent_today: Decimal
    now: dt.datetime
    refund_amounts: tuple[Decimal, ...] = ()
    """Each refund of the order that counts (paid or maybe paid), oldest first."""


async def lookup_order(
    audit: AuditLog,
    *,
    order_id: str,
    customer_email: str,
    thread_id: str | None,
    failed_before: int = 0,
    source: OrderSource | None = None,
) -> Order | None:
    """Find ``order_id`` for ``customer_email`` and audit the lookup.

    The order when it exists and belongs to the customer, else None (whether it exists
    for someone else is only audited, as ``owner_mismatch``).

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
    return order if found else None


CUSTOMER_REFUNDS_IN_DAYS: Final = """
SELECT count(*) AS n FROM refunds
 WHERE customer_email = %(email)s
   AND created_at >= coalesce(%(at)s::timestamptz, now())
                     - make_interval(secs => %(days)s * 86400.0)
   AND status = ANY(%(statuses)s)
"""


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """What the policy gate's node reads in one round trip.

    The facts, and whether this request was already refunded or is already waiting for
    a person.
    """

    facts: OrderFacts
    previous: Refund | None
    waiting: Ticket | None


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
    (default: ``REFUND_BUSINESS_TIMEZONE``), as the refund path re-checks it. The reads
    are pipelined: one round trip, one implicit transaction, so one ``now()``.
    """
    inputs = await read_decision_inputs(
        conn,
        request_key=None,
        order_id=order_id,
        customer_email=customer_email,
        velocity_days=velocity_days,
        now=now,
        business_timezone=business_timezone,
    )
    return inputs.facts


async def read_decision_inputs(
    conn: Conn,
    *,
    request_key: str | None,
    order_id: str,
    customer_email: str,
    velocity_days: int,
    now: dt.datetime | None = None,
    business_timezone: str | None = None,
) -> DecisionInputs:
    """:func:`gather_facts`, with the refund of ``request_key`` and the order's open ticket.

    Every statement is sent before any answer is awaited (a pipeline): they run in one
    implicit transaction on the server, so the facts are one consistent moment.
    """
    if business_timezone is None:
        business_timezone = get_settings().refund_business_timezone
    email = customer_email.strip().lower()
    async with conn.pipeline() as pipeline:
        at = await conn.execute(repo.DB_NOW)
        order_cur = await conn.execute(repo.SELECT_ORDER, (order_id,))
        open_cur = await conn.execute(
            repo.SELECT_OPEN_REFUND_FOR_ORDER, (order_id, list(OPEN_REFUND_STATUSES))
        )
        recent_cur = await conn.execute(
            CUSTOMER_REFUNDS_IN_DAYS,
            {
                "email": email,
                "at": now,
                "days": velocity_days,
                "statuses": list(COUNTED_REFUND_STATUSES),
            },
        )
        spent_cur = await conn.execute(
            repo.SPENT_IN_BUSINESS_DAY,
            {"at": now, "tz": business_timezone, "statuses": list(COUNTED_REFUND_STATUSES)},
        )
        amounts_cur = await conn.execute(
            repo.REFUND_AMOUNTS_OF_ORDER, (order_id, list(COUNTED_REFUND_STATUSES))
        )
        previous_cur = (
            await conn.execute(repo.SELECT_REFUND_BY_REQUEST, (request_key,))
            if request_key
            else None
        )
        ticket_cur = (
            await conn.execute(repo.SELECT_OPEN_TICKET_FOR_ORDER, (order_id,))
            if request_key
            else None
        )
        await pipeline.sync()
        now_row, order_row = await at.fetchone(), await order_cur.fetchone()
        open_row, recent_row = await open_cur.fetchone(), await recent_cur.fetchone()
        spent_row, amounts_row = await spent_cur.fetchone(), await amounts_cur.fetchone()
        previous_row = await previous_cur.fetchone() if previous_cur else None
        ticket_row = await ticket_cur.fetchone() if ticket_cur else None
    assert now_row is not None
    order = Order.model_validate(order_row) if order_row else None
    owned = order is not None and order.customer_email == email
    facts = OrderFacts(
        order=order if owned else None,
        owned=owned,
        refund_in_progress=owned and open_row is not None,
        customer_recent_refunds=int(recent_row["n"]) if recent_row else 0,
        spent_today=Decimal(spent_row["total"]) if spent_row else Decimal(0),
        now=now or now_row["now"],
        refund_amounts=tuple(Decimal(a) for a in amounts_row["amounts"])
        if owned and amounts_row
        else (),
    )
    return DecisionInputs(
        facts=facts,
        previous=Refund.model_validate(previous_row) if previous_row else None,
        waiting=Ticket.model_validate(ticket_row) if ticket_row else None,
    )

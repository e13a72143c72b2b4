"""Repositories: the project's SQL as named constants and small typed functions.

Every function takes a connection so callers choose the transaction. Functions that
must run under a lock say so.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from persistence.audit import jsonable
from persistence.db import Conn
from persistence.models import (
    COUNTED_REFUND_STATUSES,
    OPEN_REFUND_STATUSES,
    Order,
    Refund,
    RefundStatus,
    Ticket,
    TicketStatus,
)

# --- orders ------------------------------------------------------------------------

SELECT_ORDER: Final = "SELECT * FROM orders WHERE id = %s"
SELECT_ORDER_FOR_UPDATE: Final = "SELECT * FROM orders WHERE id = %s FOR UPDATE"
ADD_REFUNDED: Final = """
UPDATE orders
   SET refunded_usdc = refunded_usdc + %(amount)s,
       refund_status = CASE WHEN refunded_usdc + %(amount)s >= amount_usdc
                            THEN 'refunded' ELSE 'partial' END
 WHERE id = %(order_id)s
RETURNING *
"""


async def get_order(conn: Conn, order_id: str, *, for_update: bool = False) -> Order | None:
    """The order with this id, or None. ``for_update`` locks the row (in a transaction)."""
    cur = await conn.execute(SELECT_ORDER_FOR_UPDATE if for_update else SELECT_ORDER, (order_id,))
    row = await cur.fetchone()
    return Order.model_validate(row) if row else None


async def orders_of_customer(conn: Conn, email: str, *, limit: int) -> list[Order]:
    """A customer's most recent orders, newest first."""
    cur = await conn.execute(
        "SELECT * FROM orders WHERE customer_email = %s ORDER BY created_at DESC LIMIT %s",
        (email.strip().lower(), limit),
    )
    return [Order.model_validate(row) for row in await cur.fetchall()]


async def has_orders(conn: Conn) -> bool:
    """True when at least one order exists."""
    cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM orders) AS any")
    row = await cur.fetchone()
    return bool(row and row["any"])


async def add_refunded(conn: Conn, order_id: str, amount: Decimal) -> Order:
    """Add a confirmed refund to the order's refunded amount and status."""
    cur = await conn.execute(ADD_REFUNDED, {"amount": amount, "order_id": order_id})
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"order {order_id} vanished")
    return Order.model_validate(row)


# --- refunds -----------------------------------------------------------------------

SELECT_REFUND_BY_REQUEST: Final = "SELECT * FROM refunds WHERE request_key = %s"
SELECT_REFUND: Final = "SELECT * FROM refunds WHERE id = %s"
SELECT_REFUND_FOR_UPDATE: Final = "SELECT * FROM refunds WHERE id = %s FOR UPDATE"
SELECT_OPEN_REFUND_FOR_ORDER: Final = (
    "SELECT * FROM refunds WHERE order_id = %s AND status = ANY(%s) ORDER BY attempt LIMIT 1"
)
REFUND_AMOUNTS_OF_ORDER: Final = (
    "SELECT coalesce(array_agg(amount_usdc ORDER BY attempt), '{}') AS amounts FROM refunds "
    "WHERE order_id = %s AND status = ANY(%s)"
)
"""Every refund of an order that counts (paid, or maybe paid), in the order they were made."""
SELECT_OPEN_REFUNDS: Final = "SELECT * FROM refunds WHERE status = ANY(%s) ORDER BY created_at"
NEXT_ATTEMPT: Final = "SELECT coalesce(max(attempt), 0) + 1 AS n FROM refunds WHERE order_id = %s"
INSERT_REFUND: Final = """
INSERT INTO refunds (id, order_id, attempt, request_key, idempotency_key, customer_email,
                     payment_id, amount_usdc, reason, status, approved_by, policy_version,
                     thread_id)
VALUES (%(id)s, %(order_id)s, %(attempt)s, %(request_key)s, %(idempotency_key)s, %(customer_email)s,
        %(payment_id)s, %(amount)s, %(reason)s, 'intent', %(approved_by)s, %(policy_version)s,
        %(thread_id)s)
RETURNING *
"""
UPDATE_REFUND: Final = """
UPDATE refunds
   SET status = %(status)s,
       moltpe_refund_id = coalesce(%(moltpe_refund_id)s, moltpe_refund_id),
       tx_hash = coalesce(%(tx_hash)s, tx_hash),
       error_code = %(error_code)s,
       error_reason = %(error_reason)s,
       error_message = %(error_message)s,
       notice_due = notice_due OR (%(notice_due)s AND %(status)s IN ('confirmed', 'failed')
                                   AND thread_id IS NOT NULL),
       updated_at = now()
 WHERE id = %(id)s
RETURNING *
"""
SPENT_SINCE: Final = (
    "SELECT coalesce(sum(amount_usdc), 0) AS total FROM refunds "
    "WHERE created_at >= %s AND status = ANY(%s)"
)
RECENT_CUSTOMER_REFUNDS: Final = (
    "SELECT count(*) AS n FROM refunds WHERE customer_email = %s"
    " AND created_at >= now() - make_interval(secs => %s * 86400.0) AND status = ANY(%s)"
)
CUSTOMER_REFUNDS_SINCE: Final = (
    "SELECT count(*) AS n FROM refunds "
    "WHERE customer_email = %s AND created_at >= %s AND status = ANY(%s)"
)
LIST_REFUNDS: Final = "SELECT * FROM refunds ORDER BY created_at DESC LIMIT %s"
LIST_REFUNDS_BY_STATUS: Final = (
    "SELECT * FROM refunds WHERE status = %s ORDER BY created_at DESC LIMIT %s"
)
# The first key of the two-key advisory locks that serialise one customer's refunds.
CUSTOMER_LOCK_CLASS: Final = 0x5246_4E44  # "RFND"


# One clock for money: the business day and the time a refund is stamped with both come
# from the database's now() (refunds.created_at defaults to it), never from the app.
DB_NOW: Final = "SELECT now() AS now"
SPENT_IN_BUSINESS_DAY: Final = """
WITH day AS (
    SELECT date_trunc('day', coalesce(%(at)s::timestamptz, now()), %(tz)s) AS start
)
SELECT coalesce(sum(amount_usdc), 0) AS total
  FROM refunds, day
 WHERE created_at >= day.start
   AND created_at < ((day.start AT TIME ZONE %(tz)s) + interval '1 day') AT TIME ZONE %(tz)s
   AND status = ANY(%(statuses)s)
"""


async def db_now(conn: Conn) -> dt.datetime:
    """The database's time (the start of the current transaction, as ``now()``)."""
    cur = await conn.execute(DB_NOW)
    row = await cur.fetchone()
    assert row is not None
    now: dt.datetime = row["now"]
    return now


async def spent_in_business_day(
    conn: Conn, timezone: str, at: dt.datetime | None = None
) -> Decimal:
    """USDC committed to refunds in the business day containing ``at`` (default: now).

    The day is the calendar day in ``timezone`` (``REFUND_BUSINESS_TIMEZONE``) of the
    database's ``now()``: the same clock that stamps every refund, so no refund falls
    between two days whatever the application's clock says.
    """
    cur = await conn.execute(
        SPENT_IN_BUSINESS_DAY,
        {"at": at, "tz": timezone, "statuses": list(COUNTED_REFUND_STATUSES)},
    )
    row = await cur.fetchone()
    return Decimal(row["total"]) if row else Decimal(0)


def utc_day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight UTC of the day containing ``now`` (reports; money uses the database's day)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def refund_by_request(conn: Conn, request_key: str) -> Refund | None:
    """The refund recorded for this customer request, if any."""
    cur = await conn.execute(SELECT_REFUND_BY_REQUEST, (request_key,))
    row = await cur.fetchone()
    return Refund.model_validate(row) if row else None


async def refund_and_open_refund(
    conn: Conn, request_key: str, order_id: str
) -> tuple[Refund | None, Refund | None]:
    """The refund of this request and the order's unsettled refund, in one round trip."""
    async with conn.pipeline() as pipeline:
        by_request = await conn.execute(SELECT_REFUND_BY_REQUEST, (request_key,))
        unsettled = await conn.execute(
            SELECT_OPEN_REFUND_FOR_ORDER, (order_id, list(OPEN_REFUND_STATUSES))
        )
        await pipeline.sync()
        rows = await by_request.fetchone(), await unsettled.fetchone()
    return tuple(Refund.model_validate(r) if r else None for r in rows)  # type: ignore[return-value]


async def get_refund(
    conn: Conn, refund_id: uuid.UUID, *, for_update: bool = False
) -> Refund | None:
    """The refund with this id, or None. ``for_update`` locks the row (in a transaction)."""
    cur = await conn.execute(
        SELECT_REFUND_FOR_UPDATE if for_update else SELECT_REFUND, (refund_id,)
    )
    row = await cur.fetchone()
    return Refund.model_validate(row) if row else None


# The budget counter: one row a day (refund_budget_days), the day being the calendar day
# of the database's clock in the business time zone.
RESERVE_BUDGET: Final = """
UPDATE refund_budget_days
   SET spent = spent + %(amount)s, updated_at = now()
 WHERE day = (now() AT TIME ZONE %(tz)s)::date
   AND (%(cap)s::numeric IS NULL OR spent + %(amount)s <= %(cap)s::numeric)
RETURNING spent
"""
SEED_BUDGET_DAY: Final = """
WITH day AS (SELECT (now() AT TIME ZONE %(tz)s)::date AS d)
INSERT INTO refund_budget_days (day, spent)
SELECT day.d, coalesce(sum(r.amount_usdc), 0)
  FROM day
  LEFT JOIN refunds r
    ON r.created_at >= day.d::timestamp AT TIME ZONE %(tz)s
   AND r.created_at < (day.d + 1)::timestamp AT TIME ZONE %(tz)s
   AND r.status = ANY(%(statuses)s)
   AND r.id <> %(refund_id)s
 GROUP BY day.d
ON CONFLICT (day) DO NOTHING
"""
ADJUST_BUDGET: Final = """
UPDATE refund_budget_days
   SET spent = greatest(spent + %(delta)s, 0), updated_at = now()
 WHERE day = (%(at)s::timestamptz AT TIME ZONE %(tz)s)::date
"""
SELECT_BUDGET_DAY: Final = (
    "SELECT spent FROM refund_budget_days WHERE day = (now() AT TIME ZONE %(tz)s)::date"
)


async def open_refund_for_order(conn: Conn, order_id: str) -> Refund | None:
    """The order's refund whose outcome is not settled yet (intent/unknown)."""
    cur = await conn.execute(SELECT_OPEN_REFUND_FOR_ORDER, (order_id, list(OPEN_REFUND_STATUSES)))
    row = await cur.fetchone()
    return Refund.model_validate(row) if row else None


async def open_refunds(conn: Conn) -> list[Refund]:
    """Every refund whose outcome is not settled, oldest first."""
    cur = await conn.execute(SELECT_OPEN_REFUNDS, (list(OPEN_REFUND_STATUSES),))
    return [Refund.model_validate(r) for r in await cur.fetchall()]


async def lock_customer(conn: Conn, email: str) -> None:
    """Serialise one customer's refund intents across every process (transaction-scoped)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%s::int4, hashtext(%s))", (CUSTOMER_LOCK_CLASS, email.lower())
    )


class OverBudget(Exception):
    """The reservation would take the day's refunds over the daily cap."""


async def reserve_budget(
    conn: Conn, timezone: str, refund_id: uuid.UUID, amount: Decimal, cap: Decimal | None
) -> Decimal:
    """Add ``amount`` to today's budget counter unless that passes ``cap``; return the total.

    Today is the business day of the database's ``now()`` (the clock that stamps the
    refund). The guarded ``UPDATE`` holds only the day's row, only until commit: call it as
    the last statement of the intent transaction. ``cap=None`` (a person approved) adds
    without the guard. Raises :class:`OverBudget`, leaving the counter as it was.
    """
    params = {"tz": timezone, "amount": amount, "cap": cap}
    cur = await conn.execute(RESERVE_BUDGET, params)
    row = await cur.fetchone()
    if row is None:
        # Over the cap, or the first refund of the day: seed the day's row from its refunds
        # (this one excepted, it is added below), then try once more.
        seed = {**params, "refund_id": refund_id, "statuses": list(COUNTED_REFUND_STATUSES)}
        await conn.execute(SEED_BUDGET_DAY, seed)
        cur = await conn.execute(RESERVE_BUDGET, params)
        row = await cur.fetchone()
    if row is None:
        raise OverBudget
    return Decimal(row["spent"])


async def adjust_budget(conn: Conn, timezone: str, refund: Refund, *, counted: bool) -> None:
    """Give back (``counted=False``) or take again a refund's amount on its own day's counter.

    A refund that failed releases its reservation; one a late receipt confirms after a
    recorded failure takes it again (unguarded: the money moved).
    """
    await conn.execute(
        ADJUST_BUDGET,
        {
            "tz": timezone,
            "at": refund.created_at,
            "delta": refund.amount_usdc if counted else -refund.amount_usdc,
        },
    )


async def budget_spent_today(conn: Conn, timezone: str) -> Decimal:
    """Today's budget counter (the day's refunds when the day has no counter row yet)."""
    cur = await conn.execute(SELECT_BUDGET_DAY, {"tz": timezone})
    row = await cur.fetchone()
    if row is not None:
        return Decimal(row["spent"])
    return await spent_in_business_day(conn, timezone)


async def spent_since(conn: Conn, since: dt.datetime) -> Decimal:
    """USDC committed to refunds (settled or possibly paid) since ``since``."""
    cur = await conn.execute(SPENT_SINCE, (since, list(COUNTED_REFUND_STATUSES)))
    row = await cur.fetchone()
    return Decimal(row["total"]) if row else Decimal(0)


async def customer_refunds_since(conn: Conn, email: str, since: dt.datetime) -> int:
    """How many refunds a customer received (or may have) since ``since``."""
    cur = await conn.execute(
        CUSTOMER_REFUNDS_SINCE, (email.lower(), since, list(COUNTED_REFUND_STATUSES))
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


@dataclass(frozen=True, slots=True)
class IntentFacts:
    """What a refund intent is checked against, read in one round trip under the locks."""

    now: dt.datetime
    order: Order | None
    open_refund: Refund | None
    next_attempt: int
    recent_refunds: int | None
    """The customer's refunds within the velocity window (None: not asked)."""


async def read_intent_facts(
    conn: Conn, order_id: str, customer_email: str, *, velocity_days: int | None
) -> IntentFacts:
    """Lock the order (and the customer, with ``velocity_days``) and read the facts.

    One round trip when the caller's transaction is pipelined (see
    :func:`persistence.db.pipelined_transaction`): the database's time (the clock that
    stamps the intent), the order ``FOR UPDATE``, its unsettled refund, its next
    attempt number and, serialised by a transaction-scoped lock on the customer (several
    chats at once), how many refunds the customer had within ``velocity_days``. The
    statements run in this order, so the counts are read under the locks.
    """
    now = await conn.execute(DB_NOW)
    order = await conn.execute(SELECT_ORDER_FOR_UPDATE, (order_id,))
    unsettled = await conn.execute(
        SELECT_OPEN_REFUND_FOR_ORDER, (order_id, list(OPEN_REFUND_STATUSES))
    )
    attempt = await conn.execute(NEXT_ATTEMPT, (order_id,))
    recent = None
    if velocity_days is not None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s::int4, hashtext(%s))",
            (CUSTOMER_LOCK_CLASS, customer_email.lower()),
        )
        recent = await conn.execute(
            RECENT_CUSTOMER_REFUNDS,
            (customer_email.lower(), velocity_days, list(COUNTED_REFUND_STATUSES)),
        )
    # In pipeline mode the first read sends everything queued (BEGIN included) and waits
    # once; outside it, each statement above already waited.
    now_row, order_row = await now.fetchone(), await order.fetchone()
    open_row, attempt_row = await unsettled.fetchone(), await attempt.fetchone()
    recent_row = await recent.fetchone() if recent is not None else None
    assert now_row is not None and attempt_row is not None
    return IntentFacts(
        now=now_row["now"],
        order=Order.model_validate(order_row) if order_row else None,
        open_refund=Refund.model_validate(open_row) if open_row else None,
        next_attempt=int(attempt_row["n"]),
        recent_refunds=int(recent_row["n"]) if recent_row else None,
    )


async def send_refund_intent(
    conn: Conn,
    *,
    order: Order,
    request_key: str,
    idempotency_key: str,
    amount: Decimal,
    reason: str,
    approved_by: str,
    policy_version: str | None,
    thread_id: str | None,
    attempt: int | None = None,
    refund_id: uuid.UUID | None = None,
) -> Callable[[], Awaitable[Refund]]:
    """Send the intent's INSERT; return what reads the stored row.

    In pipeline mode the statement goes with the next round trip; the returned function
    waits for its answer (raising, e.g., ``UniqueViolation``, if it failed).
    """
    if attempt is None:
        cur = await conn.execute(NEXT_ATTEMPT, (order.id,))
        row = await cur.fetchone()
        attempt = int(row["n"]) if row else 1
    cur = await conn.execute(
        INSERT_REFUND,
        {
            "id": refund_id or uuid.uuid4(),
            "order_id": order.id,
            "attempt": attempt,
            "request_key": request_key,
            "idempotency_key": idempotency_key,
            "customer_email": order.customer_email,
            "payment_id": order.payment_id,
            "amount": amount,
            "reason": reason,
            "approved_by": approved_by,
            "policy_version": policy_version,
            "thread_id": thread_id,
        },
    )

    async def created() -> Refund:
        row = await cur.fetchone()
        assert row is not None
        return Refund.model_validate(row)

    return created


async def update_refund(
    conn: Conn,
    refund_id: uuid.UUID,
    *,
    status: RefundStatus,
    moltpe_refund_id: str | None = None,
    tx_hash: str | None = None,
    error_code: str | None = None,
    error_reason: str | None = None,
    error_message: str | None = None,
    notice_due: bool = False,
) -> Refund:
    """Record a refund's new status and MoltPe's answer.

    ``notice_due``: the conversation's turn has answered already, so a settled outcome
    (confirmed or failed) is to be told to the customer there (``server.notices``).
    """
    cur = await conn.execute(
        UPDATE_REFUND,
        {
            "id": refund_id,
            "status": status,
            "moltpe_refund_id": moltpe_refund_id,
            "tx_hash": tx_hash,
            "error_code": error_code,
            "error_reason": error_reason,
            "error_message": error_message,
            "notice_due": notice_due,
        },
    )
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"refund {refund_id} vanished")
    return Refund.model_validate(row)


async def list_refunds(
    conn: Conn, *, status: RefundStatus | None = None, limit: int = 100
) -> list[Refund]:
    """The most recent refunds, optionally of one status."""
    if status is None:
        cur = await conn.execute(LIST_REFUNDS, (limit,))
    else:
        cur = await conn.execute(LIST_REFUNDS_BY_STATUS, (status, limit))
    return [Refund.model_validate(r) for r in await cur.fetchall()]


# --- review tickets ----------------------------------------------------------------

INSERT_TICKET: Final = """
INSERT INTO review_tickets (request_key, customer_email, order_id, reason, thread_id, context)
VALUES (%(request_key)s, %(customer_email)s, %(order_id)s, %(reason)s, %(thread_id)s,
        %(context)s::jsonb)
ON CONFLICT DO NOTHING
RETURNING *
"""
SELECT_TICKET: Final = "SELECT * FROM review_tickets WHERE id = %s"
SELECT_TICKET_BY_REQUEST: Final = "SELECT * FROM review_tickets WHERE request_key = %s"
LIST_TICKETS: Final = "SELECT * FROM review_tickets ORDER BY id DESC LIMIT %s"
LIST_TICKETS_BY_STATUS: Final = (
    "SELECT * FROM review_tickets WHERE status = %s ORDER BY id DESC LIMIT %s"
)
RESOLVE_TICKET: Final = """
UPDATE review_tickets
   SET status = %(status)s, resolved_by = %(resolved_by)s, resolved_at = now(),
       resolution_note = %(note)s, refund_id = coalesce(%(refund_id)s, refund_id),
       claimed_by = NULL, claimed_until = NULL
 WHERE id = %(id)s AND status = 'open'
RETURNING *
"""
CLAIM_TICKET: Final = """
UPDATE review_tickets
   SET claimed_by = %(reviewer)s, claimed_until = now() + make_interval(secs => %(seconds)s)
 WHERE id = %(id)s AND status = 'open'
   AND (claimed_until IS NULL OR claimed_until < now())
   AND (assignee IS NULL OR assignee = %(reviewer)s)
RETURNING *
"""
UNCLAIM_TICKET: Final = (
    "UPDATE review_tickets SET claimed_by = NULL, claimed_until = NULL "
    "WHERE id = %s AND claimed_by = %s"
)


async def create_ticket(
    conn: Conn,
    *,
    request_key: str | None,
    customer_email: str | None,
    order_id: str | None,
    reason: str,
    thread_id: str | None,
    context: dict[str, Any],
) -> tuple[Ticket, bool]:
    """Open a ticket; returns ``(ticket, created)``.

    Idempotent per ``request_key``. While the order has an open ticket (a partial unique
    index allows one), that ticket is returned instead of a second one: check its
    ``request_key`` to tell a repeated request from another request attached to it.
    """
    for _ in range(5):
        cur = await conn.execute(
            INSERT_TICKET,
            {
                "request_key": request_key,
                "customer_email": customer_email,
                "order_id": order_id,
                "reason": reason,
                "thread_id": thread_id,
                "context": json.dumps(jsonable(context), ensure_ascii=False),
            },
        )
        row = await cur.fetchone()
        if row is not None:
            return Ticket.model_validate(row), True
        cur = await conn.execute(SELECT_TICKET_BY_REQUEST, (request_key,))
        existing = await cur.fetchone()
        if existing is not None:
            return Ticket.model_validate(existing), False
        if order_id is not None:
            waiting = await open_ticket_for_order(conn, order_id)
            if waiting is not None:
                return waiting, False
        # The order's open ticket was resolved between the insert and the look: again.
    raise LookupError(f"no ticket could be opened or found for {request_key}")


ATTACH_TO_TICKET: Final = """
UPDATE review_tickets
   SET context = context || jsonb_build_object(
           'attached',
           coalesce(context->'attached', '{}'::jsonb)
               || jsonb_build_object(%(key)s::text, %(info)s::jsonb))
 WHERE id = %(id)s AND NOT coalesce(context->'attached' ? %(key)s, false)
RETURNING *
"""


async def attach_to_ticket(
    conn: Conn, ticket_id: int, request_key: str, info: dict[str, Any]
) -> Ticket | None:
    """Note another request on a ticket (under ``context.attached``); None if noted before."""
    cur = await conn.execute(
        ATTACH_TO_TICKET,
        {
            "id": ticket_id,
            "key": request_key,
            "info": json.dumps(jsonable(info), ensure_ascii=False),
        },
    )
    row = await cur.fetchone()
    return Ticket.model_validate(row) if row else None


SELECT_OPEN_TICKET_FOR_ORDER: Final = (
    "SELECT * FROM review_tickets WHERE order_id = %s AND status = 'open' ORDER BY id LIMIT 1"
)


async def open_ticket_for_order(conn: Conn, order_id: str) -> Ticket | None:
    """The order's ticket still waiting for a person, if any."""
    cur = await conn.execute(SELECT_OPEN_TICKET_FOR_ORDER, (order_id,))
    row = await cur.fetchone()
    return Ticket.model_validate(row) if row else None


async def get_ticket(conn: Conn, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
    """The ticket with this id, or None. ``for_update`` locks the row (in a transaction)."""
    cur = await conn.execute(SELECT_TICKET + (" FOR UPDATE" if for_update else ""), (ticket_id,))
    row = await cur.fetchone()
    return Ticket.model_validate(row) if row else None


async def list_tickets(
    conn: Conn, *, status: TicketStatus | None = None, limit: int = 100
) -> list[Ticket]:
    """The most recent tickets, optionally of one status."""
    if status is None:
        cur = await conn.execute(LIST_TICKETS, (limit,))
    else:
        cur = await conn.execute(LIST_TICKETS_BY_STATUS, (status, limit))
    return [Ticket.model_validate(r) for r in await cur.fetchall()]


async def resolve_ticket(
    conn: Conn,
    ticket_id: int,
    *,
    status: TicketStatus,
    resolved_by: str,
    note: str,
    refund_id: uuid.UUID | None = None,
) -> Ticket:
    """Record a reviewer's resolution of a ticket."""
    cur = await conn.execute(
        RESOLVE_TICKET,
        {
            "id": ticket_id,
            "status": status,
            "resolved_by": resolved_by,
            "note": note,
            "refund_id": refund_id,
        },
    )
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"ticket {ticket_id} is not open")
    return Ticket.model_validate(row)


async def claim_ticket(
    conn: Conn, ticket_id: int, reviewer: str, seconds: float = 120.0
) -> Ticket | None:
    """Claim an open ticket for one reviewer while they resolve it; None if not claimable."""
    cur = await conn.execute(
        CLAIM_TICKET, {"id": ticket_id, "reviewer": reviewer, "seconds": seconds}
    )
    row = await cur.fetchone()
    return Ticket.model_validate(row) if row else None


async def unclaim_ticket(conn: Conn, ticket_id: int, reviewer: str) -> None:
    """Give a claimed ticket back (the resolution did not complete)."""
    await conn.execute(UNCLAIM_TICKET, (ticket_id, reviewer))


ASSIGN_TICKET: Final = """
UPDATE review_tickets
   SET assignee = %(assignee)s,
       assigned_at = CASE WHEN %(assignee)s::text IS NULL THEN NULL ELSE now() END
 WHERE id = %(id)s AND status = 'open'
RETURNING *
"""


async def assign_ticket(conn: Conn, ticket_id: int, assignee: str | None) -> Ticket | None:
    """Make an open ticket ``assignee``'s (None: nobody's); None if it is not open."""
    cur = await conn.execute(ASSIGN_TICKET, {"id": ticket_id, "assignee": assignee})
    row = await cur.fetchone()
    return Ticket.model_validate(row) if row else None


TicketView = Literal["open", "mine", "resolved", "all"]
"""The review queue's views: open tickets, the open ones a reviewer took, resolved ones."""

VIEW_FILTERS: Final[dict[str, str]] = {
    "open": "t.status = 'open'",
    "mine": "t.status = 'open' AND t.assignee = %(assignee)s",
    "resolved": "t.status <> 'open'",
    "all": "true",
    "status": "t.status = %(status)s",
}
VIEW_ORDER: Final[dict[str, str]] = {
    "resolved": "t.resolved_at DESC NULLS LAST, t.id DESC",
}
# One box finds a ticket by its reference or id, an order id or a customer's email.
TICKET_MATCHES: Final = """
(%(q)s::text IS NULL
 OR t.id = %(q_id)s
 OR t.order_id ILIKE %(q_like)s ESCAPE '\\'
 OR t.customer_email ILIKE %(q_like)s ESCAPE '\\')
"""
SEARCH_TICKETS: Final = """
SELECT t.*, r.amount_usdc AS refund_amount
  FROM review_tickets AS t LEFT JOIN refunds AS r ON r.id = t.refund_id
 WHERE {view} AND {matches}
 ORDER BY {order}
 LIMIT %(limit)s OFFSET %(offset)s
"""
COUNT_VIEWS: Final = """
SELECT count(*) FILTER (WHERE t.status = 'open') AS open,
       count(*) FILTER (WHERE t.status = 'open' AND t.assignee = %(assignee)s) AS mine,
       count(*) FILTER (WHERE t.status <> 'open') AS resolved
  FROM review_tickets AS t
 WHERE {matches}
"""
TICKET_REFERENCE = re.compile(r"(?i)^(?:rt[-\s]?)?0*(\d{1,18})$")


@dataclass(frozen=True, slots=True)
class TicketRow:
    """A ticket in a list, with the amount its approval refunded (if any)."""

    ticket: Ticket
    refund_amount: Decimal | None


def ticket_search(q: str | None) -> dict[str, Any]:
    """The search parameters of a query typed into the one box (None or blank: everything).

    ``RT-000042``, ``rt42`` and ``42`` name ticket 42; any text is also looked for inside
    order ids and customer emails, ignoring case.
    """
    text = (q or "").strip()
    if not text:
        return {"q": None, "q_id": None, "q_like": None}
    reference = TICKET_REFERENCE.fullmatch(text)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {
        "q": text,
        "q_id": int(reference.group(1)) if reference else None,
        "q_like": f"%{escaped}%",
    }


async def search_tickets(
    conn: Conn,
    *,
    view: TicketView | None = None,
    status: TicketStatus | None = None,
    assignee: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[TicketRow]:
    """A page of one view of the queue (or of one ``status``), matching ``q``.

    Open views list the newest first, the resolved view the latest resolved first.
    """
    key = "status" if status is not None else (view or "open")
    query = SEARCH_TICKETS.format(
        view=VIEW_FILTERS[key],
        matches=TICKET_MATCHES,
        order=VIEW_ORDER.get(key, "t.id DESC"),
    )
    params = {
        **ticket_search(q),
        "status": status,
        "assignee": assignee,
        "limit": limit,
        "offset": offset,
    }
    # Never a prepared (generic) plan: only a plan for this very text uses the trigram
    # indexes; a generic one scans every ticket (550 ms at 300,000 tickets, not 4 ms).
    cur = await conn.execute(query, params, prepare=False)
    return [
        TicketRow(
            ticket=Ticket.model_validate(row),
            refund_amount=Decimal(row["refund_amount"])
            if row["refund_amount"] is not None
            else None,
        )
        for row in await cur.fetchall()
    ]


async def count_ticket_views(conn: Conn, *, assignee: str | None, q: str | None) -> dict[str, int]:
    """How many tickets each view of the queue holds (those matching ``q``)."""
    query = COUNT_VIEWS.format(matches=TICKET_MATCHES)
    cur = await conn.execute(query, {**ticket_search(q), "assignee": assignee}, prepare=False)
    row = await cur.fetchone()
    assert row is not None
    return {"open": int(row["open"]), "mine": int(row["mine"]), "resolved": int(row["resolved"])}


# --- conversations of the HTTP service ---------------------------------------------

INSERT_CONVERSATION: Final = (
    "INSERT INTO conversations (thread_id, customer_email, channel) VALUES (%s, %s, %s)"
)
SELECT_CONVERSATION: Final = "SELECT * FROM conversations WHERE thread_id = %s"
TAKE_CONVERSATION: Final = """
UPDATE conversations
   SET busy_until = now() + make_interval(secs => %s), busy_token = %s
 WHERE thread_id = %s AND (busy_until IS NULL OR busy_until < now())
RETURNING thread_id
"""
RELEASE_CONVERSATION: Final = (
    "UPDATE conversations SET busy_until = NULL, busy_token = NULL "
    "WHERE thread_id = %s AND busy_token = %s"
)


async def create_conversation(
    conn: Conn, thread_id: str, customer_email: str | None, channel: str
) -> None:
    """Record a new conversation of the HTTP service."""
    await conn.execute(INSERT_CONVERSATION, (thread_id, customer_email, channel))


async def get_conversation(conn: Conn, thread_id: str) -> dict[str, Any] | None:
    """The conversation row, or None."""
    cur = await conn.execute(SELECT_CONVERSATION, (thread_id,))
    return await cur.fetchone()


async def take_conversation(conn: Conn, thread_id: str, lease_seconds: float) -> str | None:
    """Lease the conversation for one turn; its token, or None while another holds it.

    A lease, not a held lock: a process that dies mid-turn frees it when it expires.
    """
    token = uuid.uuid4().hex
    cur = await conn.execute(TAKE_CONVERSATION, (lease_seconds, token, thread_id))
    return token if await cur.fetchone() is not None else None


HIT_AND_TAKE: Final = """
WITH hit AS (
    INSERT INTO rate_limit_hits (bucket, window_start, hits)
    VALUES (%(bucket)s,
            to_timestamp(floor(extract(epoch FROM now()) / %(window)s) * %(window)s), 1)
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_hits.hits + 1
    RETURNING hits,
              extract(epoch FROM window_start + make_interval(secs => %(window)s) - now())
                  AS retry_after
), lease AS (
    UPDATE conversations
       SET busy_until = now() + make_interval(secs => %(lease)s), busy_token = %(token)s
     WHERE thread_id = %(thread)s AND (busy_until IS NULL OR busy_until < now())
       AND (SELECT hits FROM hit) <= %(limit)s
    RETURNING thread_id
)
SELECT hit.hits, hit.retry_after, EXISTS (SELECT FROM lease) AS taken FROM hit
"""


async def hit_and_take_conversation(
    conn: Conn,
    thread_id: str,
    *,
    bucket: str,
    limit: int,
    window_seconds: int,
    lease_seconds: float,
) -> tuple[bool, int, str | None]:
    """Count a message against its rate limit and, if allowed, lease the conversation.

    One statement for both (:func:`hit_rate_limit` and :func:`take_conversation`).

    Returns:
        Whether the rate limit allows it, the seconds until its window resets, and the
        lease's token (None when refused or while another turn holds the conversation).
    """
    token = uuid.uuid4().hex
    cur = await conn.execute(
        HIT_AND_TAKE,
        {
            "bucket": bucket,
            "window": window_seconds,
            "lease": lease_seconds,
            "token": token,
            "thread": thread_id,
            "limit": limit,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    retry_after = retry_after_seconds(row["retry_after"])
    allowed = int(row["hits"]) <= limit
    return allowed, retry_after, token if row["taken"] else None


def retry_after_seconds(value: Any) -> int:
    """A window's remaining seconds as the whole seconds of a ``Retry-After`` (at least 1)."""
    return max(1, int(Decimal(value).to_integral_value(rounding="ROUND_CEILING")))


HIT_AND_READ_CONVERSATION: Final = """
WITH hit AS (
    INSERT INTO rate_limit_hits (bucket, window_start, hits)
    VALUES (%(bucket)s,
            to_timestamp(floor(extract(epoch FROM now()) / %(window)s) * %(window)s), 1)
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_hits.hits + 1
    RETURNING hits,
              extract(epoch FROM window_start + make_interval(secs => %(window)s) - now())
                  AS retry_after
)
SELECT hit.hits, hit.retry_after, to_jsonb(c) AS conversation,
       (SELECT response FROM conversation_requests
         WHERE thread_id = %(thread_id)s AND idempotency_key = %(key)s) AS kept
  FROM hit LEFT JOIN conversations c ON c.thread_id = %(thread_id)s
"""
"""The rate-limit hit (as :data:`HIT`) and the conversation's row and kept answer."""


@dataclass(frozen=True, slots=True)
class Admission:
    """A customer's message at the door: the rate limit's verdict and what it is about."""

    allowed: bool
    retry_after: int
    conversation: dict[str, Any] | None
    kept_answer: dict[str, Any] | None


async def hit_and_read_conversation(
    conn: Conn,
    bucket: str,
    *,
    limit: int,
    window_seconds: int,
    thread_id: str,
    key: str | None,
) -> Admission:
    """Count one request in ``bucket``; read the conversation and its kept answer.

    One statement (one round trip): the rate limit's verdict, the conversation's row
    (None when there is none) and the answer kept under ``key``.
    """
    cur = await conn.execute(
        HIT_AND_READ_CONVERSATION,
        {"bucket": bucket, "window": window_seconds, "thread_id": thread_id, "key": key},
    )
    row = await cur.fetchone()
    assert row is not None
    retry_after = retry_after_seconds(row["retry_after"])
    conversation = row["conversation"]
    return Admission(
        allowed=int(row["hits"]) <= limit,
        retry_after=retry_after,
        conversation=conversation_of(conversation) if conversation else None,
        kept_answer=dict(row["kept"]) if row["kept"] else None,
    )


def conversation_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """A conversation row read as JSON (``to_jsonb``) with its times as datetimes again."""
    row = dict(data)
    for name, value in row.items():
        if isinstance(value, str) and name.endswith(("_at", "_until")):
            row[name] = dt.datetime.fromisoformat(value)
    return row


async def release_conversation(conn: Conn, thread_id: str, token: str) -> None:
    """End a turn's lease (only the holder's: an expired lease may be someone else's now)."""
    await conn.execute(RELEASE_CONVERSATION, (thread_id, token))


SELECT_REQUEST_ANSWER: Final = (
    "SELECT response FROM conversation_requests WHERE thread_id = %s AND idempotency_key = %s"
)
INSERT_REQUEST_ANSWER: Final = """
INSERT INTO conversation_requests (thread_id, idempotency_key, response)
VALUES (%s, %s, %s::jsonb) ON CONFLICT DO NOTHING
"""


async def request_answer(conn: Conn, thread_id: str, key: str) -> dict[str, Any] | None:
    """The stored answer to a message sent before with this idempotency key."""
    cur = await conn.execute(SELECT_REQUEST_ANSWER, (thread_id, key))
    row = await cur.fetchone()
    return dict(row["response"]) if row else None


async def store_request_answer(
    conn: Conn, thread_id: str, key: str, response: Mapping[str, Any]
) -> None:
    """Keep the answer to a message sent with an idempotency key."""
    await conn.execute(
        INSERT_REQUEST_ANSWER, (thread_id, key, json.dumps(response, ensure_ascii=False))
    )


# --- rate limits -------------------------------------------------------------------

HIT: Final = """
INSERT INTO rate_limit_hits (bucket, window_start, hits)
VALUES (%(bucket)s, to_timestamp(floor(extract(epoch FROM now()) / %(window)s) * %(window)s), 1)
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_hits.hits + 1
RETURNING hits, extract(epoch FROM window_start + make_interval(secs => %(window)s) - now())
    AS retry_after
"""
PRUNE_HITS: Final = "DELETE FROM rate_limit_hits WHERE window_start < now() - interval '1 hour'"


async def hit_rate_limit(
    conn: Conn, bucket: str, *, limit: int, window_seconds: int
) -> tuple[bool, int]:
    """Count one request in ``bucket``'s current fixed window.

    Returns:
        Whether it is allowed, and the seconds until the window resets.
    """
    cur = await conn.execute(HIT, {"bucket": bucket, "window": window_seconds})
    row = await cur.fetchone()
    assert row is not None
    retry_after = retry_after_seconds(row["retry_after"])
    return int(row["hits"]) <= limit, retry_after


async def prune_rate_limits(conn: Conn) -> None:
    """Forget windows older than an hour."""
    await conn.execute(PRUNE_HITS)


COUNT_FAILED_WITH_PREFIX: Final = (
    "SELECT count(*) AS n FROM refunds WHERE starts_with(request_key, %s) AND status = 'failed'"
)


async def failed_refunds_with_prefix(conn: Conn, prefix: str) -> int:
    """How many refunds whose request key starts with ``prefix`` failed definitively."""
    cur = await conn.execute(COUNT_FAILED_WITH_PREFIX, (prefix,))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0

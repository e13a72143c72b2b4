"""Orders read from the merchant's own table or view, copied in on first sight.

Set ``ORDERS_SOURCE_QUERY`` to a SELECT that returns the documented order columns
(:data:`tools.order_import.ORDER_COLUMNS`, docs/ORDERS.md) for ``%(order_id)s``, e.g.::

    SELECT * FROM shop.refund_agent_orders WHERE id = %(order_id)s

When a customer names an order that is not in the agent's ``orders`` table, the lookup
runs the query (in a read-only transaction, on the agent's own database: point it at a
view, or at a foreign table for another database) and, if exactly one valid row comes
back, copies it in, audited as ``orders_imported``. From then on the agent's table is
what counts for that order: it keeps the refund bookkeeping (refunded amount, status),
and later changes in the source are not followed (re-import the order to update it).

The query is checked when the services start (:func:`validate_source_query`): it must
use the placeholder, run, and return every required column with a usable type; a clear
:class:`OrderSourceError` says what is wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from psycopg import errors, sql

from core.errors import ConfigurationError
from persistence import repo
from persistence.audit import AuditEvent, AuditLog, EventType
from persistence.db import Conn
from persistence.models import Order
from tools.order_import import REQUIRED_COLUMNS, InvalidOrder, OrderRecord, parse_order

__all__ = ["PLACEHOLDER", "OrderSource", "OrderSourceError", "validate_source_query"]

logger = logging.getLogger(__name__)

PLACEHOLDER: Final = "%(order_id)s"
FLOAT_TYPES: Final = {700: "real", 701: "double precision"}
NAIVE_TIMESTAMP: Final = 1114  # timestamp without time zone

OnCopied = Callable[[OrderRecord], Awaitable[None]]


class OrderSourceError(ConfigurationError):
    """``ORDERS_SOURCE_QUERY`` is unusable; the message says why and how to fix it."""


def _wrapped(query: str, limit: int) -> sql.Composed:
    """The configured query as a subquery: a single SELECT, at most ``limit`` rows."""
    body = query.strip().rstrip(";").strip()
    return sql.SQL("SELECT * FROM ({}) AS orders_source LIMIT {}").format(
        sql.SQL(body),  # trusted configuration, written by the operator
        sql.Literal(limit),
    )


async def validate_source_query(conn: Conn, query: str) -> None:
    """Check the query runs and returns the documented columns with usable types.

    Runs it once for an empty order id, in a read-only transaction, returning no rows.

    Raises:
        OrderSourceError: the placeholder is missing, the query fails, a required
            column is missing, or a column has a type that would lose information.
    """
    if PLACEHOLDER not in query:
        raise OrderSourceError(
            "ORDERS_SOURCE_QUERY must use %(order_id)s where the order id goes, e.g. "
            "SELECT * FROM shop.orders_for_refunds WHERE id = %(order_id)s"
        )
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute("SET TRANSACTION READ ONLY")
            cur = await conn.execute(_wrapped(query, 0), {"order_id": ""})
            description = cur.description or []
    except errors.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OrderSourceError(f"ORDERS_SOURCE_QUERY does not run: {first_line}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise OrderSourceError(
            f"ORDERS_SOURCE_QUERY has a placeholder other than {PLACEHOLDER} "
            f"(write a literal % as %%): {exc}"
        ) from None
    types = {column.name: column.type_code for column in description}
    missing = [c for c in REQUIRED_COLUMNS if c not in types]
    if missing:
        raise OrderSourceError(
            f"ORDERS_SOURCE_QUERY returns no {', '.join(missing)} column"
            f"{'s' if len(missing) > 1 else ''} (it returns: {', '.join(types) or 'nothing'}); "
            "name them with AS, e.g. SELECT order_no AS id, ..."
        )
    if types["amount_usdc"] in FLOAT_TYPES:
        raise OrderSourceError(
            f"ORDERS_SOURCE_QUERY: amount_usdc is {FLOAT_TYPES[types['amount_usdc']]}, which "
            "cannot hold money exactly; cast it, e.g. total::numeric(20, 6) AS amount_usdc"
        )
    if types["created_at"] == NAIVE_TIMESTAMP:
        raise OrderSourceError(
            "ORDERS_SOURCE_QUERY: created_at is a timestamp without time zone; say which, "
            "e.g. placed_at AT TIME ZONE 'UTC' AS created_at"
        )


class OrderSource:
    """The configured query, and copying the orders it finds into the agent's table."""

    def __init__(
        self,
        query: str,
        *,
        default_network: str = "polygon",
        on_copied: OnCopied | None = None,
    ) -> None:
        """Use ``query`` (validated with :meth:`validate`) to find unknown orders.

        Args:
            query: A SELECT with ``%(order_id)s`` (see the module docstring).
            default_network: The network of rows that give none.
            on_copied: Awaited after an order was copied in (e.g. to register its
                payment with the local MoltPe sandbox).
        """
        self.query = query
        self.default_network = default_network
        self.on_copied = on_copied

    async def validate(self, conn: Conn) -> None:
        """:func:`validate_source_query` for this query."""
        await validate_source_query(conn, self.query)

    async def fetch(self, conn: Conn, order_id: str) -> OrderRecord | None:
        """The valid order the query returns for ``order_id``, or None.

        Never raises for the source's sake: a failing query, two rows for one id or an
        invalid row are logged and count as "not found" (the customer gets the usual
        polite answer; the problem is for the operator).
        """
        try:
            async with conn.transaction(force_rollback=True):
                await conn.execute("SET TRANSACTION READ ONLY")
                cur = await conn.execute(_wrapped(self.query, 2), {"order_id": order_id})
                rows: list[dict[str, Any]] = list(await cur.fetchall())
        except errors.Error as exc:
            logger.warning("ORDERS_SOURCE_QUERY failed for %s: %s", order_id, exc)
            return None
        if not rows:
            return None
        if len(rows) > 1:
            logger.warning("ORDERS_SOURCE_QUERY returned several rows for %s", order_id)
            return None
        try:
            record = parse_order(rows[0], default_network=self.default_network)
        except InvalidOrder as exc:
            logger.warning("ORDERS_SOURCE_QUERY row of %s is invalid: %s", order_id, exc)
            return None
        if record.id != order_id:
            logger.warning(
                "ORDERS_SOURCE_QUERY returned order %s when asked for %s", record.id, order_id
            )
            return None
        return record

    async def copy_in(self, audit: AuditLog, conn: Conn, order_id: str) -> Order | None:
        """Copy ``order_id`` from the source into ``orders``; return the stored order.

        Idempotent and safe against a concurrent copy (the first insert wins). Returns
        None when the source has no valid row for it, or its payment id belongs to
        another order already.
        """
        record = await self.fetch(conn, order_id)
        if record is None:
            return None
        async with audit.transaction(conn) as tx:
            await conn.execute(
                "INSERT INTO customers (email, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (record.customer_email, record.customer_name),
            )
            cur = await conn.execute(
                """
                INSERT INTO orders (id, customer_email, payment_id, payer_address,
                                    amount_usdc, currency, network, description, created_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT DO NOTHING
                RETURNING id
                """,
                (
                    record.id,
                    record.customer_email,
                    record.payment_id,
                    record.payer_address,
                    record.amount_usdc,
                    record.currency,
                    record.network,
                    record.description,
                    record.created_at,
                ),
            )
            copied = await cur.fetchone() is not None
            if copied:
                await tx.append(
                    AuditEvent(
                        EventType.ORDERS_IMPORTED,
                        actor="orders_source",
                        order_id=record.id,
                        customer_email=record.customer_email,
                        payload={"source": "ORDERS_SOURCE_QUERY", "inserted": [record.id]},
                    )
                )
        order = await repo.get_order(conn, order_id)
        if order is None:  # the payment id belongs to another order
            logger.warning(
                "ORDERS_SOURCE_QUERY order %s not copied: payment %s is another order's",
                order_id,
                record.payment_id,
            )
            return None
        if copied and self.on_copied is not None:
            try:
                await self.on_copied(record)
            except Exception:  # the copy stands; registering is a convenience
                logger.exception("after copying order %s from the source", order_id)
        return order

"""Orders from the merchant's own systems: validate, then insert or update, idempotently.

Used by ``refund-agent orders import`` and by the HTTP endpoints ``POST /v1/orders`` /
``PUT /v1/orders/{id}``; nothing here knows about either. What a valid order is lives in
:mod:`tools.order_rows` (re-exported here); the columns (see docs/ORDERS.md):

=================  ========  =================================================================
column             required  what it holds
=================  ========  =================================================================
``id``             yes       the order id customers quote (1-64 visible characters)
``customer_email`` yes       the customer's email; the agent refunds only to its owner
``amount_usdc``    yes       what was paid, a decimal such as ``45.00`` (dot for decimals;
                             ``1,250.00`` thousands separators allowed; never a float)
``created_at``     yes       when it was paid: ISO 8601 with a UTC offset
                             (``2026-01-31T12:00:00Z``) or a date (``2026-01-31``, midnight
                             UTC); starts the refund window
``payment_id``     yes       MoltPe's id of the payment; refunds go back through it
``payer_address``  yes       the wallet that paid (``0x`` and 40 hex digits)
``network``        no        the payment's network (default ``MOLTPE_NETWORK``, ``polygon``)
``description``    no        what was bought (shown to reviewers and the model)
``currency``       no        ``USDC`` (the only one the agent refunds)
``customer_name``  no        the customer's name (kept per customer; blank leaves it as is)
=================  ========  =================================================================

How one order is applied (:func:`upsert_order`, and per row by :func:`import_orders`):

* a new id is **inserted** (its customer created if needed);
* the same facts again are **unchanged** (re-importing a file changes nothing);
* changed facts are **updated**, except that the payment facts (:data:`PAYMENT_FACTS`:
  customer, amount, payment id, payer, network, currency) are frozen once the order has
  refunds: such a change is **rejected** with :class:`OrderConflict`;
* a payment id that belongs to another order is rejected.

Every batch that changes something is audited (``orders_imported``) in the same
transaction as the change. A dry run reads and validates everything and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from psycopg import sql

from core.money import format_usdc
from persistence.audit import AuditEvent, AuditLog, EventType, PendingRecord
from persistence.db import Conn
from tools.order_files import ROW_ERROR_KEY, OrderFileError, OrderFormat, detect_format
from tools.order_rows import (
    ORDER_COLUMNS,
    PAYMENT_FACTS,
    REQUIRED_COLUMNS,
    FieldProblem,
    InvalidOrder,
    OrderRecord,
    RowError,
    parse_order,
)

__all__ = [
    "ORDER_COLUMNS",
    "PAYMENT_FACTS",
    "REQUIRED_COLUMNS",
    "FieldProblem",
    "ImportSummary",
    "InvalidOrder",
    "OrderConflict",
    "OrderFileError",
    "OrderFormat",
    "OrderRecord",
    "RowError",
    "UpsertOutcome",
    "UpsertResult",
    "detect_format",
    "import_orders",
    "parse_order",
    "upsert_order",
]

BATCH_SIZE: Final = 500
MAX_ERRORS_KEPT: Final = 200
"""Row errors kept in a summary; the rest are counted (memory stays constant)."""
UpsertOutcome = Literal["inserted", "updated", "unchanged", "rejected"]


# --- types -----------------------------------------------------------------------------


class OrderConflict(ValueError):
    """An order that is valid on its own but cannot be applied to what is stored.

    Attributes:
        order_id: The order.
        fields: The columns in conflict (e.g. ``("amount_usdc",)``).
    """

    def __init__(self, order_id: str, message: str, fields: Iterable[str] = ()) -> None:
        self.order_id = order_id
        self.fields = tuple(fields)
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What :func:`upsert_order` did to one order."""

    outcome: UpsertOutcome
    order_id: str
    changed: tuple[str, ...] = ()
    """The columns that changed (an update), or every column (an insert)."""
    record: OrderRecord | None = None
    payment_changed: bool = False
    """True when the payment is new or its facts changed (register it with a sandbox)."""


@dataclass(slots=True)
class ImportSummary:
    """Counts and row errors of one import; safe to print or serialise."""

    dry_run: bool = False
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    customers_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_omitted: int = 0
    ignored_columns: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return self.rejected == 0

    def counts(self) -> str:
        """``998 inserted, 0 updated, 0 unchanged, 2 rejected``."""
        return (
            f"{self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "customers_created": self.customers_created,
            "errors": [e.as_dict() for e in self.errors],
            "errors_omitted": self.errors_omitted,
            "ignored_columns": list(self.ignored_columns),
        }

    def _reject(self, error: RowError) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)
        else:
            self.errors_omitted += 1


# --- applying ------------------------------------------------------------------------------

SELECT_EXISTING: Final = """
SELECT o.*, c.name AS customer_name,
       (o.refunded_usdc > 0 OR EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id))
           AS has_refunds
  FROM orders o JOIN customers c ON c.email = o.customer_email
 WHERE o.id = ANY(%(ids)s)
 ORDER BY o.id
"""
LOCK_EXISTING: Final = "SELECT id FROM orders WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE"
SELECT_PAYMENT_OWNERS: Final = (
    "SELECT payment_id, id FROM orders WHERE payment_id = ANY(%(payments)s)"
)
SELECT_CUSTOMERS: Final = "SELECT email, name FROM customers WHERE email = ANY(%(emails)s)"
UPSERT_CUSTOMER: Final = """
INSERT INTO customers (email, name) VALUES (%s, %s)
ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name
 WHERE EXCLUDED.name <> '' AND customers.name IS DISTINCT FROM EXCLUDED.name
"""
INSERT_ORDERS: Final = """
INSERT INTO orders (id, customer_email, payment_id, payer_address, amount_usdc, currency,
                    network, description, created_at)
SELECT * FROM unnest(%(ids)s::text[], %(emails)s::text[], %(payments)s::text[],
                     %(payers)s::text[], %(amounts)s::numeric[], %(currencies)s::text[],
                     %(networks)s::text[], %(descriptions)s::text[],
                     %(created)s::timestamptz[])
ON CONFLICT (id) DO NOTHING
RETURNING id
"""
UPDATE_ORDER: Final = """
UPDATE orders
   SET customer_email = %(customer_email)s, payment_id = %(payment_id)s,
       payer_address = %(payer_address)s, amount_usdc = %(amount_usdc)s,
       currency = %(currency)s, network = %(network)s, description = %(description)s,
       created_at = %(created_at)s
 WHERE id = %(id)s
"""
SEEN_TABLE: Final = "order_import_seen"
CREATE_SEEN: Final = sql.SQL(
    "CREATE TEMPORARY TABLE IF NOT EXISTS {} "
    "(kind text NOT NULL, key text NOT NULL, row integer NOT NULL, PRIMARY KEY (kind, key))"
).format(sql.Identifier(SEEN_TABLE))
CLEAR_SEEN: Final = sql.SQL("TRUNCATE {}").format(sql.Identifier(SEEN_TABLE))
DROP_SEEN: Final = sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SEEN_TABLE))
MARK_SEEN: Final = sql.SQL(
    "INSERT INTO {} (kind, key, row) "
    "SELECT * FROM unnest(%(kinds)s::text[], %(keys)s::text[], %(rows)s::int[]) "
    "ON CONFLICT DO NOTHING"
).format(sql.Identifier(SEEN_TABLE))
FIRST_SEEN: Final = sql.SQL(
    "SELECT kind, key, row FROM {} WHERE (kind, key) IN "
    "(SELECT * FROM unnest(%(kinds)s::text[], %(keys)s::text[]))"
).format(sql.Identifier(SEEN_TABLE))

OnApplied = Callable[[list[OrderRecord]], Awaitable[None]]
"""Called after each committed batch with the orders whose payment is new or changed."""
OnProgress = Callable[["ImportSummary"], None]


async def upsert_order(
    audit: AuditLog,
    record: OrderRecord,
    *,
    actor: str = "api",
    dry_run: bool = False,
) -> UpsertResult:
    """Insert or update one order (what ``PUT /v1/orders/{id}`` does).

    Returns:
        ``inserted``, ``updated`` (with the changed columns) or ``unchanged``.

    Raises:
        OrderConflict: a payment fact changed on an order with refunds, or the payment
            id belongs to another order.
    """
    async with audit.pool.connection() as conn:
        applied = await _apply(
            audit, conn, [(1, record)], dry_run=dry_run, actor=actor, source=actor
        )
    [(result, error)] = applied.results
    if error is not None:
        message = "; ".join(str(p) for p in error.problems)
        raise OrderConflict(record.id, message, [p.column for p in error.problems if p.column])
    assert result is not None
    return result


async def import_orders(
    audit: AuditLog,
    rows: Iterable[tuple[int, Mapping[str, Any]]] | AsyncIterable[tuple[int, Mapping[str, Any]]],
    *,
    dry_run: bool = False,
    default_network: str = "polygon",
    source: str = "import",
    actor: str = "import",
    batch_size: int = BATCH_SIZE,
    on_applied: OnApplied | None = None,
    on_progress: OnProgress | None = None,
) -> ImportSummary:
    """Validate and apply a stream of ``(row number, mapping)`` rows, batch by batch.

    Each batch is one transaction (its audit event included), so memory and lock time
    stay bounded however long the stream is; rows are read as the batches are applied.
    A row listed twice in the stream (same order id, or same payment id on two orders)
    is rejected the second time, also across batches and in a dry run.

    Args:
        audit: The audit log (and through it the pool) of this process.
        rows: ``(row, mapping)`` pairs, e.g. from :func:`tools.order_files.read_rows`.
        dry_run: Validate and compare with what is stored; write nothing.
        default_network: The network of rows that give none.
        source: Where the rows come from (a file name), for the audit log.
        actor: Who imports, for the audit log.
        batch_size: Rows per transaction.
        on_applied: Awaited after each committed batch with its new or changed payments
            (e.g. to register them with a MoltPe sandbox). Not called in a dry run.
        on_progress: Called after each batch with the summary so far.

    Raises:
        OrderFileError: the stream cannot be read (from the reader).
    """
    summary = ImportSummary(dry_run=dry_run)
    ignored: set[str] = set()
    now = dt.datetime.now(dt.UTC)
    async with audit.pool.connection() as conn:
        await conn.execute(CREATE_SEEN)
        await conn.execute(CLEAR_SEEN)
        try:
            batch: list[tuple[int, Mapping[str, Any]]] = []

            async def flush() -> None:
                valid: list[tuple[int, OrderRecord]] = []
                for row, data in batch:
                    ignored.update(k for k in data if k not in ORDER_COLUMNS and k != ROW_ERROR_KEY)
                    try:
                        valid.append(
                            (row, parse_order(data, default_network=default_network, now=now))
                        )
                    except InvalidOrder as exc:
                        order_id = data.get("id")
                        summary._reject(
                            RowError(row, exc.problems, str(order_id) if order_id else None)
                        )
                batch.clear()
                if valid:
                    applied = await _apply(
                        audit,
                        conn,
                        valid,
                        dry_run=dry_run,
                        actor=actor,
                        source=source,
                        earlier=await _earlier_claims(conn, valid),
                    )
                    await _remember_claims(conn, applied.claims)
                    summary.customers_created += applied.customers_created
                    changed_payments = []
                    for result, error in applied.results:
                        if error is not None:
                            summary._reject(error)
                            continue
                        assert result is not None
                        if result.outcome == "inserted":
                            summary.inserted += 1
                        elif result.outcome == "updated":
                            summary.updated += 1
                        else:
                            summary.unchanged += 1
                        if result.payment_changed and result.record is not None:
                            changed_payments.append(result.record)
                    if changed_payments and on_applied is not None and not dry_run:
                        await on_applied(changed_payments)
                if on_progress is not None:
                    on_progress(summary)

            async for row, data in _aiter(rows):
                summary.rows += 1
                batch.append((row, data))
                if len(batch) >= batch_size:
                    await flush()
            if batch:
                await flush()
        finally:
            await conn.execute(DROP_SEEN)
    summary.ignored_columns = tuple(sorted(ignored))
    return summary


async def _aiter(
    rows: Iterable[tuple[int, Mapping[str, Any]]] | AsyncIterable[tuple[int, Mapping[str, Any]]],
) -> Any:
    if isinstance(rows, AsyncIterable):
        async for item in rows:
            yield item
    else:
        for item in rows:
            yield item


Claims = dict[tuple[str, str], int]
"""Order ids (``("id", id)``) and payment ids (``("payment", id)``) taken by accepted
rows of the stream, and the row that took each."""


async def _earlier_claims(conn: Conn, valid: list[tuple[int, OrderRecord]]) -> Claims:
    """What earlier batches of the stream took among this batch's ids and payments."""
    kinds = ["id", "payment"] * len(valid)
    keys = [key for _, r in valid for key in (r.id, r.payment_id)]
    cur = await conn.execute(FIRST_SEEN, {"kinds": kinds, "keys": keys})
    return {(r["kind"], r["key"]): int(r["row"]) for r in await cur.fetchall()}


async def _remember_claims(conn: Conn, claims: Claims) -> None:
    if claims:
        kinds, keys = zip(*claims, strict=True)
        await conn.execute(
            MARK_SEEN, {"kinds": list(kinds), "keys": list(keys), "rows": list(claims.values())}
        )


Outcome = tuple[UpsertResult | None, RowError | None]


@dataclass(slots=True)
class _Applied:
    results: list[Outcome]
    records: list[PendingRecord] = field(default_factory=list)
    customers_created: int = 0
    claims: Claims = field(default_factory=dict)
    """Ids and payments this batch's accepted rows took (for the next batches)."""


def _decide(
    valid: list[tuple[int, OrderRecord]],
    stored: Mapping[str, Mapping[str, Any]],
    owners: Mapping[str, str],
    earlier: Claims,
) -> tuple[list[Outcome], Claims]:
    """What to do with each row, given the stored orders and what earlier rows took.

    Pure. A rejected row takes nothing, so a later, correct row for the same order or
    payment is still judged on its own.
    """
    claims: Claims = {}
    results: list[Outcome] = []

    def reject(row: int, record: OrderRecord, *problems: FieldProblem) -> None:
        results.append((None, RowError(row, problems, record.id)))

    for row, record in valid:
        id_key, payment_key = ("id", record.id), ("payment", record.payment_id)
        taken = {**earlier, **claims}
        if id_key in taken:
            reject(
                row,
                record,
                FieldProblem("id", f"{record.id} appears again (first on row {taken[id_key]})"),
            )
            continue
        if payment_key in taken:
            first = taken[payment_key]
            reject(
                row,
                record,
                FieldProblem("payment_id", f"{record.payment_id} is used again (row {first})"),
            )
            continue
        owner = owners.get(record.payment_id)
        if owner is not None and owner != record.id:
            message = f"{record.payment_id} already belongs to order {owner}"
            reject(row, record, FieldProblem("payment_id", message))
            continue
        current = stored.get(record.id)
        if current is None:
            result = UpsertResult("inserted", record.id, ORDER_COLUMNS, record, True)
        else:
            changed = _changes(current, record)
            frozen = [c for c in changed if c in PAYMENT_FACTS]
            if frozen and current["has_refunds"]:
                results.append((None, _frozen_error(row, current, record, frozen)))
                continue
            outcome: UpsertOutcome = "updated" if changed else "unchanged"
            result = UpsertResult(outcome, record.id, tuple(changed), record, bool(frozen))
        results.append((result, None))
        claims[id_key] = claims[payment_key] = row
    return results, claims


async def _apply(
    audit: AuditLog,
    conn: Conn,
    valid: list[tuple[int, OrderRecord]],
    *,
    dry_run: bool,
    actor: str,
    source: str,
    earlier: Claims | None = None,
) -> _Applied:
    """Compare a batch with what is stored and (unless ``dry_run``) write it, audited.

    One result per row of ``valid``, in its order: an :class:`UpsertResult`, or the
    :class:`RowError` that kept the row out.
    """
    ids = [record.id for _, record in valid]
    async with audit.transaction(conn, force_rollback=dry_run) as tx:
        if not dry_run:
            # Lock the stored orders of the batch (in id order, like every other path
            # that locks orders) so no refund starts while their facts are compared.
            await conn.execute(LOCK_EXISTING, {"ids": ids})
        cur = await conn.execute(SELECT_EXISTING, {"ids": ids})
        stored = {row["id"]: row for row in await cur.fetchall()}
        payments = [r.payment_id for _, r in valid]
        cur = await conn.execute(SELECT_PAYMENT_OWNERS, {"payments": payments})
        owners = {row["payment_id"]: row["id"] for row in await cur.fetchall()}
        results, claims = _decide(valid, stored, owners, earlier or {})
        applied = _Applied(results, claims=claims)
        accepted = [r for r, _ in results if r is not None and r.record is not None]
        inserts = [r.record for r in accepted if r.outcome == "inserted" and r.record]
        updates = [r.record for r in accepted if r.outcome == "updated" and r.record]
        if dry_run or not (inserts or updates):
            return applied
        applied.customers_created = await _write_customers(conn, [*inserts, *updates])
        if inserts:
            cur = await conn.execute(INSERT_ORDERS, _columns(inserts))
            created = {row["id"] for row in await cur.fetchall()}
            for index, (result, _error) in enumerate(results):
                if result is None or result.outcome != "inserted":
                    continue
                if result.order_id not in created:  # another process was quicker
                    problem = FieldProblem("id", "created meanwhile elsewhere; import again")
                    results[index] = (None, RowError(valid[index][0], (problem,), result.order_id))
        order_updates = [
            r.record
            for r in accepted
            if r.outcome == "updated" and r.record and set(r.changed) - {"customer_name"}
        ]
        if order_updates:
            async with conn.cursor() as cursor:
                await cursor.executemany(UPDATE_ORDER, [_params(r) for r in order_updates])
        done = [r for r, _ in results if r is not None]
        inserted = [r.order_id for r in done if r.outcome == "inserted"]
        updated = {r.order_id: list(r.changed) for r in done if r.outcome == "updated"}
        if inserted or updated:
            event = AuditEvent(
                EventType.ORDERS_IMPORTED,
                actor=actor,
                payload={
                    "source": source,
                    "inserted": inserted,
                    "updated": updated,
                    "unchanged": sum(1 for r in done if r.outcome == "unchanged"),
                },
            )
            applied.records = await tx.append(event)
    return applied


def _params(record: OrderRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "customer_email": record.customer_email,
        "payment_id": record.payment_id,
        "payer_address": record.payer_address,
        "amount_usdc": record.amount_usdc,
        "currency": record.currency,
        "network": record.network,
        "description": record.description,
        "created_at": record.created_at,
    }


def _changes(current: Mapping[str, Any], record: OrderRecord) -> list[str]:
    """The documented columns whose stored value differs from ``record``'s."""
    changed: list[str] = []
    for column in ORDER_COLUMNS:
        new = getattr(record, column)
        old = current.get(column)
        if column == "customer_name":
            if new and new != (old or ""):
                changed.append(column)
        elif column == "payer_address":
            if str(old).lower() != new:
                changed.append(column)
        elif column == "amount_usdc":
            if Decimal(str(old)) != new:
                changed.append(column)
        elif old != new:
            changed.append(column)
    return changed


def _frozen_error(
    row: int, current: Mapping[str, Any], record: OrderRecord, frozen: list[str]
) -> RowError:
    def shown(value: Any) -> str:
        return format_usdc(value) if isinstance(value, Decimal) else str(value)

    problems = tuple(
        FieldProblem(
            column,
            f"cannot change from {shown(current[column])} to {shown(getattr(record, column))}: "
            "the order has refunds (import a correction under a new order id, or ask a "
            "person to fix it)",
        )
        for column in frozen
    )
    return RowError(row, problems, record.id)


async def _write_customers(conn: Conn, records: list[OrderRecord]) -> int:
    """Create missing customers, update names that are given and differ; count new ones."""
    names: dict[str, str] = {}
    for record in records:
        if record.customer_name or record.customer_email not in names:
            names[record.customer_email] = record.customer_name
    cur = await conn.execute(SELECT_CUSTOMERS, {"emails": list(names)})
    known = {row["email"] for row in await cur.fetchall()}
    async with conn.cursor() as cursor:
        await cursor.executemany(UPSERT_CUSTOMER, list(names.items()))
    return len(set(names) - known)


def _columns(records: list[OrderRecord]) -> dict[str, list[Any]]:
    return {
        "ids": [r.id for r in records],
        "emails": [r.customer_email for r in records],
        "payments": [r.payment_id for r in records],
        "payers": [r.payer_address for r in records],
        "amounts": [r.amount_usdc for r in records],
        "currencies": [r.currency for r in records],
        "networks": [r.network for r in records],
        "descriptions": [r.description for r in records],
        "created": [r.created_at for r in records],
    }

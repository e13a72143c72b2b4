"""Load demo customers, orders and refund history from a JSON file.

The format (see ``fixtures/demo_seed.json``)::

    {
      "customers": [{"email": "alice@example.com", "name": "Alice Martin"}],
      "orders": [{"id": "ORD-1001", "customer_email": "alice@example.com",
                  "payment_id": "pay_...", "payer_address": "0x...",
                  "amount_usdc": "45.00", "age_days": 3,        # or "created_at": ISO-8601
                  "description": "Wireless earbuds", "network": "polygon"}],
      "refunds": [{"order_id": "ORD-4001", "amount_usdc": "25.00", "age_days": 6,
                   "reason": "damaged_item"}]               # past, confirmed refunds
    }

Amounts are decimal strings (never JSON floats). Seeding is idempotent: rows that
exist are left alone, so seeding twice changes nothing. A past refund is loaded only
together with its order's first load, and sets the order's refunded amount.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.money import parse_usdc
from persistence.audit import AuditEvent, EventType, PendingRecord, append_events
from persistence.db import Conn

Usdc = Annotated[Decimal, BeforeValidator(lambda v: parse_usdc(v, allow_zero=False))]


class SeedError(ValueError):
    """The seed file is missing, not JSON, or breaks the format."""


def _no_nul(value: object) -> object:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


class _NoNul(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _reject_nul(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for value in data.values():
                _no_nul(value)
        return data


class SeedCustomer(_NoNul):
    """A customer of the seed file."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    name: str = ""

    @field_validator("email")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


class _Dated(_NoNul):
    age_days: int | None = Field(default=None, ge=0, le=3650)
    created_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _one_date(self) -> _Dated:
        if (self.age_days is None) == (self.created_at is None):
            raise ValueError("give exactly one of age_days or created_at")
        if self.created_at is not None and self.created_at.tzinfo is None:
            raise ValueError("created_at needs a timezone (e.g. 2026-01-31T12:00:00Z)")
        return self

    def when(self, now: dt.datetime) -> dt.datetime:
        """The absolute timestamp of this row."""
        if self.created_at is not None:
            return self.created_at
        assert self.age_days is not None
        return now - dt.timedelta(days=self.age_days)


class SeedOrder(_Dated):
    """An order of the seed file."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    customer_email: str
    payment_id: str = Field(min_length=1, max_length=128)
    payer_address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    amount_usdc: Usdc
    description: str = ""
    network: str = "polygon"

    @field_validator("customer_email")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


class SeedRefund(_Dated):
    """A past, confirmed refund of the seed file."""

    model_config = ConfigDict(extra="forbid")
    order_id: str
    amount_usdc: Usdc
    reason: str = "seeded"


class SeedFile(BaseModel):
    """The whole seed document."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    customers: list[SeedCustomer] = []
    orders: list[SeedOrder] = []
    refunds: list[SeedRefund] = []

    @model_validator(mode="after")
    def _consistent(self) -> SeedFile:
        emails = {c.email for c in self.customers}
        orders = {}
        payments: set[str] = set()
        for order in self.orders:
            if order.payment_id in payments:
                raise ValueError(f"order {order.id}: payment_id {order.payment_id} used twice")
            payments.add(order.payment_id)
            if order.customer_email not in emails:
                raise ValueError(f"order {order.id}: customer {order.customer_email} not listed")
            if order.id in orders:
                raise ValueError(f"order {order.id} listed twice")
            orders[order.id] = order
        refunded: dict[str, Decimal] = defaultdict(Decimal)
        now = dt.datetime.now(dt.UTC)
        for refund in self.refunds:
            if refund.order_id not in orders:
                raise ValueError(f"refund for unknown order {refund.order_id}")
            if refund.when(now) < orders[refund.order_id].when(now):
                raise ValueError(f"a refund of {refund.order_id} is dated before the order")
            refunded[refund.order_id] += refund.amount_usdc
            if refunded[refund.order_id] > orders[refund.order_id].amount_usdc:
                raise ValueError(f"refunds on {refund.order_id} exceed its amount")
        return self


def default_seed_path() -> Path:
    """The bundled demo fixture."""
    return Path(str(resources.files("persistence") / "fixtures" / "demo_seed.json"))


def load_seed_file(path: Path | None = None) -> SeedFile:
    """Read and validate a seed file (the bundled fixture when ``path`` is None).

    Raises:
        SeedError: naming the file and what is wrong with it.
    """
    path = path or default_seed_path()
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"), parse_float=_no_float)
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, ValueError) as exc:
        raise SeedError(f"{path} is not valid seed JSON: {exc}") from exc
    try:
        return SeedFile.model_validate(raw)
    except ValidationError as exc:
        raise SeedError(f"{path} does not match the seed format:\n{exc}") from exc


def _no_float(text: str) -> Any:
    raise ValueError(f'amounts must be strings like "{text}", not JSON numbers')


def _seed_key(*parts: str) -> str:
    return "seed:" + hashlib.sha256(":".join(parts).encode()).hexdigest()[:24]


async def apply_seed(
    conn: Conn, seed: SeedFile, *, now: dt.datetime | None = None
) -> tuple[dict[str, int], list[PendingRecord]]:
    """Insert what is not there yet.

    Returns:
        Counts of new customers, orders and refunds, and the audit records written
        (pending until chained: :meth:`AuditLog.flush` once the transaction committed).
    """
    now = now or dt.datetime.now(dt.UTC)
    counts = {"customers": 0, "orders": 0, "refunds": 0}
    refunds_by_order: dict[str, list[SeedRefund]] = defaultdict(list)
    for refund in seed.refunds:
        refunds_by_order[refund.order_id].append(refund)
    async with conn.transaction():
        for customer in seed.customers:
            cur = await conn.execute(
                "INSERT INTO customers (email, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (customer.email, customer.name),
            )
            counts["customers"] += cur.rowcount
        for order in seed.orders:
            past = refunds_by_order.get(order.id, [])
            refunded = sum((r.amount_usdc for r in past), Decimal(0))
            status = (
                "none"
                if refunded == 0
                else "refunded"
                if refunded >= order.amount_usdc
                else "partial"
            )
            cur = await conn.execute(
                """
                INSERT INTO orders (id, customer_email, payment_id, payer_address, amount_usdc,
                                    refunded_usdc, network, description, created_at,
                                    refund_status)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT DO NOTHING
                """,
                (
                    order.id,
                    order.customer_email,
                    order.payment_id,
                    order.payer_address,
                    order.amount_usdc,
                    refunded,
                    order.network,
                    order.description,
                    order.when(now),
                    status,
                ),
            )
            if cur.rowcount == 0:
                continue
            counts["orders"] += 1
            for attempt, refund in enumerate(past, start=1):
                key = _seed_key(order.id, str(attempt))
                when = refund.when(now)
                await conn.execute(
                    """
                    INSERT INTO refunds (order_id, attempt, request_key, idempotency_key,
                                         customer_email, payment_id, amount_usdc, reason,
                                         status, approved_by, created_at, updated_at,
                                         tx_hash)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'confirmed', 'seed', %s, %s, %s)
                    """,
                    (
                        order.id,
                        attempt,
                        key,
                        key,
                        order.customer_email,
                        order.payment_id,
                        refund.amount_usdc,
                        refund.reason,
                        when,
                        when,
                        "0x" + hashlib.sha256(key.encode()).hexdigest(),
                    ),
                )
                counts["refunds"] += 1
        records = []
        if any(counts.values()):
            records = await append_events(
                conn, [AuditEvent(EventType.SEED, actor="seed", payload={"added": counts})]
            )
    return counts, records

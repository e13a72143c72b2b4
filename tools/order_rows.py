"""One order's columns, and checking them: what a valid order is.

The columns (docs/ORDERS.md):

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

:func:`parse_order` turns a mapping of them (CSV text, JSON values, database values) into
an :class:`OrderRecord`, or raises :class:`InvalidOrder` naming every column at fault.
Patterns run on values whose length is checked first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Final

from core.money import InvalidAmount, format_usdc, parse_usdc
from tools.order_files import ROW_ERROR_KEY

__all__ = [
    "ORDER_COLUMNS",
    "PAYMENT_FACTS",
    "REQUIRED_COLUMNS",
    "FieldProblem",
    "InvalidOrder",
    "OrderRecord",
    "RowError",
    "parse_order",
]

ORDER_COLUMNS: Final = (
    "id",
    "customer_email",
    "amount_usdc",
    "created_at",
    "payment_id",
    "payer_address",
    "network",
    "description",
    "currency",
    "customer_name",
)
REQUIRED_COLUMNS: Final = ORDER_COLUMNS[:6]
PAYMENT_FACTS: Final = (
    "customer_email",
    "amount_usdc",
    "payment_id",
    "payer_address",
    "network",
    "currency",
)
"""Facts of an order frozen once it has refunds: they say whose money went where."""

FUTURE_SLACK: Final = dt.timedelta(days=1)

EMAIL_RE: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
ADDRESS_RE: Final = re.compile(r"^0x[0-9a-fA-F]{40}$")
NETWORK_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# Digits with an optional dot part; commas only as thousands separators (so "12,5" is
# refused rather than read as 125).
AMOUNT_RE: Final = re.compile(r"^\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
TEXT_LIMITS: Final = {
    "id": 64,
    "customer_email": 254,
    "payment_id": 128,
    "description": 2000,
    "customer_name": 200,
    "currency": 8,
    "network": 32,
    "payer_address": 42,
}


# --- types -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """What is wrong with one column of one order (``column`` None: the row itself)."""

    column: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.column}: {self.message}" if self.column else self.message


class InvalidOrder(ValueError):
    """An order that breaks the format; ``problems`` names each column at fault."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    """One valid order, normalised (lower-case email and address, exact amount)."""

    id: str
    customer_email: str
    amount_usdc: Decimal
    created_at: dt.datetime
    payment_id: str
    payer_address: str
    network: str = "polygon"
    description: str = ""
    currency: str = "USDC"
    customer_name: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (amount as a decimal string, time as ISO 8601)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["amount_usdc"] = format_usdc(self.amount_usdc)
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that was not applied, and why: ``row 17: amount_usdc: '12,5O' is not an amount``."""

    row: int
    problems: tuple[FieldProblem, ...]
    order_id: str | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" ({self.order_id})" if self.order_id else "")
        return f"{where}: " + "; ".join(str(p) for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "row": self.row,
            "order_id": self.order_id,
            "problems": [{"column": p.column, "message": p.message} for p in self.problems],
            "message": str(self),
        }


# --- validation --------------------------------------------------------------------------


def parse_order(
    data: Mapping[str, Any],
    *,
    default_network: str = "polygon",
    now: dt.datetime | None = None,
) -> OrderRecord:
    """Validate one order given as a mapping of the documented columns.

    Values may be text (CSV), JSON values (numbers read as ``Decimal``) or database
    values (``Decimal``, ``datetime``, ``date``). Unknown keys are ignored; blank
    optional values take their defaults.

    Raises:
        InvalidOrder: naming every column at fault, e.g. ``amount_usdc: '12,5O' is not
            an amount``.
    """
    now = now or dt.datetime.now(dt.UTC)
    problems: list[FieldProblem] = []
    if ROW_ERROR_KEY in data:
        raise InvalidOrder([FieldProblem(None, str(data[ROW_ERROR_KEY]))])

    def text(column: str, *, required: bool) -> str:
        value = data.get(column)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and column in {"id", "payment_id"}
        ):
            value = str(value)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                problems.append(FieldProblem(column, "missing"))
            return ""
        if not isinstance(value, str):
            problems.append(FieldProblem(column, f"must be text, not {type(value).__name__}"))
            return ""
        value = value.strip()
        if "\x00" in value:
            problems.append(FieldProblem(column, "contains a NUL character"))
            return ""
        if len(value) > TEXT_LIMITS[column]:
            problems.append(FieldProblem(column, f"longer than {TEXT_LIMITS[column]} characters"))
            return ""
        return value

    order_id = text("id", required=True)
    if order_id and (any(ch.isspace() for ch in order_id) or not order_id.isprintable()):
        problems.append(FieldProblem("id", f"{order_id!r} has spaces or control characters"))
    email = text("customer_email", required=True).lower()
    if email and not EMAIL_RE.fullmatch(email):
        problems.append(FieldProblem("customer_email", f"{email!r} is not an email address"))
    amount = _amount(data.get("amount_usdc"), problems)
    created = _timestamp(data.get("created_at"), problems, now)
    payment = text("payment_id", required=True)
    if payment and (any(ch.isspace() for ch in payment) or not payment.isprintable()):
        problems.append(FieldProblem("payment_id", f"{payment!r} has spaces or control characters"))
    payer = text("payer_address", required=True)
    if payer and not ADDRESS_RE.fullmatch(payer):
        problems.append(
            FieldProblem("payer_address", f"{payer!r} is not a wallet address (0x + 40 hex)")
        )
    network = text("network", required=False).lower() or default_network
    if not NETWORK_RE.fullmatch(network):
        problems.append(FieldProblem("network", f"{network!r} is not a network name"))
    currency = text("currency", required=False).upper() or "USDC"
    if currency != "USDC":
        problems.append(
            FieldProblem("currency", f"{currency!r} is not supported (only USDC is refunded)")
        )
    description = text("description", required=False)
    name = text("customer_name", required=False)
    if problems:
        raise InvalidOrder(problems)
    assert amount is not None and created is not None
    return OrderRecord(
        id=order_id,
        customer_email=email,
        amount_usdc=amount,
        created_at=created,
        payment_id=payment,
        payer_address=payer.lower(),
        network=network,
        description=description,
        currency=currency,
        customer_name=name,
    )


def _amount(value: object, problems: list[FieldProblem]) -> Decimal | None:
    column = "amount_usdc"
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(FieldProblem(column, "missing"))
        return None
    if isinstance(value, float):
        problems.append(FieldProblem(column, "must be exact (a decimal), not a float"))
        return None
    shown = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, str) and not AMOUNT_RE.fullmatch(value.strip()):
        problems.append(FieldProblem(column, f"{shown} is not an amount"))
        return None
    try:
        return parse_usdc(value, allow_zero=False)
    except InvalidAmount as exc:
        reason = str(exc)
        if reason.startswith("not an amount"):
            problems.append(FieldProblem(column, f"{shown} is not an amount"))
        else:
            problems.append(FieldProblem(column, f"{shown} is not a valid amount: {reason}"))
        return None


def _timestamp(value: object, problems: list[FieldProblem], now: dt.datetime) -> dt.datetime | None:
    column = "created_at"
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(FieldProblem(column, "missing"))
        return None
    when: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    elif isinstance(value, str):
        raw = value.strip()
        try:
            if len(raw) == 10:
                when = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(), tzinfo=dt.UTC)
            else:
                when = dt.datetime.fromisoformat(raw)
        except ValueError:
            problems.append(
                FieldProblem(column, f"{raw!r} is not an ISO 8601 time (2026-01-31T12:00:00Z)")
            )
            return None
    else:
        problems.append(FieldProblem(column, f"must be an ISO 8601 time, not {value!r}"))
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        problems.append(FieldProblem(column, f"{value!s} has no UTC offset (add Z or +00:00)"))
        return None
    if when > now + FUTURE_SLACK:
        problems.append(FieldProblem(column, f"{value!s} is in the future"))
        return None
    return when.astimezone(dt.UTC)

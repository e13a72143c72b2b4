"""Typed rows of the project's tables."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

RefundStatus = Literal["intent", "confirmed", "failed", "unknown"]
"""A refund row's state: ``intent`` (written before MoltPe is called), then ``confirmed``
or ``failed`` on MoltPe's evidence, or ``unknown`` when its answer was lost (the
reconciler settles it). Written by :mod:`tools.refunds` and the reconciler only."""
OPEN_REFUND_STATUSES: tuple[RefundStatus, ...] = ("intent", "unknown")
# Refunds that count against caps and budgets: settled ones and any that may have paid.
COUNTED_REFUND_STATUSES: tuple[RefundStatus, ...] = ("intent", "unknown", "confirmed")
TicketStatus = Literal["open", "approved", "denied", "closed"]
"""A review ticket's state: ``open`` until a reviewer resolves it ``approved`` or
``denied``. ``closed`` is written only by migration 6, which closed the duplicate open
tickets of one order (from before one open ticket per order) in favour of the oldest;
the console can still list them."""


class Order(BaseModel):
    """A customer's order, the guide's columns plus what refunds need."""

    model_config = ConfigDict(frozen=True)

    id: str
    customer_email: str
    payment_id: str
    payer_address: str
    amount_usdc: Decimal
    refunded_usdc: Decimal
    currency: str
    network: str
    description: str
    created_at: dt.datetime
    refund_status: Literal["none", "partial", "refunded"]

    @property
    def unrefunded_usdc(self) -> Decimal:
        """What can still be refunded on this order."""
        return self.amount_usdc - self.refunded_usdc


class Refund(BaseModel):
    """One refund attempt: the exactly-once record."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    order_id: str
    attempt: int
    request_key: str
    idempotency_key: str
    customer_email: str
    payment_id: str
    amount_usdc: Decimal
    reason: str
    status: RefundStatus
    approved_by: str
    policy_version: str | None
    thread_id: str | None
    moltpe_refund_id: str | None
    tx_hash: str | None
    error_code: str | None
    error_reason: str | None
    error_message: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class Ticket(BaseModel):
    """A human-review ticket with the full context of the conversation."""

    model_config = ConfigDict(frozen=True)

    id: int
    request_key: str | None
    customer_email: str | None
    order_id: str | None
    reason: str
    status: TicketStatus
    thread_id: str | None
    context: dict[str, Any]
    created_at: dt.datetime
    resolved_by: str | None
    resolved_at: dt.datetime | None
    resolution_note: str | None
    refund_id: uuid.UUID | None
    assignee: str | None = None
    """The reviewer who took the ticket as theirs (``reviewer:<name>``), while it is open."""
    assigned_at: dt.datetime | None = None

    @property
    def reference(self) -> str:
        """The reference customers and reviewers quote (``RT-000042``)."""
        return ticket_reference(self.id)


def ticket_reference(ticket_id: int) -> str:
    """Format a ticket id as its public reference."""
    return f"RT-{ticket_id:06d}"

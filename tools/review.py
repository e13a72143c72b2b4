"""The reviewer's workflow: take a ticket, approve or deny it, and tell the customer.

A reviewer may take an open ticket as theirs (:func:`claim_ticket`, the console's
"Mine"); while it is theirs nobody else resolves it unless they take it over, which is
audited. Resolving locks the ticket for a moment, so two reviewers cannot resolve it at
once. Approval refunds through the exactly-once path (:mod:`tools.refunds`), after
settling whatever the agent left unsettled on the order; denial pays nothing. The
resolution and its audit event are written in one transaction, a refused resolution is
audited too, and the outcome is appended to the customer's conversation under its turn
lease.

Nothing here knows HTTP: a resolution that cannot go ahead raises a
:class:`ReviewRefused` (:class:`TicketNotFound`, :class:`ReviewConflict` or
:class:`InvalidReview`) with a code and a sentence for people; the service turns it into
its answer. What the workflow acts through is a :class:`ReviewDesk`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NotRequired, Protocol

from langchain_core.messages import AIMessage
from typing_extensions import TypedDict

from core.limits import Limits
from core.money import InvalidAmount, format_usdc, parse_usdc
from persistence import repo
from persistence.audit import AuditEvent, EventType
from persistence.db import Conn
from persistence.models import Order, Refund, Ticket, TicketStatus
from persistence.runtime import Storage
from tools.conversation import (
    OrderSnapshot,
    RefundAttempt,
    ReviewOutcome,
    ReviewRefund,
    ReviewStillOpen,
    TicketRef,
)
from tools.refunds import RefundRefused, RefundService

# The service's logger: the line reads as it always has wherever logs are filtered by name.
logger = logging.getLogger("server.app")

Decision = Literal["approve", "deny"]

AUTHOR_KEY = "author"
"""Where a message the reviewer wrote keeps its author (``response_metadata``)."""


class ReviewRefused(Exception):
    """A resolution that cannot go ahead: a machine-readable code and a sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TicketNotFound(ReviewRefused):
    """There is no such ticket."""


class ReviewConflict(ReviewRefused):
    """The ticket or its order is not in a state to be resolved this way now."""


class InvalidReview(ReviewRefused):
    """The resolution itself cannot be carried out (no order to refund, a bad amount)."""


class ConversationPost(TypedDict):
    """What a resolution appends to the customer's conversation: the agent's reply."""

    messages: list[AIMessage]
    reply: str
    outcome: ReviewOutcome | ReviewStillOpen
    ticket: TicketRef
    awaiting: None
    refund: NotRequired[RefundAttempt]
    order: NotRequired[OrderSnapshot]


class LeaseHolder(Protocol):
    """Takes and releases a conversation's turn lease."""

    async def take(self, thread_id: str) -> str | None:
        """The lease's token, or None while a turn holds it."""
        ...

    async def release(self, thread_id: str, token: str) -> None:
        """Free the conversation (only this holder's lease)."""
        ...


@dataclass(frozen=True, slots=True)
class ReviewDesk:
    """What the reviewer's workflow acts through."""

    storage: Storage
    refunds: RefundService
    leases: LeaseHolder
    settlement_eta: str
    """How long a confirmed refund takes to arrive, as told to the customer."""
    limits: Limits
    """The policy's limits, for the warning before approving beyond them."""
    post: Callable[[str, ConversationPost], Awaitable[None]]
    """Append an update to a conversation's state as the agent's reply."""
    snapshot: Callable[[Order], OrderSnapshot]
    """An order's facts as a conversation's state keeps them."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a resolution did."""

    ticket: Ticket
    refund: ReviewRefund | None
    customer_message: str | None
    attempted: bool = False
    """Whether this resolution asked MoltPe to pay (not the agent's earlier refund)."""


def actor_of(reviewer: str) -> str:
    """How a reviewer is named in tickets and the audit log (``reviewer:dana``)."""
    return f"reviewer:{reviewer}"


def reviewer_name(actor: str | None) -> str | None:
    """The reviewer's own name in an actor (``reviewer:dana`` -> ``dana``)."""
    if actor is None:
        return None
    return actor.removeprefix("reviewer:")


async def claim_ticket(
    storage: Storage, ticket_id: int, reviewer: str, *, take_over: bool = False
) -> Ticket:
    """Take an open ticket as this reviewer's own (idempotent); audited.

    A ticket another reviewer has taken is refused (``ticket_claimed``) unless
    ``take_over``, which is audited with whom it was taken from.
    """
    actor = actor_of(reviewer)
    async with storage.audit.transaction() as tx:
        conn = tx.conn
        ticket = await open_ticket_for_update(conn, ticket_id)
        if ticket.assignee == actor:
            return ticket
        if ticket.assignee is not None and not take_over:
            raise ReviewConflict(
                "ticket_claimed",
                f"ticket {ticket.reference} is {reviewer_name(ticket.assignee)}'s; "
                "take it over to work on it",
            )
        updated = await repo.assign_ticket(conn, ticket_id, actor)
        assert updated is not None  # locked and open
        await tx.append(
            ticket_event(
                EventType.TICKET_CLAIMED,
                ticket,
                actor,
                {"taken_from": ticket.assignee} if ticket.assignee else {},
            )
        )
    return updated


async def release_ticket(storage: Storage, ticket_id: int, reviewer: str) -> Ticket:
    """Give back a ticket this reviewer took, for anyone to take; audited.

    Releasing a ticket nobody has taken changes nothing; another reviewer's is refused.
    """
    actor = actor_of(reviewer)
    async with storage.audit.transaction() as tx:
        conn = tx.conn
        ticket = await open_ticket_for_update(conn, ticket_id)
        if ticket.assignee is None:
            return ticket
        if ticket.assignee != actor:
            raise ReviewConflict(
                "ticket_claimed",
                f"ticket {ticket.reference} is {reviewer_name(ticket.assignee)}'s, not yours",
            )
        updated = await repo.assign_ticket(conn, ticket_id, None)
        assert updated is not None
        await tx.append(ticket_event(EventType.TICKET_RELEASED, ticket, actor, {}))
    return updated


async def open_ticket_for_update(conn: Conn, ticket_id: int) -> Ticket:
    """The ticket, locked until the transaction ends; refused unless it is open."""
    ticket = await repo.get_ticket(conn, ticket_id, for_update=True)
    if ticket is None:
        raise TicketNotFound("not_found", f"no ticket {ticket_id}")
    if ticket.status != "open":
        raise ReviewConflict("ticket_not_open", f"ticket {ticket.reference} is {ticket.status}")
    return ticket


@dataclass(frozen=True, slots=True)
class Budget:
    """Today's refund budget and the per-refund cap, as the policy gate reads them."""

    per_refund_cap: Decimal
    daily_cap: Decimal
    spent_today: Decimal
    """Committed today (settled refunds and any that may have paid), by anyone."""

    @property
    def remaining_today(self) -> Decimal:
        """What is left of today's budget: never negative, as ``graph.policy`` computes it."""
        return max(self.daily_cap - self.spent_today, Decimal(0))

    def to_json(self) -> dict[str, str]:
        """The budget as the review API shows it (amounts as strings)."""
        return {
            "per_refund_cap": format_usdc(self.per_refund_cap),
            "daily_cap": format_usdc(self.daily_cap),
            "spent_today": format_usdc(self.spent_today),
            "remaining_today": format_usdc(self.remaining_today),
        }


async def spent_today(conn: Conn, limits: Limits) -> Decimal:
    """USDC committed to refunds today: the one place the review desk reads today's spend.

    Today is the business day (``REFUND_BUSINESS_TIMEZONE``) by the database's clock; the
    figure is the day's budget counter, the one the refund path reserves against.
    """
    return await repo.budget_spent_today(conn, limits.business_timezone)


async def todays_budget(conn: Conn, limits: Limits) -> Budget:
    """Today's budget, read as the policy gate and the refund path read it."""
    spent = await spent_today(conn, limits)
    return Budget(per_refund_cap=limits.per_tx_cap, daily_cap=limits.daily_cap, spent_today=spent)


def beyond_limits(amount: Decimal, budget: Budget) -> list[str]:
    """The limits a refund of ``amount`` goes beyond, in words (none: within them).

    The per-refund cap is MoltPe's per-transaction cap as the wallet's policy is set from
    the same settings (``wallet policy``); today's budget is its daily cap.
    """
    over: list[str] = []
    if amount > budget.per_refund_cap:
        over.append(f"the per-refund cap of {format_usdc(budget.per_refund_cap)} USDC")
    if amount > budget.remaining_today:
        over.append(
            f"what is left of today's refund budget ({format_usdc(budget.remaining_today)} "
            f"of {format_usdc(budget.daily_cap)} USDC)"
        )
    return over


async def resolve_ticket(
    desk: ReviewDesk,
    ticket_id: int,
    *,
    decision: Decision,
    amount: str | None,
    note: str,
    reviewer: str,
    confirm_beyond_limits: bool = False,
) -> Resolved:
    """Approve or deny an open ticket; tell the customer; audit every step.

    The reviewer claims the ticket first, so two reviewers cannot resolve it at once; a
    refused resolution is audited too. An approval beyond the per-refund cap or what is
    left of today's budget is refused (``beyond_limits``) unless ``confirm_beyond_limits``:
    the reviewer has seen the warning. When MoltPe refuses or fails an approved refund,
    the customer is told on their thread that the ticket stays open.
    """
    actor = actor_of(reviewer)
    async with desk.storage.pool.connection() as conn:
        ticket = await repo.get_ticket(conn, ticket_id)
        if ticket is None:
            raise TicketNotFound("not_found", f"no ticket {ticket_id}")
        if ticket.status != "open":
            raise ReviewConflict("ticket_not_open", f"ticket {ticket.reference} is {ticket.status}")
        if ticket.assignee is not None and ticket.assignee != actor:
            raise ReviewConflict(
                "ticket_claimed",
                f"ticket {ticket.reference} is {reviewer_name(ticket.assignee)}'s; "
                "take it over to resolve it",
            )
        claimed = await repo.claim_ticket(conn, ticket_id, actor)
    if claimed is None:
        raise ReviewConflict("ticket_busy", "another reviewer is resolving this ticket right now")
    try:
        return await resolve_claimed(
            desk,
            claimed,
            decision=decision,
            amount=amount,
            note=note,
            actor=actor,
            confirm_beyond_limits=confirm_beyond_limits,
        )
    except ReviewRefused as exc:
        await desk.storage.audit.record(
            resolution_event(
                claimed,
                actor,
                {
                    "decision": decision,
                    "result": "refused",
                    "code": exc.code,
                    "message": exc.message,
                    "amount": amount,
                    "note": note,
                },
            )
        )
        raise
    finally:
        async with desk.storage.pool.connection() as conn:
            await repo.unclaim_ticket(conn, ticket_id, actor)


async def resolve_claimed(
    desk: ReviewDesk,
    ticket: Ticket,
    *,
    decision: Decision,
    amount: str | None,
    note: str,
    actor: str,
    confirm_beyond_limits: bool = False,
) -> Resolved:
    """Resolve a ticket this reviewer has claimed."""
    if decision == "deny":
        message = (
            f"A teammate reviewed your request (ticket {ticket.reference}) and could not "
            f"approve a refund. Their note: {note}"
        )
        updated = await close_ticket(desk, ticket, "denied", actor, note, None, message)
        await tell_customer(
            desk,
            ticket,
            message,
            {"kind": "review_denied", "ticket": ticket.reference},
            author=actor,
        )
        return Resolved(ticket=updated, refund=None, customer_message=message)

    if not ticket.order_id or not ticket.customer_email:
        raise InvalidReview("invalid_request", "this ticket has no order to refund")
    record = await agents_attempt_settled(desk, ticket)
    attempted = False
    if record is None:
        to_pay = await approval_amount(desk, ticket, amount)
        if not confirm_beyond_limits:
            async with desk.storage.pool.connection() as conn:
                over = beyond_limits(to_pay, await todays_budget(conn, desk.limits))
            if over:
                raise ReviewConflict(
                    "beyond_limits",
                    f"{format_usdc(to_pay)} USDC is beyond {' and '.join(over)}; "
                    "confirm to approve it anyway",
                )
        # One request per approval attempt: a double click replays the same attempt; after
        # a definitive failure (e.g. MoltPe's cap) the reviewer may approve again, maybe less.
        prefix = f"ticket:{ticket.id}:"
        async with desk.storage.pool.connection() as conn:
            attempt = await repo.failed_refunds_with_prefix(conn, prefix) + 1
        try:
            outcome = await desk.refunds.refund(
                request_key=f"{prefix}{attempt}",
                order_id=ticket.order_id,
                customer_email=ticket.customer_email,
                amount=to_pay,
                reason="reviewer_approved",
                approved_by=actor,
                policy_version=None,
                thread_id=ticket.thread_id,
                human_approval=True,
            )
        except RefundRefused as exc:
            await tell_customer_not_done(desk, ticket, actor)
            raise ReviewConflict(exc.code, exc.message) from None
        record = outcome.refund
        attempted = True
    refund: ReviewRefund = {
        "status": record.status,
        "amount": format_usdc(record.amount_usdc),
        "tx_hash": record.tx_hash,
        "error_code": record.error_code,
        "error_reason": record.error_reason,
    }
    if record.status != "confirmed":
        await desk.storage.audit.record(
            resolution_event(
                ticket,
                actor,
                {
                    "decision": "approve",
                    "result": "refund_not_completed",
                    "refund": refund,
                    "note": note,
                },
            )
        )
        told = await tell_customer_not_done(desk, ticket, actor, unknown=record.status != "failed")
        return Resolved(ticket=ticket, refund=refund, customer_message=told, attempted=attempted)
    message = (
        f"Good news: a teammate approved your refund of {refund['amount']} USDC for order "
        f"{ticket.order_id} (ticket {ticket.reference}). Transaction hash: {record.tx_hash}. "
        f"It should settle in {desk.settlement_eta}."
    )
    updated = await close_ticket(desk, ticket, "approved", actor, note, record.id, message, refund)
    await tell_customer(
        desk,
        ticket,
        message,
        {
            "kind": "review_approved",
            "ticket": ticket.reference,
            "amount": refund["amount"],
            # A confirmed refund always has MoltPe's hash (its receipt's).
            "tx_hash": record.tx_hash or "",
            "order_id": ticket.order_id,
        },
        # turn -1: a reviewer's refund, not one of the customer's turns
        refund={**refund, "order_id": ticket.order_id, "refund_id": str(record.id), "turn": -1},
        author=actor,
    )
    return Resolved(ticket=updated, refund=refund, customer_message=message, attempted=attempted)


async def tell_customer_not_done(
    desk: ReviewDesk, ticket: Ticket, actor: str, *, unknown: bool = False
) -> str:
    """Tell the customer a reviewer's approval did not go through; the ticket stays open.

    ``unknown``: MoltPe did not say whether it paid; the customer is told it is checked.
    """
    if unknown:
        happened = (
            "we could not yet confirm the payment with our payment provider; we are checking "
            "whether it went through"
        )
    else:
        happened = "the payment did not go through, so nothing was sent"
    message = (
        f"A teammate approved a refund on your request (ticket {ticket.reference}), but "
        f"{happened}. Your ticket stays open and a teammate will follow up here."
    )
    await tell_customer(desk, ticket, message, {"kind": "none"}, author=actor)
    return message


async def agents_attempt_settled(desk: ReviewDesk, ticket: Ticket) -> Refund | None:
    """Settle the order's unsettled refunds; the agent's own refund if it went through.

    A ticket opened because a refund's outcome was unknown may find that refund paid
    after all: approving then pays nothing more. Still unknown: the reviewer must wait.
    """
    async with desk.storage.pool.connection() as conn:
        pending = await repo.open_refund_for_order(conn, ticket.order_id or "")
    if pending is not None:
        await desk.refunds.reconcile(pending)
    attempted = ticket.context.get("attempted_action") or {}
    refund_id = attempted.get("refund_id") if isinstance(attempted, dict) else None
    if not refund_id:
        return None
    async with desk.storage.pool.connection() as conn:
        earlier = await repo.get_refund(conn, uuid.UUID(str(refund_id)))
    if earlier is None or earlier.status == "failed":
        return None
    if earlier.status == "confirmed":
        return earlier
    raise ReviewConflict(
        "refund_outcome_unknown",
        "the agent's refund for this ticket is still unconfirmed by MoltPe; try again shortly",
    )


def resolution_event(ticket: Ticket, actor: str, payload: dict[str, Any]) -> AuditEvent:
    """The audit event of a reviewer's resolution of ``ticket``."""
    return ticket_event(EventType.TICKET_RESOLVED, ticket, actor, payload)


def ticket_event(
    event_type: EventType, ticket: Ticket, actor: str, payload: dict[str, Any]
) -> AuditEvent:
    """An audit event about ``ticket`` by a reviewer."""
    return AuditEvent(
        event_type,
        actor=actor,
        thread_id=ticket.thread_id,
        order_id=ticket.order_id,
        customer_email=ticket.customer_email,
        payload={"ticket": ticket.reference, **payload},
    )


async def approval_amount(desk: ReviewDesk, ticket: Ticket, given: str | None) -> Decimal:
    """The amount to refund: the reviewer's, else what was asked, else what is left."""
    async with desk.storage.pool.connection() as conn:
        order = await repo.get_order(conn, ticket.order_id or "")
    if order is None:
        raise InvalidReview("invalid_request", f"order {ticket.order_id} does not exist")
    raw = given or ticket.context.get("requested_amount")
    try:
        amount = parse_usdc(raw, allow_zero=False) if raw else order.unrefunded_usdc
    except InvalidAmount as exc:
        raise InvalidReview("invalid_amount", str(exc)) from None
    if given is None and amount > order.unrefunded_usdc:
        amount = order.unrefunded_usdc
    if amount <= 0:
        raise ReviewConflict("already_refunded", "nothing is left to refund on this order")
    return amount


async def close_ticket(
    desk: ReviewDesk,
    ticket: Ticket,
    status: TicketStatus,
    actor: str,
    note: str,
    refund_id: Any,
    message: str,
    refund: ReviewRefund | None = None,
) -> Ticket:
    """Record the resolution and audit it in one transaction."""
    audit = desk.storage.audit
    async with audit.transaction() as tx:
        conn = tx.conn
        try:
            updated = await repo.resolve_ticket(
                conn,
                ticket.id,
                status=status,
                resolved_by=actor,
                note=note,
                refund_id=refund_id,
            )
        except LookupError:
            raise ReviewConflict(
                "ticket_not_open", f"ticket {ticket.reference} was resolved meanwhile"
            ) from None
        await tx.append(
            resolution_event(
                ticket,
                actor,
                {
                    "decision": status,
                    "note": note,
                    "refund": refund,
                    "customer_message": message,
                },
            )
        )
    return updated


async def tell_customer(
    desk: ReviewDesk,
    ticket: Ticket,
    message: str,
    outcome: ReviewOutcome | ReviewStillOpen,
    refund: RefundAttempt | None = None,
    author: str | None = None,
) -> None:
    """Append the reviewer's outcome to the customer's conversation.

    The message is the agent's, marked with its ``author`` (the reviewer) in its
    metadata, which reviewers see and models are never sent. Takes the conversation's
    lease first (waiting for a running turn to finish), so the message cannot be
    overwritten by that turn's checkpoint.
    """
    if not ticket.thread_id:
        return
    update: ConversationPost = {
        "messages": [AIMessage(message, response_metadata={AUTHOR_KEY: author} if author else {})],
        "reply": message,
        "outcome": outcome,
        "ticket": {
            "id": ticket.id,
            "reference": ticket.reference,
            "reasons": ticket.reason.split(","),
        },
        "awaiting": None,
    }
    if outcome["kind"] != "none":  # else the ticket stays open
        update["ticket"]["status"] = (
            "approved" if outcome["kind"] == "review_approved" else "denied"
        )
    if refund is not None:
        update["refund"] = refund
    if ticket.order_id:
        async with desk.storage.pool.connection() as conn:
            order = await repo.get_order(conn, ticket.order_id)
        if order is not None and order.customer_email == ticket.customer_email:
            update["order"] = desk.snapshot(order)
    token = None
    try:
        async with desk.storage.pool.connection() as conn:
            served_here = await repo.get_conversation(conn, ticket.thread_id) is not None
        if served_here:
            token = await wait_for_lease(desk.leases, ticket.thread_id)
        await desk.post(ticket.thread_id, update)
    except Exception:  # the resolution stands; the conversation may live elsewhere
        logger.exception("could not post the review outcome to %s", ticket.thread_id)
    finally:
        if token is not None:
            await desk.leases.release(ticket.thread_id, token)


async def wait_for_lease(leases: LeaseHolder, thread_id: str, seconds: float = 60.0) -> str:
    """Take the conversation's lease, waiting for a running turn to end."""
    async with asyncio.timeout(seconds):
        while True:
            token = await leases.take(thread_id)
            if token is not None:
                return token
            await asyncio.sleep(0.1)

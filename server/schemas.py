"""Request and response bodies of the HTTP API (they drive the OpenAPI document).

What a conversation's state keeps (its outcome, ticket, refund, an order's snapshot) is
typed with the TypedDicts of :mod:`graph.types` and served as stored: ``SkipValidation``
leaves the dict as it is, so the JSON is the state's byte for byte, keys in their order
(and an older checkpoint's dict is served too), while the OpenAPI document shows each
shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from graph.types import OrderSnapshot, Outcome, RefundAttempt, ReviewRefund, TicketRef


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="Machine-readable code, e.g. rate_limited.")
    message: str = Field(description="A sentence for people.")


class ErrorBody(BaseModel):
    """Every error answer."""

    error: ErrorDetail


class NewConversation(BaseModel):
    """Start a conversation."""

    model_config = ConfigDict(extra="forbid")
    customer_email: str | None = Field(
        default=None,
        max_length=254,
        pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$",
        description="The customer's email when the calling backend has already "
        "authenticated them; the agent then does not ask for it.",
    )


class Conversation(BaseModel):
    """A started conversation."""

    thread_id: str


class CustomerMessage(BaseModel):
    """One message from the customer."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="What the customer wrote.")


class TurnResult(BaseModel):
    """The agent's answer to one message."""

    reply: str
    thread_id: str
    outcome: SkipValidation[Outcome] = Field(
        description="What happened this turn: kind none / asked / answered / refunded "
        "(amount, tx_hash, order_id) / escalated (ticket, reasons) / denied (reasons) / "
        "lookup_failed / review_approved / review_denied."
    )


class TranscriptLine(BaseModel):
    """A line of the transcript."""

    role: Literal["customer", "agent"]
    text: str


class ConversationView(BaseModel):
    """A conversation's transcript and current outcome."""

    thread_id: str
    messages: list[TranscriptLine]
    outcome: SkipValidation[Outcome]
    ticket: SkipValidation[TicketRef | None]
    refund: SkipValidation[RefundAttempt | None]


class TicketSummary(BaseModel):
    """A review ticket in a list."""

    id: int
    reference: str
    status: str
    reason: str
    customer_email: str | None
    order_id: str | None
    thread_id: str | None
    created_at: str


class TicketList(BaseModel):
    """Tickets, newest first."""

    tickets: list[TicketSummary]


class ChainStatus(BaseModel):
    """The audit chain's verification."""

    ok: bool
    checked: int
    problem: str | None


class TicketDetail(TicketSummary):
    """One ticket with everything a reviewer needs."""

    context: dict[str, Any]
    order_now: SkipValidation[OrderSnapshot | None] = Field(
        description="The order as it is now (``context.order`` is as it was at escalation)."
    )
    resolution: dict[str, Any] | None
    audit: list[dict[str, Any]]
    audit_chain: ChainStatus


class Resolution(BaseModel):
    """A reviewer's decision."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "deny"]
    amount: str | None = Field(
        default=None,
        max_length=40,
        description="USDC to refund on approval, a decimal string; default: what was asked, "
        "at most what is left on the order.",
    )
    note: str = Field(min_length=1, max_length=2000, description="Why; kept in the audit log.")


class ResolutionResult(BaseModel):
    """What the resolution did."""

    ticket: TicketSummary
    refund: SkipValidation[ReviewRefund | None]
    customer_message: str | None


class Reviewer(BaseModel):
    """Who the token belongs to."""

    reviewer: str

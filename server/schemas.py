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
    assignee: str | None = Field(
        default=None, description="The reviewer who took the ticket (``reviewer:<name>``)."
    )
    assigned_at: str | None = None
    resolved_by: str | None = Field(default=None, description="Who resolved it, when resolved.")
    resolved_at: str | None = None
    refund_amount: str | None = Field(
        default=None, description="USDC the approval refunded (in lists only)."
    )


class TicketList(BaseModel):
    """One page of tickets: newest first, or latest resolved first in the resolved view."""

    tickets: list[TicketSummary]
    view: str | None = Field(default=None, description="open, mine, resolved or all.")
    counts: dict[str, int] | None = Field(
        default=None,
        description="Tickets in each view (open, mine, resolved) that match the search.",
    )
    next_offset: int | None = Field(
        default=None, description="The ``offset`` of the next page; null on the last page."
    )


class Claim(BaseModel):
    """A reviewer takes a ticket."""

    model_config = ConfigDict(extra="forbid")
    take_over: bool = Field(
        default=False, description="Take the ticket from the reviewer who has it (audited)."
    )


class ConversationLine(BaseModel):
    """A line of a ticket's conversation, as a reviewer reads it."""

    role: Literal["customer", "agent", "reviewer"]
    text: str
    author: str | None = Field(
        default=None, description="The reviewer who wrote an agent's line (``reviewer:<name>``)."
    )


class TicketConversation(BaseModel):
    """Both sides of the ticket's conversation, in order."""

    source: Literal["conversation", "ticket"] = Field(
        description="``conversation``: as it is now; ``ticket``: as it was at escalation."
    )
    messages: list[ConversationLine]
    omitted: int = Field(default=0, description="Earlier messages not shown.")


class TrailLine(BaseModel):
    """A line of the audit trail in plain words, with the events it tells."""

    ts: str
    words: str
    tone: Literal["info", "ok", "warn", "bad"]
    seqs: list[int]
    elsewhere: bool = Field(
        default=False, description="It happened to the order in another conversation."
    )


class Budget(BaseModel):
    """The policy's per-refund cap and today's refund budget, in USDC."""

    per_refund_cap: str
    daily_cap: str
    spent_today: str
    remaining_today: str


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
    conversation: TicketConversation
    trail: list[TrailLine] = Field(
        description="The audit trail of the conversation and the order, in plain words."
    )
    audit: list[dict[str, Any]] = Field(
        description="The events behind the trail: seq, ts, event_type, actor, thread_id, "
        "order_id, payload, prev_hash, hash, pending_id (seq and hashes are null for an "
        "event not chained yet)."
    )
    audit_chain: ChainStatus
    budget: Budget = Field(
        description="The limits an approval is checked against before it is sent: beyond "
        "them the console asks the reviewer to confirm (MoltPe's own caps still apply)."
    )


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
    confirm_beyond_limits: bool = Field(
        default=False,
        description="Approve even beyond the per-refund cap or today's remaining budget "
        "(else 409 beyond_limits): the reviewer saw the warning.",
    )


class ResolutionResult(BaseModel):
    """What the resolution did."""

    ticket: TicketSummary
    refund: SkipValidation[ReviewRefund | None]
    customer_message: str | None


class Reviewer(BaseModel):
    """Who the token belongs to."""

    reviewer: str

"""What a conversation's state keeps about its order, refund and ticket, as plain dicts.

Written by the agent's nodes (:mod:`graph.nodes`) and by the reviewer's workflow
(:mod:`tools.review`), which posts a resolution into the customer's conversation; they
live here because ``tools`` may not import ``graph``. :mod:`graph.types` holds the rest
of the state's shapes and re-exports these.

They are TypedDicts: in a checkpoint and in the API they stay plain JSON objects, so
checkpoints written before these types existed load unchanged and the JSON is the same
byte for byte, while mypy checks every key where one is built or read. (They come from
``typing_extensions`` because pydantic, which documents them in the API, needs that
TypedDict on Python 3.11.)
"""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict

from persistence.models import RefundStatus, TicketStatus


class OrderSnapshot(TypedDict):
    """The few facts of a verified order kept in state and shown to reviewers.

    Amounts are decimal strings; ``created_at`` is ISO 8601 in UTC; ``description`` is
    cut to 200 characters.
    """

    id: str
    amount_usdc: str
    refunded_usdc: str
    unrefunded_usdc: str
    created_at: str
    refund_status: Literal["none", "partial", "refunded"]
    description: str
    network: str


class RefundAttempt(TypedDict):
    """The latest refund attempt of a conversation (``State.refund``).

    ``turn`` is the customer turn that attempted it; -1 for a reviewer's refund. A
    refund the last re-check refused before paying has ``status`` ``refused`` and the
    reason code in ``error_code``; one sent to MoltPe has the refund's id, hash and
    MoltPe's error, if any.
    """

    turn: int
    order_id: str
    amount: str
    status: NotRequired[RefundStatus | Literal["refused"]]
    refund_id: NotRequired[str]
    tx_hash: NotRequired[str | None]
    error_code: NotRequired[str | None]
    error_reason: NotRequired[str | None]


class ReviewRefund(TypedDict):
    """What a reviewer's approval paid (or failed to): the API's ``refund``."""

    status: RefundStatus
    amount: str
    tx_hash: str | None
    error_code: str | None
    error_reason: str | None


class TicketRef(TypedDict):
    """The latest review ticket of a conversation (``State.ticket``).

    ``status`` is set once a reviewer resolves it (the API fills it in from the
    ticket's row); without it the ticket is open.
    """

    id: int
    reference: str
    reasons: list[str]
    status: NotRequired[TicketStatus]


class ReviewApproved(TypedDict):
    """Outcome: a reviewer approved the ticket and the refund went through."""

    kind: Literal["review_approved"]
    ticket: str
    amount: str
    tx_hash: str
    order_id: str


class ReviewDenied(TypedDict):
    """Outcome: a reviewer denied the ticket; nothing was paid."""

    kind: Literal["review_denied"]
    ticket: str


class ReviewStillOpen(TypedDict):
    """Outcome: a reviewer's action did not go through; the ticket stays open."""

    kind: Literal["none"]


ReviewOutcome = ReviewApproved | ReviewDenied
"""The outcome a reviewer's resolution posts to the customer's conversation."""

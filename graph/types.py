"""The shapes of the dicts the graph's state keeps, and of what a turn answers.

Every one is a TypedDict: in a checkpoint and in the API it stays a plain JSON object,
so checkpoints written before these types existed load unchanged and serialisation is
the same byte for byte, while mypy checks every key where one is built or read. Keys a
dict does not always have are ``NotRequired``.

The order, refund and ticket shapes, and the outcomes a reviewer posts, are shared with
the reviewer's workflow and live in :mod:`tools.conversation`; they are re-exported
here.
"""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict

from graph.policy import Action
from graph.understanding.model import AmountKind, ConfirmWhy, Topic
from tools.conversation import (
    OrderSnapshot,
    RefundAttempt,
    ReviewApproved,
    ReviewDenied,
    ReviewOutcome,
    ReviewRefund,
    TicketRef,
)

__all__ = [
    "Answered",
    "Asked",
    "AskedFor",
    "Awaiting",
    "DecisionRecord",
    "Denied",
    "Escalated",
    "LookupFailed",
    "NoOutcomeYet",
    "NodeSummary",
    "NodeTransition",
    "NodeTransitionPayload",
    "NothingDone",
    "Offer",
    "OrderSnapshot",
    "Outcome",
    "OutcomeKind",
    "Proposal",
    "RefundAttempt",
    "Refunded",
    "ReviewApproved",
    "ReviewDenied",
    "ReviewOutcome",
    "ReviewRefund",
    "StoredAnswer",
    "TicketRef",
    "TurnAnswer",
    "Verdict",
]

# --- what the agent's reply asked for -----------------------------------------------

Offer = Literal["amount", "confirm", "escalation"]
"""What a reply offers to do next: take an amount, refund the amount it stated, or pass
the request to a person. Kept as ``State.awaiting`` for the next message."""

Awaiting = Offer | Literal["confirm_full"]
"""``State.awaiting``: an :data:`Offer`, or ``confirm_full``, which earlier versions
wrote for a stated whole amount (read as ``confirm``; see ``pending.CONFIRM_AWAITING``)."""

# --- the policy gate's decision -----------------------------------------------------


class Verdict(TypedDict):
    """What was decided for one request: the policy gate's answer, or a standing one.

    ``ticket``: an open ticket already holds the order (a ``deny`` with reason
    ``review_pending``). ``policy_version`` and ``details`` come from the gate; a
    re-run request reports its recorded refund's policy version and no details.
    ``needs_confirmation``: a ``refund`` of an amount the customer has not stated or
    confirmed; the agent states it and asks first (set after the audit event).
    ``refunded_before``: with it, the amount is the very amount refunded before on the
    order (in this conversation or another): what was refunded is said with the question.
    """

    action: Action
    amount: str
    reasons: list[str]
    ticket: NotRequired[str]
    policy_version: NotRequired[str | None]
    details: NotRequired[dict[str, str]]
    needs_confirmation: NotRequired[bool]
    refunded_before: NotRequired[str]


class DecisionRecord(Verdict):
    """``State.decision``: the verdict for this order, customer and request.

    Also the ``decision`` audit event's payload and a review ticket's ``decision``. In
    the dict, ``needs_confirmation`` comes last (after ``request_key``).
    """

    order_id: str
    customer_email: str
    requested_amount: str | None
    request_key: str


# --- the amount to state and confirm ------------------------------------------------


class Proposal(TypedDict):
    """``State.proposal``: an ``AmountReading`` as JSON (decimals as strings).

    See :class:`graph.understanding.model.AmountReading` and :mod:`graph.pending`.
    """

    kind: AmountKind
    value: str | None
    ratio: str | None
    final: bool
    why_confirm: ConfirmWhy | None


# --- outcomes: what happened this turn ----------------------------------------------

AskedFor = Literal["email", "order_id", "amount", "confirmation"]
"""What a reply can ask the customer for."""


class NothingDone(TypedDict):
    """Nothing to report: a greeting, an off-topic message, the order found, a cancel."""

    kind: Literal["none"]


Asked = TypedDict(
    "Asked",
    {
        "kind": Literal["asked"],
        "for": list[AskedFor],
        "order_id": NotRequired[str],
        "amount": NotRequired[str],
    },
)
"""The reply asks for something (``for``; a keyword, hence this form). Asking to
confirm an amount names the ``order_id`` and ``amount`` a yes would refund."""


class Answered(TypedDict):
    """A question answered (or a "no" acknowledged): ``topic`` says which."""

    kind: Literal["answered"]
    topic: Topic


class LookupFailed(TypedDict):
    """No order ``order_id`` for ``email`` (the customer is not told which is wrong)."""

    kind: Literal["lookup_failed"]
    order_id: str
    email: str


class Denied(TypedDict):
    """The gate refused; ``ticket`` when a person already holds the order."""

    kind: Literal["denied"]
    reasons: list[str]
    ticket: NotRequired[str]


class Escalated(TypedDict):
    """Passed to a person under ``ticket``, for ``reasons``.

    ``attached`` (the request joined a ticket already open) is read by the reply but
    not written by any node at present.
    """

    kind: Literal["escalated"]
    ticket: str
    reasons: list[str]
    attached: NotRequired[bool]


class Refunded(TypedDict):
    """Money moved: ``amount`` USDC for ``order_id``, MoltPe's transaction hash."""

    kind: Literal["refunded"]
    amount: str
    tx_hash: str
    order_id: str
    refund_id: str


Outcome = (
    NothingDone
    | Asked
    | Answered
    | LookupFailed
    | Denied
    | Escalated
    | Refunded
    | ReviewApproved
    | ReviewDenied
)
"""``State.outcome`` once a turn has one, and the API's ``outcome``: tagged by ``kind``."""

OutcomeKind = Literal[
    "none",
    "asked",
    "answered",
    "lookup_failed",
    "denied",
    "escalated",
    "refunded",
    "review_approved",
    "review_denied",
]
"""Every outcome's ``kind``."""


class NoOutcomeYet(TypedDict, closed=True):
    """``{}``: no outcome yet this turn (the state's start; understand clears it).

    Closed (no keys at all), so that it is not a supertype of every outcome: ``if
    outcome:`` tells the two apart.
    """


# --- the audit trail of a turn ------------------------------------------------------


class NodeSummary(TypedDict):
    """What a node changed, in a few audit-friendly fields."""

    changed: list[str]
    intent: NotRequired[str]
    lookup_ok: NotRequired[bool]
    escalation_reason: NotRequired[str]
    decision: NotRequired[Action]
    outcome: NotRequired[OutcomeKind]


class NodeTransitionPayload(TypedDict):
    """The payload of a ``node`` audit event."""

    node: str
    turn: int
    at: str
    input_digest: str
    outcome: NodeSummary


class NodeTransition(TypedDict):
    """One node's transition in ``State.node_trail``, written to the audit log by respond."""

    thread_id: str | None
    order_id: str | None
    payload: NodeTransitionPayload


# --- what a turn answers ------------------------------------------------------------


class TurnAnswer(TypedDict):
    """The answer to one customer message, as the API returns it."""

    reply: str
    thread_id: str
    outcome: Outcome


class StoredAnswer(TurnAnswer):
    """An answer kept under the client's idempotency key, with the message it answers."""

    message_digest: str

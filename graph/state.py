"""The graph's state: a narrow input (messages) and small, typed internal fields.

Only ids, facts and short summaries live here (never copies of whole rows), so
checkpoints stay small. Amounts are decimal strings. The dict-valued fields have the
TypedDict shapes of :mod:`graph.types` (plain dicts in a checkpoint); a node returns
an :class:`Update`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage, RemoveMessage
from langgraph.graph import add_messages
from typing_extensions import TypedDict

from graph.types import (
    Awaiting,
    DecisionRecord,
    NodeTransition,
    NoOutcomeYet,
    OrderSnapshot,
    Outcome,
    Proposal,
    RefundAttempt,
    TicketRef,
)


def keep_trail(
    left: list[NodeTransition], right: list[NodeTransition] | None
) -> list[NodeTransition]:
    """Collect the running turn's node transitions; ``None`` clears them once written."""
    if right is None:
        return []
    return [*left, *right]


@dataclass(kw_only=True)
class InputState:
    """What a caller sends: the conversation's messages (usually one new human message)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """The transcript. New human messages are appended by the caller; replies by the agent."""


@dataclass(kw_only=True)
class OutputState:
    """What a caller gets back."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """The transcript, ending with the agent's reply."""

    reply: str = ""
    """The text of this turn's reply."""

    outcome: Outcome | NoOutcomeYet = field(default_factory=NoOutcomeYet)
    """What happened this turn, tagged by ``kind`` (see :data:`graph.types.Outcome`);
    ``{}`` until a node of the turn sets it."""


@dataclass(kw_only=True)
class State(OutputState):
    """The whole state of one conversation."""

    conversation_id: str = ""
    """Stable id of the conversation (the thread id when there is one)."""

    turn: int = 0
    """Number of customer messages handled, including this one."""

    claimed_email: str | None = None
    """The email the customer gave (or the backend authenticated); not yet proof."""

    claimed_order_id: str | None = None
    """The order id the customer gave; not yet verified."""

    verified_email: str | None = None
    """Email proven by a successful lookup of ``verified_order_id``."""

    verified_order_id: str | None = None
    """Order proven to belong to ``verified_email``."""

    order: OrderSnapshot | None = None
    """Snapshot of the verified order (id, amounts, created_at, status, description)."""

    refund_requested: bool = False
    """A refund request is pending: asked for and not yet decided."""

    requested_amount: str | None = None
    """Amount asked for (decimal string); None means the whole unrefunded amount."""

    refund_reason: str | None = None
    """Why the customer wants the refund (category)."""

    intent: str = "other"
    """This turn's intent."""

    understood_by: str = ""
    """Who understood this turn: ``rules``, ``llm`` or ``fallback`` (rules after an LLM failure)."""

    amount_invalid: bool = False
    """This turn named an amount that is not valid money."""

    amount_unclear: bool = False
    """The pending request's amount could not be read; it waits for a clear one."""

    awaiting: Awaiting | None = None
    """What the agent's last reply asked for: ``amount`` (how much), ``confirm`` (may it
    refund :attr:`proposed_amount`) or ``escalation`` (shall a person look)."""

    proposal: Proposal | None = None
    """A reading of the customer's words that must be stated and confirmed before paying
    (an ``AmountReading`` as JSON; see :mod:`graph.pending`)."""

    proposed_amount: str | None = None
    """The amount the agent's last reply stated and asked a yes for; a yes confirms it."""

    last_asked: Outcome | None = None
    """What the agent's last reply asked (its outcome), if it asked anything."""

    asked_again: int = 0
    """How many replies in a row asked exactly what the reply before them asked."""

    language: str = "en"
    """The language replies are written in (the customer's, once it is clear)."""

    topic: str | None = None
    """This turn's question, if any: ``policy``, ``refund_status`` or ``unsupported``."""

    declined: bool = False
    """This turn said no to the amount the agent stated."""

    asks_again: bool = False
    """This turn's message asks for more than before ("another 20", "20 more", "also")."""

    said_yes: bool = False
    """This turn's message is a yes (read by the rules)."""

    full_confirmed: bool = False
    """The customer asked for, or confirmed, the whole remaining amount of this request."""

    failed_pair: list[str] | None = None
    """The (email, order id) of the last failed lookup: not looked up again unchanged."""

    ambiguous_orders: list[str] = field(default_factory=list)
    """Several order ids in this turn's message: the agent asks which one."""

    failed_lookups: int = 0
    """Lookups in this conversation that found no order for the customer."""

    injection_signals: list[str] = field(default_factory=list)
    """Every manipulation signal seen in this conversation."""

    lookup_ok: bool | None = None
    """This turn's lookup result (None when no lookup ran)."""

    decision: DecisionRecord | None = None
    """This turn's policy decision: action, amount, reasons, policy_version."""

    last_decision: DecisionRecord | None = None
    """The latest policy decision in this conversation (kept across turns for reviewers)."""

    refund: RefundAttempt | None = None
    """The latest refund attempt: turn, status, amount, tx_hash, refund_id, error."""

    refunded_here: list[str] = field(default_factory=list)
    """Every refund this conversation sent to MoltPe, as ``"<order id>:<amount>"``."""

    ticket: TicketRef | None = None
    """The latest review ticket: id, reference, reasons (and status once resolved)."""

    escalation_reason: str | None = None
    """Why this turn escalates (set by the node that routes to escalation)."""

    node_trail: Annotated[list[NodeTransition], keep_trail] = field(default_factory=list)
    """This turn's node transitions, written to the audit log in one transaction by the
    last node (respond) before the reply goes out; empty between turns."""


class Update(TypedDict, total=False):
    """What a node returns: any of :class:`State`'s fields, each with its type.

    ``node_trail`` takes ``None`` too: that clears the trail once it is written.
    """

    messages: list[AnyMessage | RemoveMessage]
    """New messages; a ``RemoveMessage`` drops an old one from the window (graph/window.py)."""
    reply: str
    outcome: Outcome | NoOutcomeYet
    conversation_id: str
    turn: int
    claimed_email: str | None
    claimed_order_id: str | None
    verified_email: str | None
    verified_order_id: str | None
    order: OrderSnapshot | None
    refund_requested: bool
    requested_amount: str | None
    refund_reason: str | None
    intent: str
    understood_by: str
    amount_invalid: bool
    amount_unclear: bool
    awaiting: Awaiting | None
    proposal: Proposal | None
    proposed_amount: str | None
    last_asked: Outcome | None
    asked_again: int
    language: str
    topic: str | None
    declined: bool
    asks_again: bool
    said_yes: bool
    full_confirmed: bool
    failed_pair: list[str] | None
    ambiguous_orders: list[str]
    failed_lookups: int
    injection_signals: list[str]
    lookup_ok: bool | None
    decision: DecisionRecord | None
    last_decision: DecisionRecord | None
    refund: RefundAttempt | None
    refunded_here: list[str]
    ticket: TicketRef | None
    escalation_reason: str | None
    node_trail: list[NodeTransition] | None

"""The pending refund request of a conversation, and the money rule that governs it.

Money moves only for an amount that deterministic code read in the customer's own words
as their final request, or for an amount the agent stated and the customer then
confirmed; a yes confirms only the amount stated last. Everything else is stated back
("Shall I refund 15.00 USDC for ORD-1001?") and waits.

One message moves the request from one row to the next (``awaiting`` is what the
agent's last reply asked for):

=====================================  ===============================================
the message                            the request afterwards
=====================================  ===============================================
a cancel ("never mind")                dropped
"no" while ``awaiting == "confirm"``   dropped, and the "no" acknowledged
an amount in digits tied to the        ``amount`` = it, final: the gate may pay it
asking ("refund 20", "20 USDC back")
"full refund", "everything"           ``full`` (the whole unrefunded amount), final
("the rest" is stated back: it may be
the rest of the items)
any other reading: a correction,       ``proposal`` = the reading; the gate's amount
arithmetic, several amounts, words,    for it is stated and confirmed before paying
a fraction or percentage, an amount
only a model read, an order picked
among several (the others called fine)
a short answer after "how much?"       ``amount`` = it (typed digits answering the
("20", "no, just 5")                   agent's question are a final statement)
"yes" while ``awaiting == "confirm"``  ``amount`` = ``proposed_amount`` (what the
                                       agent stated last), final
an unreadable amount, a count          ``unclear``: the agent asks how much
a refund intent only a model saw,      ``unclear``: the agent asks how much
with no amount in the text
a new refund request, another order    starts afresh (nothing carries over)
the very amount refunded before on     stated back with what was refunded
the order, asked again (no "another")  (``refunded_before``), paid on a yes to it
no amount said, the order over the     ``unclear``: the agent asks how much
per-refund cap                         (``amount_to_decide``)
=====================================  ===============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from core.limits import Limits
from core.money import format_usdc
from graph.state import State, Update
from graph.types import Proposal
from graph.understanding import AmountReading, Understanding
from graph.understanding.asking import another_one, plain_yes
from graph.understanding.text import prepare
from persistence.models import Order

CONFIRM_AWAITING = ("confirm", "confirm_full")
"""``awaiting`` values meaning the agent stated an amount and asked for a yes."""

GUESSES = ("several", "unstated", "model_only")
"""Readings that are a guess at which number is the amount (not a figure the customer
tied to the request): one the order cannot hold is asked about, not decided on."""


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """The refund request after one message (see the module's state table)."""

    requested: bool = False
    """A refund request is pending."""

    amount: str | None = None
    """A final amount (decimal string): the customer's digits, or an amount they confirmed."""

    full: bool = False
    """The whole unrefunded amount, asked for in so many words: final."""

    proposal: Proposal | None = None
    """A reading to state and confirm before paying (``AmountReading`` as JSON)."""

    unclear: bool = False
    """How much cannot be read: the agent asks."""

    declined: bool = False
    """The customer said no to the amount the agent stated."""

    def update(self) -> Update:
        """The state fields this request sets."""
        return {
            "refund_requested": self.requested,
            "requested_amount": self.amount,
            "full_confirmed": self.full,
            "proposal": self.proposal,
            "amount_unclear": self.unclear,
        }


def proposal_of(reading: AmountReading) -> Proposal:
    """A reading kept in state (strings for Decimals): its JSON has Proposal's keys."""
    return cast(Proposal, reading.model_dump(mode="json"))


def reading_of(proposal: Proposal | None) -> AmountReading | None:
    """The reading a proposal holds."""
    return AmountReading.model_validate(proposal) if proposal else None


def gate_amount(
    proposal: AmountReading, unrefunded: Decimal, limits: Limits, *, answered: bool = False
) -> Decimal | None:
    """The amount the gate decides for a reading still to be confirmed; None: ask how much.

    A guess (a number only a model read, one of several numbers, a number not tied to the
    asking) that is more than the order has left or less than the smallest refund is not
    what the customer asked for: the agent asks rather than escalating or refusing a
    request nobody made. A fraction of nothing is asked about too. ``answered``: the
    customer wrote it in reply to "how much?" (a model's number stays a guess).
    """
    amount = proposal.amount_of(unrefunded)
    if amount is None:
        return None
    if (
        proposal.why_confirm in GUESSES
        and not (answered and proposal.why_confirm != "model_only")
        and (amount > unrefunded or amount < limits.min_refund)
    ):
        return None
    return amount


def amount_to_decide(
    state: State, order: Order | None, limits: Limits
) -> tuple[Decimal | None, bool]:
    """The amount the gate decides on (None: the whole unrefunded amount), or ask how much.

    Returns ``(amount, ask)``; with ``ask`` the customer is asked how much instead.
    """
    if state.requested_amount:
        return Decimal(state.requested_amount), False
    if order is None or state.full_confirmed:
        return None, False
    proposal = reading_of(state.proposal)
    asking_allowed = order.unrefunded_usdc > 0 and not state.injection_signals
    if proposal is not None and proposal.kind != "full":  # full: the gate reads what is left
        # An amount given when asked "how much?" is the customer's answer, not a guess
        # at one: the gate decides on it (more than is left goes to a person).
        amount = gate_amount(
            proposal, order.unrefunded_usdc, limits, answered=state.awaiting == "amount"
        )
        return amount, amount is None and asking_allowed
    implicit = proposal is None or (proposal.kind == "full" and proposal.why_confirm is None)
    if implicit and order.unrefunded_usdc > limits.per_tx_cap and asking_allowed:
        # "refund kar do", no amount said: the whole of an order over the per-refund cap
        # would go to a person for a size nobody asked for. Ask how much first.
        return None, True
    return None, False


def order_picked(request: PendingRequest) -> PendingRequest:
    """The request once the order was picked for the customer: stated back for a yes.

    Whatever amount was final becomes a reading to confirm, together with the order.
    """
    if request.amount is not None:
        reading = AmountReading(
            kind="exact", value=Decimal(request.amount), why_confirm="order_picked"
        )
    elif request.full:
        reading = AmountReading(kind="full", why_confirm="order_picked")
    else:
        return request
    return PendingRequest(requested=True, proposal=proposal_of(reading))


def moved_to_another_order(state: State, named: Order | None) -> PendingRequest:
    """The amount just stated, for another order the customer named instead.

    "no, the phone case" to "shall I refund 5.00 for ORD-1001?": 5.00 for the phone case
    (the whole of it if the whole of the first was stated), to be stated back again. More
    than the named order has left was never asked for it: the customer is asked how much.
    """
    stated = state.proposed_amount
    whole = state.order is not None and stated == state.order["unrefunded_usdc"]
    if whole or stated is None:
        return PendingRequest(requested=True, full=True)
    if named is not None and Decimal(stated) > named.unrefunded_usdc:
        return PendingRequest(requested=True, unclear=True)
    return PendingRequest(requested=True, amount=stated)


def refunded_before(
    state: State, order_id: str, amount: Decimal, refunded: Decimal, earlier: Sequence[Decimal]
) -> bool:
    """``amount`` is the very amount of an earlier refund of the order, asked again.

    More often a question about that refund, or a message sent twice, than a second
    request: it is stated back with what was refunded, and paid on a yes to exactly it.
    ``earlier``: each refund of the order that counts; ``refunded``: their total (asked
    for the whole of it again). After a refund of this amount on this order in this
    conversation, a word asking for more tied to the amount ("another 20", "20 more")
    makes it a request.
    """
    if refunded <= 0 or (amount not in earlier and amount != refunded):
        return False
    if (
        state.said_yes
        and state.awaiting in CONFIRM_AWAITING
        and state.proposed_amount == format_usdc(amount)
    ):
        return False  # the yes to exactly this amount, stated back (not the message again)
    if f"{order_id}:{format_usdc(amount)}" in state.refunded_here:
        return not state.asks_again
    return True


def _asked_another(state: State) -> bool:
    """The last reply asked "... already has X refunded. Shall I refund another X?"."""
    return state.last_decision is not None and "refunded_before" in state.last_decision


def checking_on_the_first(state: State, request: PendingRequest) -> bool:
    """A no to "... already has 15.00 refunded. Another 15.00?": asking after that refund.

    Its status is reported rather than "all right, I'll leave it there".
    """
    return request.declined and _asked_another(state)


def about_the_first(state: State, understood: Understanding, text: str) -> bool:
    """A yes to "... already has 20.00 refunded. Another 20.00?" that is about the first.

    Only a plain yes ("yes", "yes please, thanks") or an answer that asks for another
    ("yes, another 20", "sí, otra vez") is a yes to a second refund. "yes I got it",
    "I received it already", "sim, já recebi" are about the refund the customer had:
    nothing is paid on them, and the first refund's status is reported. A new amount
    ("no, 5") is read as any answer is.
    """
    if not (state.awaiting in CONFIRM_AWAITING and _asked_another(state)):
        return False
    folded = prepare(text)
    if not understood.affirmative and (
        understood.mentioned_amount is not None or understood.reading.kind != "none"
    ):
        return False  # "no, 5": a new amount, read as any answer is
    return not (understood.affirmative and plain_yes(folded)) and not another_one(folded)


def after(state: State, understood: Understanding) -> PendingRequest:
    """The pending request once ``understood`` (this turn's message) is taken in."""
    confirming = state.awaiting in CONFIRM_AWAITING
    reading = understood.reading
    new_amount = (
        reading.kind != "none"
        or understood.mentioned_amount is not None
        or understood.followup.kind in ("exact", "fraction")  # "no, half of it"
    )
    if understood.intent == "cancel":
        return PendingRequest()
    if confirming and understood.negative and not new_amount:
        return PendingRequest(declined=True)
    if understood.topic == "acknowledged":
        return PendingRequest(declined=state.refund_requested)

    current = PendingRequest(
        requested=state.refund_requested,
        amount=state.requested_amount,
        full=state.full_confirmed,
        proposal=state.proposal,
        unclear=state.amount_unclear,
    )
    corrected = state.failed_pair is not None and state.claimed_order_id == state.failed_pair[1]
    switched = (
        understood.order_id is not None
        and state.claimed_order_id is not None
        and understood.order_id != state.claimed_order_id
        and not corrected  # fixing a mistyped order id keeps what was asked for it
    )
    fresh = understood.intent == "refund" and not state.refund_requested
    if switched or fresh:
        current = PendingRequest(requested=current.requested)
    requested = current.requested or understood.intent == "refund"
    answering = state.awaiting == "amount" or confirming or (requested and current.unclear)

    if (
        confirming
        and understood.negative
        and understood.mentioned_amount is not None
        and state.proposed_amount is not None
        and understood.mentioned_amount == Decimal(state.proposed_amount)
    ):
        # "no, 8.75" to "refund 8.75 for ORD-5521?": the amount was right, so the "no" is
        # about something else (the order): nothing is paid on it.
        return PendingRequest(declined=True)
    if answering and understood.mentioned_amount is not None:
        # A short answer in digits to "how much?" or "shall I refund X?" is final.
        return PendingRequest(requested=True, amount=format_usdc(understood.mentioned_amount))
    model_only = reading.why_confirm == "model_only"
    grounded = (
        current.amount
        or current.full
        or (current.proposal is not None and current.proposal.get("why_confirm") != "model_only")
    )
    if model_only and current.requested and not (confirming and understood.affirmative):
        if understood.followup.kind != "none":
            # What the customer's own words say to the pending request ("25 not 30"),
            # read by the rules, not the model's number.
            reading, model_only = understood.followup, False
        elif grounded:
            # The customer already said how much in their own words: a number only a
            # model reads in a later message ("it's ORD-1462") changes nothing.
            return current
    if (
        confirming
        and understood.affirmative
        # ("yes, that's all": "all" is not a new whole to state back.)
        and (reading.kind == "none" or model_only or (reading.kind == "full" and not reading.final))
        and understood.mentioned_amount is None
        and state.proposed_amount
    ):
        # The customer's yes (read by the rules) to the amount stated last; whatever a
        # model claims alongside it is not an amount the customer wrote.
        return PendingRequest(requested=True, amount=state.proposed_amount)
    if (
        (understood.intent != "refund" or answering)
        and reading.kind in ("none", "unclear")
        and (current.requested or answering)
    ):
        # "25, not 30" said after "I want 30 back"; "12, they're 6 each" answering "how
        # much?" (whatever intent a model reads into it).
        reading = understood.followup
    if understood.intent == "refund" or (
        (answering or current.requested) and reading.kind != "none"
    ):
        if reading.kind == "exact" and reading.final and reading.value is not None:
            return PendingRequest(requested=True, amount=format_usdc(reading.value))
        if reading.kind == "full" and reading.final:
            return PendingRequest(requested=True, full=True)
        if reading.kind == "full":
            return PendingRequest(requested=True, proposal=proposal_of(reading))
        if reading.kind in ("exact", "fraction"):  # stated back, confirmed first
            return PendingRequest(requested=True, proposal=proposal_of(reading))
        if reading.kind == "unclear":
            return PendingRequest(requested=True, unclear=True)
    if confirming and understood.affirmative and requested and state.proposed_amount:
        return PendingRequest(requested=True, amount=state.proposed_amount)
    if (
        understood.intent == "refund"
        and not understood.rules_see_refund
        and not (current.amount or current.full or current.proposal)
    ):
        # Only a model reads a refund request here, and no amount in the customer's
        # words: nothing moves until they name one.
        return PendingRequest(requested=True, unclear=True)
    if understood.intent == "refund" and not (current.amount or current.full or current.proposal):
        # "refund my order": the whole amount, stated and confirmed first.
        return PendingRequest(requested=True, proposal=proposal_of(AmountReading(kind="full")))
    return PendingRequest(
        requested=requested,
        amount=current.amount,
        full=current.full,
        proposal=current.proposal,
        unclear=current.unclear,
    )

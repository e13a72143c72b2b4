"""The reply to one turn: which reply of the reply layer, filled with facts from state.

:func:`compose` picks one small function of :mod:`graph.replies` per outcome, in the
customer's language (:attr:`State.language`); every amount, hash, ticket and order id
comes from state or from the database, never from a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.settings import Settings
from graph import replies
from graph.replies import RefundInfo, Reply
from graph.replies.compose import ReasonLimits
from graph.state import State
from graph.types import AskedFor, Offer, Outcome
from persistence.models import Refund

Composed = tuple[Reply, Outcome, Offer | None]
"""The reply, the turn's outcome, and what the reply offers to do next (if anything)."""

ASKED_AGAIN_LIMIT = 2
"""After asking the same thing this many times in a row, offer a person instead."""


def compose(
    state: State,
    settings: Settings,
    limits: ReasonLimits,
    history: Sequence[Refund] = (),
) -> Composed:
    """This turn's reply, its outcome, and what it offers next (``State.awaiting``).

    ``history``: the refunds of the conversation's order from every conversation, read
    when the customer asks whether a refund went through.
    """
    t = replies.translator(state.language)
    done = state.outcome  # what an earlier node of this turn did, if anything

    if done and done["kind"] == "refunded":
        reply = replies.refunded(
            t,
            amount=done["amount"],
            order_id=done["order_id"],
            tx_hash=done["tx_hash"],
            eta=settings.settlement_eta,
        )
        return reply, done, None
    if done and done["kind"] == "escalated":
        ticket = done["ticket"]
        if done.get("attached"):
            return replies.already_with_person(t, ticket=ticket), done, None
        reply = replies.escalated(t, reasons=done["reasons"], ticket=ticket, limits=limits)
        return reply, done, None
    if done and done["kind"] == "denied":
        if done.get("ticket"):
            return replies.ticket_open(t, ticket=done["ticket"]), done, None
        return replies.denied(t, reasons=done["reasons"], limits=limits), done, "escalation"
    if done and done["kind"] == "lookup_failed":
        reply = replies.lookup_failed(t, order_id=done["order_id"], email=done["email"])
        return reply, done, "escalation"
    if state.intent == "empty":
        return replies.empty_message(t), {"kind": "none"}, None
    if state.declined or state.topic == "acknowledged":
        return replies.acknowledged(t), {"kind": "answered", "topic": "acknowledged"}, None
    if state.topic == "policy" and (not state.refund_requested or state.intent != "refund"):
        # A policy question is answered, also while an earlier request waits for details.
        reply = replies.policy_answer(
            t,
            window_days=settings.refund_window_days,
            per_tx_cap=settings.refund_per_tx_cap,
            daily_cap=settings.refund_daily_cap,
            eta=settings.settlement_eta,
        )
        return reply, {"kind": "answered", "topic": "policy"}, None
    if state.topic == "unsupported" and not state.refund_requested:
        return replies.unsupported(t), {"kind": "answered", "topic": "unsupported"}, "escalation"
    if state.ambiguous_orders:
        reply = replies.ask_which_order(t, orders=state.ambiguous_orders)
        return reply, {"kind": "asked", "for": ["order_id"]}, None
    if state.amount_invalid or (state.refund_requested and state.amount_unclear):
        return replies.ask_amount(t), {"kind": "asked", "for": ["amount"]}, "amount"
    if state.intent == "cancel":
        return replies.cancelled(t), {"kind": "none"}, None
    if state.intent == "status" or state.topic == "refund_status":
        status = _status(t, state, history)
        if status is not None:
            return status, {"kind": "answered", "topic": "refund_status"}, None
    if not state.claimed_email or not state.claimed_order_id:
        example = settings.order_ids().example()
        if not state.claimed_email and not state.claimed_order_id:
            asking = state.refund_requested or state.intent in ("refund", "provide_info", "status")
            if not asking:
                if state.intent == "greeting":
                    return replies.greeting(t), {"kind": "none"}, None
                return replies.off_topic(t), {"kind": "none"}, None
            reply = replies.ask_identity(t, example=example)
            return reply, {"kind": "asked", "for": ["email", "order_id"]}, None
        reply = replies.ask_identity(
            t, email=state.claimed_email, order_id=state.claimed_order_id, example=example
        )
        missing: AskedFor = "email" if not state.claimed_email else "order_id"
        return reply, {"kind": "asked", "for": [missing]}, None
    if state.order is None and state.failed_pair == [state.claimed_email, state.claimed_order_id]:
        reply = replies.lookup_failed(
            t, order_id=state.claimed_order_id, email=state.claimed_email, again=True
        )
        return reply, {"kind": "asked", "for": ["email", "order_id"]}, "escalation"
    decision = state.decision
    if decision and decision.get("needs_confirmation") and state.order is not None:
        amount, order_id = decision["amount"], decision["order_id"]
        whole = amount == state.order["unrefunded_usdc"]
        picked = state.proposal is not None and state.proposal.get("why_confirm") == "order_picked"
        description = state.order.get("description") or ""
        if "refunded_before" in decision:
            reply = replies.confirm_again(
                t, amount=amount, order_id=order_id, refunded=decision["refunded_before"]
            )
        elif picked and description:
            # The order was picked by what the customer called it: say which one it is.
            reply = replies.confirm_named(
                t, amount=amount, order_id=order_id, description=description
            )
        else:
            confirm = replies.confirm_full if whole else replies.confirm_amount
            reply = confirm(t, amount=amount, order_id=order_id)
        return (
            reply,
            {"kind": "asked", "for": ["confirmation"], "order_id": order_id, "amount": amount},
            "confirm",
        )
    if (
        state.order is not None
        and state.intent in ("greeting", "other")
        and (state.refund or state.ticket)
    ):
        return replies.anything_else(t), {"kind": "none"}, None
    if state.order is not None:
        order = state.order
        reply = replies.found_order(
            t,
            order_id=order["id"],
            description=order.get("description") or "",
            amount=order["unrefunded_usdc"],
        )
        return reply, {"kind": "none"}, "amount"
    return replies.off_topic(t), {"kind": "none"}, None


def _status(t: replies.Translator, state: State, history: Sequence[Refund]) -> Reply | None:
    """Where the customer's refund or ticket stands; None when identity is still missing."""
    ticket = state.ticket
    if ticket and ticket.get("status", "open") == "open":
        return replies.ticket_open(t, ticket=ticket["reference"])
    if ticket and ticket.get("status") == "denied" and not history and not state.refund:
        return replies.review_denied(t, ticket=ticket["reference"])
    if history:
        infos = [
            RefundInfo.of(
                order_id=r.order_id, amount=r.amount_usdc, status=r.status, tx_hash=r.tx_hash
            )
            for r in history
        ]
        return replies.refund_status(t, refunds=infos)
    if ticket:
        return replies.ticket_open(t, ticket=ticket["reference"])
    if state.verified_order_id:
        return replies.refund_status(t, refunds=[], order_id=state.verified_order_id)
    return None


def not_asked_again(
    state: State, reply: Reply, outcome: Outcome, offer: Offer | None
) -> tuple[Reply, Outcome, Offer | None, Outcome | None, int]:
    """The reply, unless it would ask the same thing a third time in a row.

    A question is something asked, or the order shown with "how much?" still open. The
    same one a third time would not get a different answer: the customer is offered a
    person instead, who sees the whole conversation. Also returns what this reply asks
    (``State.last_asked``) and how many times in a row it was asked before
    (``State.asked_again``).
    """
    waiting = outcome["kind"] == "asked" or (outcome["kind"] == "none" and offer == "amount")
    asked = outcome if waiting else None
    same = asked is not None and asked == state.last_asked and offer == state.awaiting
    again = state.asked_again + 1 if same else 0
    if again >= ASKED_AGAIN_LIMIT:
        return (
            replies.still_unclear(replies.translator(state.language)),
            {"kind": "none"},
            "escalation",
            None,
            0,
        )
    return reply, outcome, offer, asked, again

"""The hand-off to a person: why the agent escalates and what the review ticket holds.

:func:`escalate` is the graph's ``escalate`` node (bound by
:class:`~graph.nodes.AgentNodes`). It never calls MoltPe: it opens one ticket per
request (:func:`tools.escalation.open_ticket`, idempotent on the request key) carrying
everything a reviewer needs without reading the conversation's state: the transcript,
who the customer is and whether that was verified, the order, the gate's decision, the
refund attempted this turn and MoltPe's error, and every injection signal (said in the
messages or planted in the order's text).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context
from graph.facts import (
    order_snapshot,
    planted_signals,
    request_id_of,
    request_key,
    transcript,
)
from graph.services import Services
from graph.state import State, Update
from graph.types import OrderSnapshot
from persistence import repo
from tools.escalation import open_ticket


def escalation_reasons(state: State) -> list[str]:
    """Why this turn goes to a person: the node's reason, the customer's ask, the gate's."""
    if state.escalation_reason:
        return state.escalation_reason.split(",")
    if state.intent == "human":
        return ["customer_requested_human"]
    decision = state.decision
    return list((decision["reasons"] if decision else None) or ["needs_review"])


def ticket_context(state: State, order: OrderSnapshot | None, reasons: list[str]) -> dict[str, Any]:
    """What the review ticket holds for the person who picks it up."""
    decision = state.decision
    attempted = state.refund if state.refund and state.refund["turn"] == state.turn else None
    return {
        "transcript": transcript(state.messages),
        "customer_email": state.verified_email or state.claimed_email,
        "identity_verified": state.verified_email is not None,
        "order": order,
        "decision": decision,
        "previous_decision": state.last_decision if not decision else None,
        "requested_amount": state.requested_amount
        or (decision["requested_amount"] if decision else None),
        "refund_reason": state.refund_reason,
        "attempted_action": attempted,
        "moltpe_error": (
            {"code": attempted.get("error_code"), "reason": attempted.get("error_reason")}
            if attempted and attempted.get("error_code")
            else None
        ),
        "injection_signals": [*state.injection_signals, *planted_signals(order)],
        "failed_lookups": state.failed_lookups,
        "reasons": reasons,
    }


async def escalate(svc: Services, state: State, runtime: Runtime[Context]) -> Update:
    """Open a review ticket with the full context. Never calls MoltPe."""
    reasons = escalation_reasons(state)
    order_id = state.verified_order_id or state.claimed_order_id
    order: OrderSnapshot | None = state.order
    if order is None and order_id and state.verified_order_id:
        async with svc.storage.pool.connection() as conn:
            found = await repo.get_order(conn, order_id)
        order = order_snapshot(found) if found else None
    ticket = await open_ticket(
        svc.storage.audit,
        request_key=request_key(state, "escalate", request_id_of(runtime)),
        customer_email=state.verified_email or state.claimed_email,
        order_id=order_id,
        reason=",".join(reasons),
        thread_id=state.conversation_id,
        context=ticket_context(state, order, reasons),
    )
    return {
        "ticket": {"id": ticket.id, "reference": ticket.reference, "reasons": reasons},
        "refund_requested": False,
        "outcome": {"kind": "escalated", "ticket": ticket.reference, "reasons": reasons},
    }

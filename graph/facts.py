"""Facts and identities the nodes work with, computed by code from state and the database.

Message text, the conversation's thread id and the caller's idempotency key, the
identity of a customer request, a conversation's outcome, an order's snapshot, the
policy gate's facts, the transcript shown to reviewers, instructions planted in an
order's own text, and a bare order number given when the agent asked for one. Used by
the nodes, and by the HTTP service and the demo (which need the same snapshots and
texts), so that nothing outside ``graph/`` reaches into the nodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from core.money import format_usdc
from core.order_ids import DEFAULT_FORMAT, OrderIdFormat, order_id_format
from graph.context import Context
from graph.policy import Facts
from graph.state import State
from graph.types import OrderSnapshot, Outcome
from graph.understanding import clean_message, injection_signals
from graph.understanding.patterns import BARE_NUMBER_RE
from graph.understanding.text import prepare
from persistence.models import Order
from tools.orders import OrderFacts

TRANSCRIPT_LIMIT = 40


def message_text(message: AnyMessage) -> str:
    """The text of a message whatever its content shape."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = [
        p if isinstance(p, str) else str(p.get("text", ""))
        for p in content
        if isinstance(p, str) or (isinstance(p, dict) and p.get("type") == "text")
    ]
    return " ".join(parts)


def last_customer_text(messages: list[AnyMessage]) -> str:
    """The latest human message's text (empty when there is none)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def thread_id_of(config: RunnableConfig | None) -> str | None:
    """The LangGraph thread id of this run, if any."""
    configurable = (config or {}).get("configurable") or {}
    value = configurable.get("thread_id")
    return str(value) if value else None


def request_key(state: State, suffix: str, request_id: str | None = None) -> str:
    """Identity of this customer request: conversation, turn and what it is about.

    With the caller's idempotency key (``Context.request_id``) the key replaces the turn
    number: a retry of the same message, run again after a crash, is the same request
    and finds the refund or ticket the first run made instead of making another.
    """
    return f"{state.conversation_id}:{request_id or state.turn}:{suffix}"


def request_id_of(runtime: Runtime[Context] | None) -> str | None:
    """The caller's idempotency key for this turn, if any."""
    context = runtime.context if runtime is not None else None
    return context.request_id if context is not None else None


def outcome_of(values: Mapping[str, Any]) -> Outcome:
    """The outcome in a conversation's state values; ``none`` while it has none (``{}``)."""
    outcome: Outcome | None = values.get("outcome") or None
    return outcome or {"kind": "none"}


def order_snapshot(order: Order) -> OrderSnapshot:
    """The few facts of an order kept in state and shown to reviewers."""
    return {
        "id": order.id,
        "amount_usdc": format_usdc(order.amount_usdc),
        "refunded_usdc": format_usdc(order.refunded_usdc),
        "unrefunded_usdc": format_usdc(order.unrefunded_usdc),
        "created_at": order.created_at.astimezone(dt.UTC).isoformat(),
        "refund_status": order.refund_status,
        "description": order.description[:200],
        "network": order.network,
    }


def gate_facts(
    found: OrderFacts, *, failed_lookups: int = 0, injection_signals: tuple[str, ...] = ()
) -> Facts:
    """The policy gate's facts: what the database says, plus the conversation's signals."""
    order = found.order
    return Facts(
        order_found=order is not None,
        owned_by_customer=found.owned,
        order_amount=order.amount_usdc if order else Decimal(0),
        refunded_amount=order.refunded_usdc if order else Decimal(0),
        order_created_at=order.created_at if order else None,
        now=found.now,
        refund_in_progress=found.refund_in_progress,
        customer_recent_refunds=found.customer_recent_refunds,
        spent_today=found.spent_today,
        failed_lookups=failed_lookups,
        injection_signals=injection_signals,
    )


def transcript(messages: list[AnyMessage]) -> list[dict[str, str]]:
    """The last messages as ``{"role", "text"}`` for a reviewer."""
    out = []
    for message in messages[-TRANSCRIPT_LIMIT:]:
        role = "customer" if isinstance(message, HumanMessage) else "agent"
        out.append({"role": role, "text": clean_message(message_text(message))[:2000]})
    return out


def planted_signals(order: OrderSnapshot | None) -> list[str]:
    """Instructions planted in the order's own text, flagged for reviewers.

    A product name telling the agent to pay more is shown as ``order_text:<signal>``.
    """
    description = order["description"] if order else ""
    return [f"order_text:{signal}" for signal in injection_signals(description)]


def bare_order_id(state: State, text: str, ids: OrderIdFormat | None = None) -> str | None:
    """A bare number as the order id, when the agent has just asked for the order.

    "22208?" or "Last try: 28220" after "which order?" or "I couldn't find that
    order" is the customer's order number; anywhere else a bare number is not.
    """
    previous = state.outcome
    asked = bool(
        previous
        and (
            previous["kind"] == "lookup_failed"
            or (previous["kind"] == "asked" and "order_id" in previous["for"])
        )
    )
    if not asked and state.failed_pair is None:
        return None
    numbers = {m.group(1) for m in BARE_NUMBER_RE.finditer(prepare(text))}
    if len(numbers) != 1:
        return None
    return (ids or order_id_format(DEFAULT_FORMAT)).from_bare_number(numbers.pop())

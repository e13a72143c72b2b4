"""The support refund agent as a LangGraph state machine.

::

    START -> understand -> (respond | lookup | decide | escalate)
    lookup   -> (decide | escalate | respond)
    decide   -> POLICY GATE -> (refund | escalate | respond)
    refund   -> (respond | escalate)
    escalate -> respond -> END

:func:`build_builder` returns the uncompiled graph acting through the services it is
given (a :class:`~graph.services.Services`, or an async function returning one, called
on each node run); compile it with your own checkpointer. The graph that
``langgraph dev`` serves, with services built from settings on first use, is
``wiring.studio:graph``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Literal

from langchain_core.messages import RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graph import window
from graph.context import Context
from graph.facts import last_customer_text, message_text, request_id_of, thread_id_of
from graph.nodes import AgentNodes, ServicesProvider
from graph.services import Services
from graph.state import InputState, OutputState, State, Update
from graph.types import NodeSummary, NodeTransition, StoredAnswer
from persistence import repo, transcripts
from persistence.audit import AuditEvent, EventType

Node = Callable[[State, RunnableConfig, Runtime[Context]], Awaitable[Update]]


LAST_NODE = "respond"
"""Every turn ends here; it writes the turn's node transitions to the audit log."""


def route_turn(state: State) -> Literal["lookup", "decide", "escalate", "respond"]:
    """Where a customer turn goes after understanding."""
    if state.intent in ("empty", "cancel"):
        return "respond"
    if state.amount_invalid and not state.injection_signals:
        return "respond"  # ask how much (an attack goes to the gate, and on to a person)
    if state.intent == "human":
        return "escalate"
    if state.ambiguous_orders or not state.claimed_email or not state.claimed_order_id:
        return "respond"
    if state.verified_order_id is None:
        if state.failed_pair == [state.claimed_email, state.claimed_order_id]:
            return "respond"  # the same pair failed already: ask to check it, not again
        return "lookup"
    return "decide" if ready_to_decide(state) else "respond"


def ready_to_decide(state: State) -> bool:
    """A refund request whose amount is known (stated, or the whole remaining amount).

    With injection signals in the conversation the gate decides at once, whatever the
    amount: it sends the request to a person rather than asking the attacker how much.
    """
    return state.refund_requested and (not state.amount_unclear or bool(state.injection_signals))


def route_after_lookup(state: State) -> Literal["decide", "escalate", "respond"]:
    """After a lookup: decide a pending request, escalate enumeration, or reply."""
    if state.lookup_ok:
        return "decide" if ready_to_decide(state) else "respond"
    if state.lookup_ok is False:
        return "escalate" if state.escalation_reason else "respond"
    raise ValueError(f"lookup finished without a result: {state.lookup_ok!r}")


def route_decision(state: State) -> Literal["refund", "escalate", "respond"]:
    """The policy gate's action picks the next node."""
    decision = state.decision
    action = decision["action"] if decision else None
    if decision is None and state.amount_unclear:
        return "respond"  # the gate was not asked: how much is not clear yet
    if decision and action == "refund":
        # The whole remaining amount, never stated or agreed by the customer: ask first.
        return "respond" if decision.get("needs_confirmation") else "refund"
    if action == "escalate":
        return "escalate"
    if action == "deny":
        return "respond"
    raise ValueError(f"unknown decision action: {action!r}")


def route_after_refund(state: State) -> Literal["respond", "escalate"]:
    """A confirmed refund is reported; anything else goes to a person."""
    status = state.refund.get("status") if state.refund else None
    return "respond" if status == "confirmed" else "escalate"


def on_the_loop(route: Callable[[State], str]) -> Callable[[State], Awaitable[str]]:
    """``route`` as a coroutine function, so that it runs on the event loop.

    LangGraph runs a plain function given to an async graph in a worker thread (a thread
    hop per routing). The wrapper keeps its name and return annotation (the edges the
    graph draws).
    """

    @functools.wraps(route)
    async def run(state: State) -> str:
        return route(state)

    return run


def _digest(state: State) -> str:
    """A short digest of what a node saw: the turn's message and the identity claims."""
    seen = {
        "turn": state.turn,
        "message": last_customer_text(state.messages)[:4000],
        "claimed_email": state.claimed_email,
        "claimed_order_id": state.claimed_order_id,
        "verified_order_id": state.verified_order_id,
    }
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()[:16]


def _summary(update: Update) -> NodeSummary:
    """What a node changed, in a few audit-friendly fields."""
    summary: NodeSummary = {"changed": sorted(k for k in update if k != "messages")}
    if (intent := update.get("intent")) is not None:
        summary["intent"] = intent
    if (lookup_ok := update.get("lookup_ok")) is not None:
        summary["lookup_ok"] = lookup_ok
    if (reason := update.get("escalation_reason")) is not None:
        summary["escalation_reason"] = reason
    if decision := update.get("decision"):
        summary["decision"] = decision["action"]
    if outcome := update.get("outcome"):
        summary["outcome"] = outcome["kind"]
    return summary


def message_digest(text: str) -> str:
    """What an idempotent answer is keyed to besides its key: the message it answers."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def audited(name: str, node: Node, nodes: AgentNodes) -> Node:
    """Wrap a node so that every transition is written to the audit log.

    Each node adds its transition to the turn's ``node_trail``; the last node of every
    turn (respond) writes the whole trail, its own transition included, in one
    transaction before the reply goes out. Domain events (lookup, decision, refund,
    escalation, injection) are written by the nodes themselves as they happen.
    """

    async def run(state: State, config: RunnableConfig, runtime: Runtime[Context]) -> Update:
        update = await node(state, config, runtime)
        transition: NodeTransition = {
            "thread_id": update.get("conversation_id") or state.conversation_id or None,
            "order_id": state.verified_order_id or state.claimed_order_id,
            "payload": {
                "node": name,
                "turn": update.get("turn", state.turn),
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "input_digest": _digest(state),
                "outcome": _summary(update),
            },
        }
        if name != LAST_NODE:
            return {**update, "node_trail": [transition]}
        trail = [*state.node_trail, transition]
        svc = await nodes.services()
        events = [
            AuditEvent(
                EventType.NODE,
                thread_id=t["thread_id"],
                order_id=t["order_id"],
                payload=t["payload"],
            )
            for t in trail
        ]
        key = request_id_of(runtime)
        thread_id = thread_id_of(config)
        replies = update.get("messages") or []
        lines = [
            *window.new_customer_lines(state.messages),
            *(
                transcripts.Line(role="agent", text=message_text(m))
                for m in replies
                if not isinstance(m, RemoveMessage)
            ),
        ]
        audit = svc.storage.audit
        # One round trip: BEGIN, the writes and COMMIT travel together (a pipeline); the
        # commit reports any failure of the statements before it.
        async with audit.transaction(pipeline=True) as tx:
            conn = tx.conn
            if thread_id:
                # The whole transcript is kept in its table (the state keeps a window).
                await transcripts.append(conn, thread_id, lines)
            await tx.append(*events, fetch=False)
            if key and thread_id:
                # The answer to a message sent with an idempotency key is kept in the same
                # transaction as the turn's audit trail: a retry after any failure from
                # here on gets this answer, never a second run of the turn.
                answer: StoredAnswer = {
                    "reply": update.get("reply", ""),
                    "thread_id": thread_id,
                    "outcome": update.get("outcome") or {"kind": "none"},
                    "message_digest": message_digest(last_customer_text(state.messages)),
                }
                await repo.store_request_answer(conn, thread_id, key, answer)
        size = svc.settings.state_message_window
        dropped = window.removals(state.messages, len(replies), size)
        if dropped:
            update = {**update, "messages": [*dropped, *replies]}
        return {**update, "node_trail": None}

    run.__name__ = name
    return run


def build_builder(
    services: Services | ServicesProvider,
) -> StateGraph[State, Context, InputState, OutputState]:
    """The uncompiled graph, acting through ``services``.

    Pass the :class:`~graph.services.Services` themselves; an async function returning
    them (called on each node run) is for a graph compiled before they exist, as
    ``wiring.studio`` does for ``langgraph dev``.
    """
    nodes = AgentNodes(services)
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    for name, node in (
        ("understand", nodes.understand),
        ("lookup", nodes.lookup),
        ("decide", nodes.decide),
        ("refund", nodes.refund),
        ("escalate", nodes.escalate),
        ("respond", nodes.respond),
    ):
        # langgraph's overloads do not cover a (state, config, runtime) node; it injects
        # both by parameter name at run time.
        builder.add_node(name, audited(name, node, nodes))  # type: ignore[call-overload]
    builder.add_edge(START, "understand")
    builder.add_conditional_edges("understand", on_the_loop(route_turn))
    builder.add_conditional_edges("lookup", on_the_loop(route_after_lookup))
    builder.add_conditional_edges("decide", on_the_loop(route_decision))
    builder.add_conditional_edges("refund", on_the_loop(route_after_refund))
    builder.add_edge("escalate", "respond")
    builder.add_edge("respond", END)
    return builder

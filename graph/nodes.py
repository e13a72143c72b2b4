"""The graph's nodes: understand, lookup, decide, refund, escalate, respond.

The hand-off to a person (what a review ticket holds) is :mod:`graph.handoff`.

Each node reads state, acts through :class:`~graph.services.Services` and returns an
update; none mutates state. Money moves only in :meth:`AgentNodes.refund`, only for a
``refund`` decision of the policy gate for that exact order, amount and customer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from core.money import format_usdc
from graph import handoff, pending, picking, replies
from graph.context import Context
from graph.facts import (
    bare_order_id,
    gate_facts,
    last_customer_text,
    order_snapshot,
    request_id_of,
    request_key,
    thread_id_of,
)
from graph.policy import RefundRequest, decide
from graph.services import Services
from graph.state import State, Update
from graph.turn_reply import compose, not_asked_again
from graph.types import DecisionRecord, Denied, RefundAttempt, Verdict
from graph.understanding import (
    Understanding,
    UnderstandingFailed,
    clean_message,
    rules_off_the_loop,
)
from persistence import history, repo
from persistence.audit import AuditEvent, EventType
from tools.orders import lookup_order, read_decision_inputs
from tools.refunds import RefundRefused

logger = logging.getLogger(__name__)

ServicesProvider = Callable[[], Awaitable[Services]]


class AgentNodes:
    """The nodes, bound to their services, or to a way of getting them on each run."""

    def __init__(self, services: Services | ServicesProvider) -> None:
        self._services = services

    async def services(self) -> Services:
        """The services the nodes act through."""
        if isinstance(self._services, Services):
            return self._services
        return await self._services()

    # --- understand --------------------------------------------------------------

    async def understand(
        self, state: State, config: RunnableConfig, runtime: Runtime[Context]
    ) -> Update:
        """Read the latest customer message into claims and a request."""
        svc = await self.services()
        conversation = state.conversation_id or thread_id_of(config) or uuid.uuid4().hex
        turn = state.turn + 1
        text = clean_message(last_customer_text(state.messages))
        reset: Update = {
            "conversation_id": conversation,
            "turn": turn,
            "lookup_ok": None,
            "decision": None,
            "outcome": {},
            "escalation_reason": None,
            "amount_invalid": False,
            "reply": "",
        }
        if not text.strip():
            return {**reset, "intent": "empty"}

        ids = svc.settings.order_ids()
        understanding, fell_back = await self._understand(
            svc, state, ids.to_rules_form(text), conversation
        )
        if not ids.is_rules_form:
            understanding = understanding.model_copy(
                update={
                    "order_id": ids.to_merchant_form(understanding.order_id),
                    "order_ids": tuple(
                        ids.to_merchant_form(o) or o for o in understanding.order_ids
                    ),
                }
            )
        known = list(state.injection_signals)
        new_signals = [s for s in understanding.injection_signals if s not in known]
        if new_signals:
            await svc.storage.audit.record(
                AuditEvent(
                    EventType.INJECTION_SUSPECTED,
                    thread_id=conversation,
                    order_id=state.claimed_order_id,
                    customer_email=state.claimed_email,
                    payload={"signals": new_signals, "excerpt": text[:500], "turn": turn},
                )
            )

        context = runtime.context if runtime is not None else None
        trusted_email = (
            context.customer_email.strip().lower() if context and context.customer_email else None
        )
        email = trusted_email or understanding.email or state.claimed_email
        order_id = (
            understanding.order_id or bare_order_id(state, text, ids) or state.claimed_order_id
        )
        request = pending.after(state, understanding)
        if pending.about_the_first(state, understanding, text):
            request = pending.PendingRequest(declined=True)
        choice = picking.Choice()
        # "no, the phone case" to "shall I refund 5 for ORD-1001?": the no may be about
        # the order, not the refund.
        said_no = (
            request.declined
            and state.proposed_amount is not None
            and not (picking.keeps(text) and understanding.intent != "refund")
        )
        if (
            trusted_email
            and not understanding.order_ids
            and (request.requested or said_no or understanding.intent in ("refund", "status"))
        ):
            # A signed-in customer need not know the order id: their own orders are known,
            # and naming another one by what it is ("now 5 for the phone case") switches.
            async with svc.storage.pool.connection() as conn:
                mine = await repo.orders_of_customer(conn, trusted_email, limit=picking.MAX_ORDERS)
            if order_id is None:
                choice = picking.choose(text, mine)
            elif (named := picking.named_order(text, mine)) not in (None, order_id):
                choice = picking.Choice(order_id=named)
            if choice.order_id is not None:
                order_id = choice.order_id
                if said_no:
                    named_one = next((o for o in mine if o.id == choice.order_id), None)
                    request = pending.moved_to_another_order(state, named_one)
                request = pending.order_picked(request)
        still_verified = email == state.verified_email and order_id == state.verified_order_id
        intent = understanding.intent
        plain_yes = (
            understanding.affirmative
            and intent in ("other", "greeting")
            and not (understanding.email or understanding.order_id or understanding.order_ids)
        )
        if state.awaiting == "escalation" and plain_yes:
            intent = "human"  # "yes please" to "shall I pass this to a teammate?"
        language = (
            understanding.language
            if understanding.language_sure or state.turn == 0
            else state.language
        )
        topic: str | None = understanding.topic
        if topic is None and intent == "provide_info" and state.topic == "refund_status":
            topic = state.topic  # the identity the status question was waiting for
        if checking := pending.checking_on_the_first(state, request):
            topic = "refund_status"  # "no, I just wanted to check": say where it stands
        return {
            **reset,
            **request.update(),
            "intent": intent,
            "topic": topic,
            "declined": request.declined and not checking,
            "asks_again": understanding.again,
            "said_yes": understanding.affirmative,
            "language": language if language in replies.LANGUAGES else "en",
            "understood_by": "fallback" if fell_back else understanding.source,
            "amount_invalid": understanding.amount_invalid
            and understanding.intent == "refund"
            and not (request.amount or request.full or request.proposal),
            "claimed_email": email,
            "claimed_order_id": order_id,
            "verified_email": state.verified_email if still_verified else None,
            "verified_order_id": state.verified_order_id if still_verified else None,
            "order": state.order if still_verified else None,
            "ambiguous_orders": list(understanding.order_ids)
            if len(understanding.order_ids) > 1
            else choice.candidates,
            "refund_reason": understanding.reason or state.refund_reason,
            "injection_signals": known + new_signals,
            # A message that brings an email or order id is progress, whatever was asked.
            "asked_again": state.asked_again
            if (email, order_id) == (state.claimed_email, state.claimed_order_id)
            else 0,
        }

    async def _understand(
        self, svc: Services, state: State, text: str, conversation: str
    ) -> tuple[Understanding, bool]:
        """Understand with the configured understander; the rules if it fails.

        The rules run in a worker thread under a deadline, so no message holds the event
        loop (they are linear in the message; the deadline is a second wall).
        """
        try:
            understood = await svc.understander.understand(
                text, known_email=state.claimed_email, known_order_id=state.claimed_order_id
            )
            return understood, False
        except UnderstandingFailed as exc:
            await svc.storage.audit.record(
                AuditEvent(
                    EventType.LLM_FALLBACK,
                    thread_id=conversation,
                    payload={"error": str(exc)[:500], "fallback": "rules"},
                )
            )
            return await rules_off_the_loop(text), True

    # --- lookup ------------------------------------------------------------------

    async def lookup(
        self, state: State, config: RunnableConfig, runtime: Runtime[Context]
    ) -> Update:
        """Verify the claimed order belongs to the claimed email."""
        svc = await self.services()
        assert state.claimed_email and state.claimed_order_id
        found = await lookup_order(
            svc.storage.audit,
            order_id=state.claimed_order_id,
            customer_email=state.claimed_email,
            thread_id=state.conversation_id,
            failed_before=state.failed_lookups,
            source=svc.order_source,
        )
        if found is not None:
            return {
                "lookup_ok": True,
                "verified_email": found.customer_email,
                "verified_order_id": found.id,
                "order": order_snapshot(found),
            }
        failed = state.failed_lookups + 1
        update: Update = {
            "lookup_ok": False,
            "failed_lookups": failed,
            "verified_email": None,
            "verified_order_id": None,
            "order": None,
            "failed_pair": [state.claimed_email, state.claimed_order_id],
            "outcome": {
                "kind": "lookup_failed",
                "order_id": state.claimed_order_id,
                "email": state.claimed_email,
            },
        }
        if failed >= svc.limits.max_failed_lookups:
            update["escalation_reason"] = "repeated_failed_lookups"
        return update

    # --- decide ------------------------------------------------------------------

    async def decide(
        self, state: State, config: RunnableConfig, runtime: Runtime[Context]
    ) -> Update:
        """Ask the policy gate, with facts read from the database by code."""
        svc = await self.services()
        assert state.verified_email and state.verified_order_id
        order_id, email = state.verified_order_id, state.verified_email
        key = request_key(state, order_id, request_id_of(runtime))
        async with svc.storage.pool.connection() as conn:
            inputs = await read_decision_inputs(
                conn,
                request_key=key,
                order_id=order_id,
                customer_email=email,
                velocity_days=svc.settings.refund_velocity_days,
                business_timezone=svc.settings.refund_business_timezone,
            )
        previous, waiting, found = inputs.previous, inputs.waiting, inputs.facts
        amount, ask = pending.amount_to_decide(state, found.order, svc.limits)
        if ask:
            return {"amount_unclear": True, "refund_requested": True}
        request = RefundRequest(amount=amount, reason=state.refund_reason or "")
        verdict: Verdict
        if previous is None and waiting is not None:
            # A person is already deciding this order: no second decision, no new ticket.
            verdict = {
                "action": "deny",
                "amount": "0.00",
                "reasons": ["review_pending"],
                "ticket": waiting.reference,
            }
        elif previous is not None:
            # This very request already has a refund record (the turn is being re-run
            # after a crash or retry): report that refund, never decide anew.
            verdict = {
                "action": "refund",
                "amount": format_usdc(previous.amount_usdc),
                "reasons": ["already_decided"],
                "policy_version": previous.policy_version,
            }
        else:
            gate = decide(
                gate_facts(
                    found,
                    failed_lookups=state.failed_lookups,
                    injection_signals=tuple(state.injection_signals),
                ),
                request,
                svc.limits,
            )
            verdict = {
                "action": gate.action,
                "amount": format_usdc(gate.amount),
                "reasons": list(gate.reasons),
                "policy_version": gate.policy_version,
                "details": gate.details,
            }
        decision: DecisionRecord = {
            **verdict,
            "order_id": order_id,
            "customer_email": email,
            "requested_amount": state.requested_amount,
            "request_key": key,
        }
        await svc.storage.audit.record(
            AuditEvent(
                EventType.DECISION,
                actor="policy_gate",
                thread_id=state.conversation_id,
                order_id=order_id,
                customer_email=email,
                payload=decision,
            )
        )
        # The money rule: only a final amount (the customer's digits, "the rest", or an
        # amount they confirmed) is paid; anything else is stated and confirmed first.
        unconfirmed = (
            decision["action"] == "refund"
            and previous is None
            and state.requested_amount is None
            and not state.full_confirmed
        )
        repeated = (
            decision["action"] == "refund"
            and previous is None
            and found.order is not None
            and pending.refunded_before(
                state,
                order_id,
                Decimal(decision["amount"]),
                found.order.refunded_usdc,
                found.refund_amounts,
            )
        )
        unconfirmed = unconfirmed or repeated
        if unconfirmed:
            decision["needs_confirmation"] = True
            if repeated and found.order is not None:
                decision["refunded_before"] = format_usdc(found.order.refunded_usdc)
        update: Update = {
            "decision": decision,
            "last_decision": decision,
            "refund_requested": unconfirmed,  # still pending until the customer says yes
            "full_confirmed": False,
            "requested_amount": None if unconfirmed else state.requested_amount,
        }
        if found.order is not None:
            update["order"] = order_snapshot(found.order)
        if decision["action"] == "escalate":
            update["escalation_reason"] = ",".join(decision["reasons"])
        elif decision["action"] == "deny":
            denied: Denied = {"kind": "denied", "reasons": decision["reasons"]}
            if decision.get("ticket"):
                denied["ticket"] = decision["ticket"]
            update["outcome"] = denied
        return update

    # --- refund ------------------------------------------------------------------

    async def refund(
        self, state: State, config: RunnableConfig, runtime: Runtime[Context]
    ) -> Update:
        """Move the money the gate approved, exactly once, through MoltPe."""
        svc = await self.services()
        decision = state.decision
        if (
            decision is None
            or decision["action"] != "refund"
            or decision["order_id"] != state.verified_order_id
            or decision["customer_email"] != state.verified_email
            or not state.verified_order_id
            or not state.verified_email
        ):
            # Unreachable through the graph's edges; refuse rather than trust.
            raise RuntimeError("refund node reached without a matching approval")
        amount = Decimal(decision["amount"])
        try:
            outcome = await svc.refunds.refund(
                request_key=decision["request_key"],
                order_id=state.verified_order_id,
                customer_email=state.verified_email,
                amount=amount,
                reason=state.refund_reason or "customer_request",
                approved_by="policy_gate",
                policy_version=decision.get("policy_version"),
                thread_id=state.conversation_id,
            )
        except RefundRefused as exc:
            refused: RefundAttempt = {
                "turn": state.turn,
                "order_id": state.verified_order_id,
                "amount": format_usdc(amount),
                "status": "refused",
                "error_code": exc.code,
            }
            return {"refund": refused, "escalation_reason": exc.code}
        record = outcome.refund
        attempt: RefundAttempt = {
            "turn": state.turn,
            "order_id": state.verified_order_id,
            "amount": format_usdc(record.amount_usdc),
            "status": outcome.status,
            "refund_id": str(record.id),
            "tx_hash": record.tx_hash,
            "error_code": record.error_code,
            "error_reason": record.error_reason,
        }
        asked_here = [*state.refunded_here, f"{attempt['order_id']}:{attempt['amount']}"]
        if outcome.status == "confirmed":
            if (order := outcome.order) is None:  # read only when another call confirmed it
                async with svc.storage.pool.connection() as conn:
                    order = await repo.get_order(conn, state.verified_order_id)
            snapshot = order_snapshot(order) if order is not None else state.order
            return {
                "refund": attempt,
                "refunded_here": asked_here,
                "order": snapshot,
                "outcome": {
                    "kind": "refunded",
                    "amount": attempt["amount"],
                    # A confirmed refund always has MoltPe's hash (its receipt's).
                    "tx_hash": record.tx_hash or "",
                    "order_id": state.verified_order_id,
                    "refund_id": str(record.id),
                },
            }
        if outcome.policy_violation:
            reason = "refund_policy_violation"
        elif outcome.status == "failed":
            reason = "refund_failed"
        else:
            reason = "refund_outcome_unknown"
        return {"refund": attempt, "refunded_here": asked_here, "escalation_reason": reason}

    # --- escalate ----------------------------------------------------------------

    async def escalate(
        self, state: State, config: RunnableConfig, runtime: Runtime[Context]
    ) -> Update:
        """Open a review ticket with the full context. Never calls MoltPe."""
        return await handoff.escalate(await self.services(), state, runtime)

    # --- respond -----------------------------------------------------------------

    async def respond(
        self, state: State, config: RunnableConfig, runtime: Runtime[Context]
    ) -> Update:
        """Reply in the customer's language, from the reply layer filled with facts."""
        svc = await self.services()
        refunds: list[Any] = []
        asks_status = state.intent == "status" or state.topic == "refund_status"
        if asks_status and state.verified_order_id and state.verified_email:
            async with svc.storage.pool.connection() as conn:
                refunds = await history.refunds_of_order(
                    conn, state.verified_order_id, state.verified_email
                )
        reply, outcome, offer = compose(state, svc.settings, svc.limits, refunds)
        reply, outcome, offer, asked, again = not_asked_again(state, reply, outcome, offer)
        text, _ = await replies.phrase(svc.phraser, reply)
        proposed = None
        if offer == "confirm" and outcome["kind"] == "asked":
            proposed = outcome.get("amount")  # the amount a yes to this reply confirms
        return {
            "messages": [AIMessage(text)],
            "reply": text,
            "outcome": outcome,
            "awaiting": offer,
            "proposed_amount": proposed,
            "last_asked": asked,
            "asked_again": again,
        }

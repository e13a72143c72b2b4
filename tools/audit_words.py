"""A ticket's audit trail in plain words, for the people who review it.

Each audit event becomes one sentence ("Refund of 12.00 USDC approved by reviewer ana",
"Escalated: outside the 30-day window"); the graph steps of one customer message become
one line ("The agent answered message 2: read it, checked the order, applied the policy,
escalated, replied"). Each entry names the chained events it tells, by ``seq`` (an event
still waiting to be chained has none yet), so the technical
record (type, hashes, payload) stays one click away. Thresholds in the sentences are the
policy's limits as configured now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from core.limits import Limits
from core.money import format_usdc
from persistence.audit import EventType

Tone = Literal["info", "ok", "warn", "bad"]


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """One line of the trail: when, what happened in words, and which events say so."""

    ts: dt.datetime
    words: str
    tone: Tone
    seqs: tuple[int, ...]
    elsewhere: bool = False
    """It happened to the order in another conversation."""

    def to_json(self) -> dict[str, Any]:
        """The entry as the review API shows it."""
        return {
            "ts": self.ts.isoformat(),
            "words": self.words,
            "tone": self.tone,
            "seqs": list(self.seqs),
            "elsewhere": self.elsewhere,
        }


STEP_WORDS: Final = {
    "understand": "read it",
    "lookup": "checked the order",
    "decide": "applied the policy",
    "refund": "sent the refund",
    "escalate": "passed it to a person",
    "respond": "replied",
}
"""What each node of the agent's graph does, in words."""

SIGNAL_WORDS: Final = {
    "override_instructions": "overriding the agent's rules",
    "role_play": "role play",
    "fake_authority": "claimed authority",
    "split_refund": "splitting a refund",
    "redirect_payment": "paying someone else",
    "prompt_leak": "asking for the agent's instructions",
    "wallet_address": "a wallet address",
    "encoded_instructions": "encoded instructions",
}


def reason_words(code: str, limits: Limits) -> str:
    """A reason code (policy gate, refund path, escalation) as words with its threshold."""
    cap = format_usdc(limits.per_tx_cap)
    fixed = {
        "over_per_tx_cap": f"over the {cap} USDC per-refund cap",
        "over_daily_budget": (
            f"more than is left of today's {format_usdc(limits.daily_cap)} USDC refund budget"
        ),
        "outside_window": f"outside the {limits.window_days}-day window",
        "exceeds_order": "more than is left to refund on the order",
        "velocity": (
            f"{limits.velocity_max or 'several'} or more refunds for this customer "
            f"in {limits.velocity_days} days"
        ),
        "repeated_failed_lookups": (
            f"{limits.max_failed_lookups} or more failed order lookups (possible enumeration)"
        ),
        "injection_suspected": "messages that try to manipulate the agent",
        "customer_requested_human": "the customer asked for a person",
        "refund_policy_violation": "MoltPe refused the refund under its wallet policy",
        "refund_failed": "the refund failed at MoltPe",
        "refund_outcome_unknown": "MoltPe gave no definite answer about the refund",
        "already_refunded": "the order is already fully refunded",
        "invalid_amount": "the amount is not valid",
        "refund_in_progress": "another refund of the order is still settling",
        "order_not_found": "no such order for this customer",
        "within_policy": "within policy",
        "needs_review": "needs a person's judgement",
    }
    return fixed.get(code, code.replace("_", " "))


def reasons_words(codes: Iterable[str] | str | None, limits: Limits) -> str:
    """Several reason codes (a list or ``"a,b"``) as one phrase."""
    if isinstance(codes, str):
        codes = codes.split(",")
    words = [reason_words(c.strip(), limits) for c in codes or () if c and c.strip()]
    return "; ".join(words) if words else "no reason recorded"


def actor_words(actor: str | None) -> str:
    """Who did it: ``reviewer:ana`` -> ``reviewer ana``, ``policy_gate`` -> ``the policy gate``."""
    if not actor:
        return "someone unknown"
    if actor.startswith("reviewer:"):
        return f"reviewer {actor.removeprefix('reviewer:')}"
    return {
        "agent": "the agent",
        "policy_gate": "the policy gate",
        "reconciler": "the reconciler",
        "seed": "the demo data loader",
    }.get(actor, actor.replace("_", " "))


def amount(value: Any) -> str:
    """An amount from a payload for people (``"20.000000"`` -> ``"20.00"``)."""
    if value is None or value == "":
        return "?"
    try:
        return format_usdc(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def short_hash(value: Any) -> str:
    """A transaction hash shortened for a sentence (``0x1234…cdef``)."""
    text = str(value or "")
    return text if len(text) <= 14 else f"{text[:6]}…{text[-4:]}"


Describe = Callable[[Mapping[str, Any], str, Limits], tuple[str, Tone]]


def _lookup(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    if p.get("result") == "found":
        return "Order found and it belongs to this customer", "info"
    if p.get("owner_mismatch"):
        return "Order lookup failed: the order belongs to another customer", "warn"
    return "Order lookup failed: no such order for this customer", "warn"


def _decision(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    action = p.get("action")
    if action == "refund":
        return f"Policy gate allowed a refund of {amount(p.get('amount'))} USDC", "ok"
    words = reasons_words(p.get("reasons"), limits)
    if action == "deny":
        return f"Policy gate refused: {words}", "bad"
    return f"Policy gate sent it to a person: {words}", "warn"


def _refund_requested(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return (
        f"Refund of {amount(p.get('amount_usdc'))} USDC sent to MoltPe by {actor_words(actor)}",
        "info",
    )


def _refund_confirmed(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return (
        f"Refund of {amount(p.get('amount_usdc'))} USDC paid by MoltPe, approved by "
        f"{actor_words(actor)} (transaction {short_hash(p.get('tx_hash'))})",
        "ok",
    )


def _refund_refused(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    why = p.get("error_reason") or p.get("error_code") or "no reason given"
    return (
        f"MoltPe refused the refund of {amount(p.get('amount_usdc'))} USDC under its wallet "
        f"policy ({why}); no money moved",
        "bad",
    )


def _refund_failed(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return (
        f"Refund of {amount(p.get('amount_usdc'))} USDC failed at MoltPe "
        f"({p.get('error_code') or 'error'}); no money moved",
        "bad",
    )


def _refund_unknown(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return (
        f"MoltPe gave no definite answer about the refund of {amount(p.get('amount_usdc'))} "
        "USDC: it may have been paid",
        "warn",
    )


def _refund_reconciled(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    now = p.get("now")
    tone: Tone = "ok" if now == "confirmed" else "bad" if now == "failed" else "warn"
    return f"Unsettled refund checked again with MoltPe: it was {p.get('was')}, now {now}", tone


def _customer_told(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    status = p.get("status")
    tone: Tone = "ok" if status == "confirmed" else "bad" if status == "failed" else "warn"
    return f"The customer was told on the conversation that the refund is {status}", tone


def _escalation(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return f"Escalated ({p.get('ticket')}): {reasons_words(p.get('reason'), limits)}", "warn"


def _attached(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return (
        f"Another request on this order joined {p.get('ticket')}: "
        f"{reasons_words(p.get('reason'), limits)}",
        "warn",
    )


def _resolved(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    who = actor_words(actor)
    note = f' (note: "{p["note"]}")' if p.get("note") else ""
    given = p.get("refund")
    refund: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    if p.get("result") == "refused":
        return f"Approval by {who} not carried out: {p.get('message') or p.get('code')}", "bad"
    if p.get("result") == "refund_not_completed":
        return (
            f"Approval by {who}: MoltPe did not complete the refund "
            f"({refund.get('error_code') or refund.get('status')}); the ticket stays open",
            "bad",
        )
    if p.get("decision") == "approved":
        return f"Refund of {amount(refund.get('amount'))} USDC approved by {who}{note}", "ok"
    if p.get("decision") == "denied":
        return f"Request denied by {who}{note}", "bad"
    return f"Ticket {p.get('decision') or 'resolved'} by {who}{note}", "info"


def _claimed(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    if p.get("taken_from"):
        return f"Taken over by {actor_words(actor)} from {actor_words(p['taken_from'])}", "info"
    return f"Claimed by {actor_words(actor)}", "info"


def _released(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return f"Released by {actor_words(actor)} for anyone to take", "info"


def _injection(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    signals = [SIGNAL_WORDS.get(s, str(s).replace("_", " ")) for s in p.get("signals") or ()]
    return (
        "A message looks like an attempt to manipulate the agent"
        + (f": {', '.join(signals)}" if signals else ""),
        "bad",
    )


def _llm_fallback(p: Mapping[str, Any], actor: str, limits: Limits) -> tuple[str, Tone]:
    return "The language model did not answer; the offline rules read the message", "info"


DESCRIBE: Final[dict[str, Describe]] = {
    EventType.LOOKUP: _lookup,
    EventType.DECISION: _decision,
    EventType.REFUND_REQUESTED: _refund_requested,
    EventType.REFUND_CONFIRMED: _refund_confirmed,
    EventType.REFUND_POLICY_VIOLATION: _refund_refused,
    EventType.REFUND_FAILED: _refund_failed,
    EventType.REFUND_OUTCOME_UNKNOWN: _refund_unknown,
    EventType.REFUND_RECONCILED: _refund_reconciled,
    EventType.CUSTOMER_TOLD: _customer_told,
    EventType.ESCALATION: _escalation,
    EventType.ESCALATION_ATTACHED: _attached,
    EventType.TICKET_RESOLVED: _resolved,
    EventType.TICKET_CLAIMED: _claimed,
    EventType.TICKET_RELEASED: _released,
    EventType.INJECTION_SUSPECTED: _injection,
    EventType.LLM_FALLBACK: _llm_fallback,
}


def describe_event(event: Mapping[str, Any], limits: Limits) -> tuple[str, Tone]:
    """One event (an audit row) in words, with its tone."""
    kind = str(event.get("event_type"))
    payload = event.get("payload")
    payload = payload if isinstance(payload, Mapping) else {}
    describe = DESCRIBE.get(kind)
    if describe is None:
        return f"{kind.replace('_', ' ').capitalize()} by {actor_words(event.get('actor'))}", "info"
    return describe(payload, str(event.get("actor") or ""), limits)


def steps_words(steps: Sequence[Mapping[str, Any]]) -> str:
    """The graph steps of one customer message as one sentence."""
    payload = steps[0].get("payload") or {}
    turn = payload.get("turn") if isinstance(payload, Mapping) else None
    names = [
        (s.get("payload") or {}).get("node") if isinstance(s.get("payload"), Mapping) else None
        for s in steps
    ]
    words = [STEP_WORDS.get(str(n), str(n).replace("_", " ")) for n in names if n]
    which = f"message {turn}" if isinstance(turn, int) else "a message"
    return f"The agent answered {which}: {', '.join(words)}"


def plain_trail(
    events: Sequence[Mapping[str, Any]], limits: Limits, *, thread_id: str | None = None
) -> list[TrailEntry]:
    """The events (oldest first) as lines in words; one line per customer message's steps.

    With ``thread_id`` (the ticket's conversation), lines about events of other
    conversations are marked ``elsewhere``.
    """
    entries: list[TrailEntry] = []
    steps: list[Mapping[str, Any]] = []

    def elsewhere(event: Mapping[str, Any]) -> bool:
        return thread_id is not None and event.get("thread_id") != thread_id

    def flush() -> None:
        if steps:
            entries.append(
                TrailEntry(
                    ts=steps[0]["ts"],
                    words=steps_words(steps),
                    tone="info",
                    seqs=tuple(int(s["seq"]) for s in steps if s["seq"] is not None),
                    elsewhere=elsewhere(steps[0]),
                )
            )
            steps.clear()

    for event in events:
        if event.get("event_type") == EventType.NODE:
            if steps and not same_turn(steps[-1], event):
                flush()
            steps.append(event)
            continue
        flush()
        words, tone = describe_event(event, limits)
        entries.append(
            TrailEntry(
                ts=event["ts"],
                words=words,
                tone=tone,
                seqs=(int(event["seq"]),) if event["seq"] is not None else (),
                elsewhere=elsewhere(event),
            )
        )
    flush()
    return entries


def same_turn(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two graph-step events belong to the same customer message."""
    pa, pb = a.get("payload") or {}, b.get("payload") or {}
    return (
        a.get("thread_id") == b.get("thread_id")
        and isinstance(pa, Mapping)
        and isinstance(pb, Mapping)
        and pa.get("turn") == pb.get("turn")
        and pb.get("node") != "understand"
    )

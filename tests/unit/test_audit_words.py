"""The audit trail in plain words, and the budget the console warns with."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from core.limits import Limits
from graph.policy import Facts, RefundRequest, decide
from tools.audit_words import describe_event, plain_trail, reason_words
from tools.review import Budget

LIMITS = Limits(per_tx_cap=Decimal("50"), daily_cap=Decimal("100"), window_days=30)
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def event(seq: int, event_type: str, payload: dict[str, Any], **row: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": NOW + dt.timedelta(seconds=seq),
        "event_type": event_type,
        "actor": row.pop("actor", "agent"),
        "thread_id": row.pop("thread_id", "t1"),
        "payload": payload,
        **row,
    }


def node(seq: int, name: str, turn: int, thread_id: str = "t1") -> dict[str, Any]:
    return event(seq, "node", {"node": name, "turn": turn}, thread_id=thread_id)


@pytest.mark.parametrize("spent", ["0", "20", "99.99", "100", "130"])
def test_the_remaining_budget_is_the_policy_gates(spent: str) -> None:
    budget = Budget(
        per_refund_cap=LIMITS.per_tx_cap, daily_cap=LIMITS.daily_cap, spent_today=Decimal(spent)
    )
    facts = Facts(
        order_found=True,
        owned_by_customer=True,
        order_amount=Decimal("40"),
        order_created_at=NOW,
        now=NOW,
        spent_today=Decimal(spent),
    )
    gate = decide(facts, RefundRequest(amount=Decimal("10")), LIMITS)
    assert budget.to_json()["remaining_today"] == gate.details["remaining_daily_budget"]
    assert budget.remaining_today >= 0


def test_reasons_carry_the_configured_thresholds() -> None:
    limits = Limits(per_tx_cap=Decimal("25.5"), daily_cap=Decimal("300"), window_days=14)
    assert reason_words("outside_window", limits) == "outside the 14-day window"
    assert reason_words("over_per_tx_cap", limits) == "over the 25.50 USDC per-refund cap"
    assert "today's 300.00 USDC refund budget" in reason_words("over_daily_budget", limits)
    assert reason_words("something_new", limits) == "something new"


def test_a_turns_steps_are_one_line_between_the_events_they_caused() -> None:
    events = [
        node(1, "understand", 1),
        node(2, "respond", 1),
        event(3, "lookup", {"result": "found"}, order_id="ORD-1"),
        event(
            4,
            "decision",
            {"action": "escalate", "reasons": ["outside_window"]},
            actor="policy_gate",
        ),
        event(5, "escalation", {"ticket": "RT-000001", "reason": "outside_window"}),
        node(6, "understand", 2),
        node(7, "lookup", 2),
        node(8, "decide", 2),
        node(9, "escalate", 2),
        node(10, "respond", 2),
        event(
            11,
            "refund_confirmed",
            {"amount_usdc": "12.000000", "tx_hash": "0x" + "ab" * 32},
            actor="policy_gate",
            thread_id="t2",
        ),
    ]
    trail = plain_trail(events, LIMITS, thread_id="t1")
    assert [(line.words, line.seqs) for line in trail] == [
        ("The agent answered message 1: read it, replied", (1, 2)),
        ("Order found and it belongs to this customer", (3,)),
        ("Policy gate sent it to a person: outside the 30-day window", (4,)),
        ("Escalated (RT-000001): outside the 30-day window", (5,)),
        (
            "The agent answered message 2: read it, checked the order, applied the policy, "
            "passed it to a person, replied",
            (6, 7, 8, 9, 10),
        ),
        (
            "Refund of 12.00 USDC paid by MoltPe, approved by the policy gate "
            "(transaction 0xabab…abab)",
            (11,),
        ),
    ]
    assert [line.elsewhere for line in trail] == [False] * 5 + [True]
    assert [line.tone for line in trail] == ["info", "info", "warn", "warn", "info", "ok"]
    assert trail[0].ts == events[0]["ts"]


@pytest.mark.parametrize(
    ("payload", "actor", "words", "tone"),
    [
        (
            {"decision": "approved", "refund": {"amount": "12.00"}, "note": "ok"},
            "reviewer:ana",
            'Refund of 12.00 USDC approved by reviewer ana (note: "ok")',
            "ok",
        ),
        (
            {"decision": "denied", "note": "too old"},
            "reviewer:ana",
            'Request denied by reviewer ana (note: "too old")',
            "bad",
        ),
        (
            {"result": "refused", "code": "exceeds_order", "message": "only 30.00 USDC is left"},
            "reviewer:ana",
            "Approval by reviewer ana not carried out: only 30.00 USDC is left",
            "bad",
        ),
        (
            {"result": "refund_not_completed", "refund": {"error_code": "POLICY_VIOLATION"}},
            "reviewer:ana",
            "Approval by reviewer ana: MoltPe did not complete the refund (POLICY_VIOLATION); "
            "the ticket stays open",
            "bad",
        ),
    ],
)
def test_resolutions_in_words(payload: dict[str, Any], actor: str, words: str, tone: str) -> None:
    assert describe_event(event(1, "ticket_resolved", payload, actor=actor), LIMITS) == (
        words,
        tone,
    )


def test_every_other_kind_reads_as_a_sentence() -> None:
    cases = {
        "lookup": ({"result": "not_found", "owner_mismatch": True}, "belongs to another"),
        "decision": ({"action": "deny", "reasons": ["already_refunded"]}, "Policy gate refused"),
        "refund_requested": ({"amount_usdc": "5"}, "Refund of 5.00 USDC sent to MoltPe"),
        "refund_policy_violation": ({"amount_usdc": "99", "error_reason": "per_tx_cap"}, "99.00"),
        "refund_failed": ({"amount_usdc": "5", "error_code": "PAYMENT_NOT_FOUND"}, "failed"),
        "refund_outcome_unknown": ({"amount_usdc": "5"}, "may have been paid"),
        "refund_reconciled": ({"was": "unknown", "now": "confirmed"}, "now confirmed"),
        "customer_told": ({"status": "confirmed"}, "customer was told"),
        "escalation_attached": ({"ticket": "RT-000003", "reason": "velocity"}, "RT-000003"),
        "ticket_claimed": ({"taken_from": "reviewer:dana"}, "from reviewer dana"),
        "ticket_released": ({}, "Released by"),
        "injection_suspected": ({"signals": ["split_refund"]}, "splitting a refund"),
        "llm_fallback": ({"error": "timeout"}, "offline rules"),
        "orders_imported": ({}, "Orders imported by the agent"),
    }
    for kind, (payload, expected) in cases.items():
        words, _ = describe_event(event(1, kind, payload), LIMITS)
        assert expected in words, (kind, words)

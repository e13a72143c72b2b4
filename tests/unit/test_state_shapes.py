"""The state's dict shapes: in step with the state, and served by the API as stored."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any, get_args, get_type_hints

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.limits import Reason
from evals.scenario import OutcomeKind as ScenarioOutcomeKind
from graph import types
from graph.pending import proposal_of, reading_of
from graph.state import State, Update
from graph.understanding import AmountReading
from server import schemas


def test_a_node_update_names_exactly_the_state_fields() -> None:
    assert set(Update.__annotations__) == {f.name for f in dataclasses.fields(State)}


def test_every_outcome_kind_has_one_shape() -> None:
    kinds = [get_args(get_type_hints(member)["kind"])[0] for member in get_args(types.Outcome)]
    assert sorted(kinds) == sorted(get_args(types.OutcomeKind))
    assert set(get_args(ScenarioOutcomeKind)) <= set(kinds)


@pytest.mark.parametrize(
    "reading",
    [
        AmountReading(kind="full"),
        AmountReading(kind="exact", value=Decimal("12.50"), why_confirm="correction"),
        AmountReading(kind="fraction", ratio=Decimal("0.5"), why_confirm="fraction"),
    ],
)
def test_a_proposal_is_the_reading_as_json(reading: AmountReading) -> None:
    proposal = proposal_of(reading)
    assert list(proposal) == list(types.Proposal.__annotations__)
    assert reading_of(proposal) == reading


# Each shape as the code builds it, keys in the order it writes them.
OUTCOMES: list[dict[str, Any]] = [
    {"kind": "none"},
    {"kind": "asked", "for": ["email", "order_id"]},
    {"kind": "asked", "for": ["confirmation"], "order_id": "ORD-1001", "amount": "12.00"},
    {"kind": "answered", "topic": "refund_status"},
    {"kind": "lookup_failed", "order_id": "ORD-9999", "email": "frank@example.com"},
    {"kind": "denied", "reasons": ["review_pending"], "ticket": "RT-000001"},
    {"kind": "escalated", "ticket": "RT-000002", "reasons": ["over_per_tx_cap"]},
    {
        "kind": "refunded",
        "amount": "20.00",
        "tx_hash": "0x" + "ab" * 32,
        "order_id": "ORD-1001",
        "refund_id": "5b8f7f1e-0000-4000-8000-000000000000",
    },
    {
        "kind": "review_approved",
        "ticket": "RT-000003",
        "amount": "5.00",
        "tx_hash": "0x" + "cd" * 32,
        "order_id": "ORD-1002",
    },
    {"kind": "review_denied", "ticket": "RT-000004"},
]
REFUNDS: list[dict[str, Any] | None] = [
    None,
    {
        "turn": 3,
        "order_id": "ORD-1001",
        "amount": "20.00",
        "status": "refused",
        "error_code": Reason.OVER_DAILY_BUDGET,
    },
    {
        "turn": 3,
        "order_id": "ORD-1001",
        "amount": "20.00",
        "status": "failed",
        "refund_id": "5b8f7f1e-0000-4000-8000-000000000000",
        "tx_hash": None,
        "error_code": "POLICY_VIOLATION",
        "error_reason": "über dem Limit",
    },
    {
        "status": "confirmed",
        "amount": "5.00",
        "tx_hash": "0x" + "cd" * 32,
        "error_code": None,
        "error_reason": None,
        "order_id": "ORD-1002",
        "refund_id": "5b8f7f1e-0000-4000-8000-000000000001",
        "turn": -1,
    },
]


def serving(body: dict[str, Any]) -> TestClient:
    """An app answering ``body`` through the API's response models, as the routes do."""
    app = FastAPI()

    @app.get("/turn", response_model=schemas.TurnResult)
    def turn() -> schemas.TurnResult:
        return schemas.TurnResult(reply="ok", thread_id="t1", outcome=body["outcome"])

    @app.get("/conversation", response_model=schemas.ConversationView)
    def conversation() -> schemas.ConversationView:
        return schemas.ConversationView(
            thread_id="t1",
            messages=[],
            outcome=body["outcome"],
            ticket=body["ticket"],
            refund=body["refund"],
        )

    return TestClient(app)


def as_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("outcome", OUTCOMES, ids=[str(o["kind"]) for o in OUTCOMES])
@pytest.mark.parametrize("refund", REFUNDS)
def test_the_api_serves_the_state_byte_for_byte(
    outcome: dict[str, Any], refund: dict[str, Any] | None
) -> None:
    ticket = {"id": 4, "reference": "RT-000004", "reasons": ["velocity"], "status": "denied"}
    client = serving({"outcome": outcome, "ticket": ticket, "refund": refund})
    turn = client.get("/turn")
    assert turn.content == as_json({"reply": "ok", "thread_id": "t1", "outcome": outcome})
    view = client.get("/conversation")
    expected = {
        "thread_id": "t1",
        "messages": [],
        "outcome": outcome,
        "ticket": ticket,
        "refund": refund,
    }
    assert view.content == as_json(expected)


def test_a_dict_of_another_shape_is_still_served_unchanged() -> None:
    older = {"kind": "asked", "for": ["confirmation"], "offered": "confirm_full"}
    client = serving({"outcome": older, "ticket": None, "refund": None})
    with pytest.warns(UserWarning, match="serializ"):
        turn = client.get("/turn")
    assert turn.content == as_json({"reply": "ok", "thread_id": "t1", "outcome": older})


def test_the_openapi_document_shows_each_outcome() -> None:
    app = FastAPI()

    @app.get("/turn", response_model=schemas.TurnResult)
    def turn() -> None:  # pragma: no cover - only its schema is read
        return None

    components = app.openapi()["components"]["schemas"]
    outcome = components["TurnResult"]["properties"]["outcome"]
    shown = {ref["$ref"].rsplit("/", 1)[1] for ref in outcome["anyOf"]}
    assert shown == {member.__name__ for member in get_args(types.Outcome)}
    assert components["Asked"]["required"] == ["kind", "for"]

from __future__ import annotations

from pathlib import Path

import pytest

from graph.graph import (
    route_after_lookup,
    route_after_refund,
    route_decision,
    route_turn,
)
from graph.state import State
from wiring.studio import builder, graph

SNAPSHOT = Path(__file__).with_name("graph_shape.mmd")


def test_graph_shape_matches_the_snapshot() -> None:
    """Any change to the flow shows up here; update the .mmd file in the same change."""
    assert graph.get_graph().draw_mermaid() == SNAPSHOT.read_text()


def test_builder_is_exported_uncompiled() -> None:
    assert set(builder.nodes) == {"understand", "lookup", "decide", "refund", "escalate", "respond"}


def test_importing_the_graph_connects_to_nothing() -> None:
    from wiring import services

    assert services._default is None


@pytest.mark.parametrize(
    ("fields", "route"),
    [
        ({"intent": "empty"}, "respond"),
        ({"intent": "human"}, "escalate"),
        ({"intent": "refund", "amount_invalid": True}, "respond"),
        ({"intent": "refund", "claimed_email": "a@b.co"}, "respond"),
        ({"intent": "refund", "claimed_email": "a@b.co", "claimed_order_id": "ORD-1"}, "lookup"),
        (
            {
                "intent": "refund",
                "claimed_email": "a@b.co",
                "claimed_order_id": "ORD-1",
                "verified_order_id": "ORD-1",
                "refund_requested": True,
            },
            "decide",
        ),
    ],
)
def test_route_turn(fields: dict[str, object], route: str) -> None:
    assert route_turn(State(**fields)) == route  # type: ignore[arg-type]


def test_routers_raise_on_the_unexpected() -> None:
    with pytest.raises(ValueError, match="unknown decision"):
        route_decision(State(decision={"action": "pay_attacker"}))
    with pytest.raises(ValueError, match="without a result"):
        route_after_lookup(State(lookup_ok=None))
    assert route_after_refund(State(refund={"status": "unknown"})) == "escalate"
    assert route_after_refund(State(refund=None)) == "escalate"

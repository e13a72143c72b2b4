"""Picking a signed-in customer's order by what it is (graph/picking.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from graph.picking import choose
from persistence.models import Order


def order(order_id: str, description: str) -> Order:
    return Order(
        id=order_id,
        customer_email="kim@example.com",
        payment_id=f"pay-{order_id}",
        payer_address="0x" + "1" * 40,
        amount_usdc=Decimal("25"),
        refunded_usdc=Decimal("0"),
        currency="USDC",
        network="polygon",
        description=description,
        created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        refund_status="none",
    )


MOUSE = order("ORD-1", "Gaming-Maus RGB")
PAD = order("ORD-2", "Mauspad XXL")
CHARGER = order("ORD-3", "Fast charger 30W")
COVER = order("ORD-4", "Phone cover, black")


@pytest.mark.parametrize(
    ("text", "orders", "meant"),
    [
        ("die gaming maus, nicht das mauspad", [MOUSE, PAD], "ORD-1"),
        ("charger wala, cover nahi", [CHARGER, COVER], "ORD-3"),
        ("the cover please, not the charger", [CHARGER, COVER], "ORD-4"),
        ("refund please", [CHARGER], "ORD-3"),
    ],
)
def test_the_order_named_and_not_negated_is_picked(
    text: str, orders: list[Order], meant: str
) -> None:
    assert choose(text, orders).order_id == meant


@pytest.mark.parametrize(
    "text", ["refund please", "die gaming maus und das mauspad", "nicht das mauspad"]
)
def test_no_clear_pick_asks_between_the_customers_orders(text: str) -> None:
    choice = choose(text, [MOUSE, PAD, CHARGER])
    assert choice.order_id is None
    assert choice.candidates == ["ORD-1", "ORD-2", "ORD-3"]


def test_no_orders_picks_nothing_and_asks_nothing() -> None:
    choice = choose("the gaming mouse", [])
    assert choice.order_id is None and choice.candidates == []

"""A merchant's order-id format (ORDER_ID_FORMAT): parsed, read loosely, written canonically."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from core.order_ids import OrderIdFormat, OrderIdFormatError, order_id_format
from core.settings import Settings
from graph.understanding import understand_with_rules

SHOP = "SO-####-#####"
AMAZON = "###-#######-#######"


def read(template: str, message: str) -> str | None:
    """What the agent reads as the order id in ``message`` (as the understand node does)."""
    ids = order_id_format(template)
    return ids.to_merchant_form(understand_with_rules(ids.to_rules_form(message)).order_id)


@pytest.mark.parametrize(
    "message",
    [
        "refund SO-2024-00042 please",
        "refund so 2024 00042 please",
        "my order is SO202400042",
        "order so-2024/00042, it broke",
        "order number 2024-00042",
        "hola, el pedido 2024 00042 llegó roto",
    ],
)
def test_a_two_group_format_is_read_however_it_is_written(message: str) -> None:
    assert read(SHOP, message) == "SO-2024-00042"


def test_long_ids_without_letters_are_read() -> None:
    assert read(AMAZON, "order 112-1234567-1234567 arrived broken") == "112-1234567-1234567"
    assert read(AMAZON, "it's 112 1234567 1234567, refund 20") == "112-1234567-1234567"
    # The amount beside it is still the amount, not a piece of the id.
    got = understand_with_rules(
        order_id_format(AMAZON).to_rules_form("112-1234567-1234567 refund 20 USDC")
    )
    assert str(got.amount) == "20.000000"


def test_numbers_of_another_shape_are_not_taken_for_an_id() -> None:
    assert read(SHOP, "refund 20 USDC, delivered 12-05") is None
    assert read(SHOP, "order 2024-0004, refund 20") != "SO-2024-00042"


@pytest.mark.parametrize(
    ("template", "message", "expected"),
    [
        ("ORD-#{3,10}", "refund ord 1001", "ORD-1001"),
        ("SO-#{3,10}", "refund so 12345", "SO-12345"),
        ("SO-#{3,10}", "refund order number 12345", "SO-12345"),
        (r"\##{4,8}", "order #1001 broke", "#1001"),
        (r"\##{4,8}", "order 1001 broke", "#1001"),
    ],
)
def test_one_group_formats(template: str, message: str, expected: str) -> None:
    assert read(template, message) == expected


def test_a_lone_number_is_not_an_order_of_a_letterless_one_group_format() -> None:
    assert order_id_format(r"\##{4,8}").to_rules_form("I paid 1001 dollars") == (
        "I paid 1001 dollars"
    )


@pytest.mark.parametrize(
    ("template", "digits", "expected"),
    [
        (SHOP, "202400042", "SO-2024-00042"),
        (SHOP, "20240004", None),
        ("ORD-#{3,10}", "12", None),
        ("ORD-#{3,10}", "1234567890", "ORD-1234567890"),
        ("INV/##/#{3,6}", "2412345", "INV/24/12345"),
        ("so-#{3,10}", "1234", "SO-1234"),
    ],
)
def test_canonical_form(template: str, digits: str, expected: str | None) -> None:
    assert order_id_format(template).canonical(digits) == expected


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_id_of_a_format_reads_back_to_itself(digits: str) -> None:
    fmt = order_id_format(SHOP)
    canonical = fmt.canonical(digits)
    assert canonical is not None
    assert read(SHOP, f"please refund {canonical}") == canonical
    assert read(SHOP, f"please refund {canonical.lower().replace('-', ' ')}") == canonical


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("", "1 to 40 characters"),
        ("SO-", "needs digits"),
        ("SO-#{3,30}", "1 to 20 digits"),
        ("SO-#{5,3}", "the smaller first"),
        ("S O-###", "position 2"),
        ("#{2,5}-#{3,4}", "at most one digit group"),
        ("##", "3 to 20 digits"),
    ],
)
def test_a_bad_template_is_refused_with_the_reason(template: str, complaint: str) -> None:
    with pytest.raises(OrderIdFormatError, match=complaint):
        OrderIdFormat.parse(template)
    if template:
        with pytest.raises(ValidationError, match=complaint):
            Settings(order_id_format=template)


def test_settings_choose_the_format() -> None:
    assert Settings().order_ids().example() == "ORD-1234"
    assert Settings(order_id_prefix="SO-").order_ids().example() == "SO-1234"
    assert Settings(order_id_prefix="SO#").order_ids().example() == "SO#1234"
    shop = Settings(order_id_prefix="XX-", order_id_format=SHOP).order_ids()
    assert shop.example() == "SO-1234-56789"
    assert Settings(order_id_format="  ").order_id_format is None

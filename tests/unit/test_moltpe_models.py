"""Pure tests of the MoltPe client's models and error types (no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from tools.moltpe import (
    AgentNotFound,
    AgentWallet,
    APIError,
    BadRequest,
    Conflict,
    InsufficientFunds,
    InvalidAmount,
    MoltPeError,
    NotFound,
    OutcomeUnknown,
    PaymentNotFound,
    PolicyViolation,
    RefundReceipt,
    SpendingPolicy,
    Unauthorized,
    Unavailable,
)
from tools.moltpe._exceptions import error_body_fields

# The guide's examples, verbatim.
GUIDE_AGENT = {
    "agent_id": "ag_01JMX2D4E6F8G1H3J5K7M9N0PQ",
    "wallet_address": "0xB5a7C9e1F3b5A7c9E1f3B5a7C9e1F3b5A7c9E1f3",
    "network": "polygon",
}
GUIDE_RECEIPT = {
    "refund_id": "ref_01JMX5F8H1K3M5N7P9Q1R3S5T7",
    "payment_id": "pay_01JMX1A2B3C4D5E6F7G8H9J0KL",
    "amount": "24.99",
    "token": "USDC",
    "tx_hash": "0xA3b5C7e9F1d3B5a7C9e1F3b5A7c9E1f3B5a7C9e1F3b5A7c9E1f3B5a7C9e1F3b5",
    "status": "confirmed",
    "reason": "quality_issue",
}


def test_guide_agent_parses() -> None:
    agent = AgentWallet.model_validate(GUIDE_AGENT)
    assert agent.agent_id == "ag_01JMX2D4E6F8G1H3J5K7M9N0PQ"
    assert agent.network == "polygon"


def test_guide_receipt_parses_amount_as_decimal() -> None:
    receipt = RefundReceipt.model_validate(GUIDE_RECEIPT)
    assert receipt.amount == Decimal("24.99")
    assert isinstance(receipt.amount, Decimal)
    assert receipt.amount.as_tuple().exponent == -6
    assert receipt.confirmed
    assert receipt.token == "USDC"


def test_models_are_frozen() -> None:
    receipt = RefundReceipt.model_validate(GUIDE_RECEIPT)
    with pytest.raises(ValidationError):
        receipt.amount = Decimal("1")  # type: ignore[misc]


def test_unknown_fields_are_ignored() -> None:
    receipt = RefundReceipt.model_validate({**GUIDE_RECEIPT, "chain_fee": "0.01"})
    assert not hasattr(receipt, "chain_fee")


@pytest.mark.parametrize(
    "amount",
    [24.99, "-1", "0", "1.0000001", "NaN", "abc", None, True],
    ids=["float", "negative", "zero", "7-places", "nan", "text", "null", "bool"],
)
def test_receipt_refuses_bad_amounts(amount: object) -> None:
    with pytest.raises(ValidationError):
        RefundReceipt.model_validate({**GUIDE_RECEIPT, "amount": amount})


@pytest.mark.parametrize("tx_hash", ["", "0x1234", "A3b5" * 16, "0x" + "g" * 64])
def test_receipt_refuses_bad_tx_hash(tx_hash: str) -> None:
    with pytest.raises(ValidationError):
        RefundReceipt.model_validate({**GUIDE_RECEIPT, "tx_hash": tx_hash})


@pytest.mark.parametrize("address", ["0x123", "B5a7C9e1F3b5A7c9E1f3B5a7C9e1F3b5A7c9E1f3aa", ""])
def test_agent_refuses_bad_address(address: str) -> None:
    with pytest.raises(ValidationError):
        AgentWallet.model_validate({**GUIDE_AGENT, "wallet_address": address})


def test_missing_receipt_field_is_invalid() -> None:
    body = dict(GUIDE_RECEIPT)
    del body["tx_hash"]
    with pytest.raises(ValidationError):
        RefundReceipt.model_validate(body)


def test_policy_parses_caps_and_allows_zero() -> None:
    policy = SpendingPolicy.model_validate(
        {"agent_id": "ag_x", "daily_cap": "100.00", "per_tx_cap": "0", "refund_only": True}
    )
    assert policy.daily_cap == Decimal("100")
    assert policy.per_tx_cap == Decimal("0")
    with pytest.raises(ValidationError):
        SpendingPolicy.model_validate(
            {"agent_id": "ag_x", "daily_cap": 100.0, "per_tx_cap": "5", "refund_only": True}
        )


def test_error_tree() -> None:
    for cls in (
        BadRequest,
        Unauthorized,
        PolicyViolation,
        InsufficientFunds,
        NotFound,
        Conflict,
    ):
        assert issubclass(cls, APIError)
    assert issubclass(PaymentNotFound, NotFound)
    assert issubclass(AgentNotFound, NotFound)
    for base in (APIError, Unavailable, OutcomeUnknown):
        assert issubclass(base, MoltPeError)
    assert not issubclass(OutcomeUnknown, Unavailable)
    assert not issubclass(Unavailable, OutcomeUnknown)
    assert issubclass(InvalidAmount, ValueError)


def test_api_error_text() -> None:
    error = PolicyViolation(
        "too big", status_code=403, code="POLICY_VIOLATION", reason="per_tx_cap"
    )
    assert str(error) == "HTTP 403 POLICY_VIOLATION reason=per_tx_cap: too big"
    assert error.reason == "per_tx_cap"
    assert error.message == "too big"


def test_outcome_unknown_carries_the_key() -> None:
    error = OutcomeUnknown("lost", attempts=2, last_status=502, idempotency_key="k")
    assert (error.attempts, error.last_status, error.idempotency_key) == (2, 502, "k")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"error": {"code": "POLICY_VIOLATION", "reason": "daily_cap", "message": "m"}},
            ("POLICY_VIOLATION", "daily_cap", "m"),
        ),
        ({"error": {"code": "X"}}, ("X", None, None)),
        ({"error": "flat string"}, (None, None, None)),
        ({"error": {"code": 5, "message": ""}}, (None, None, None)),
        (["not", "a", "dict"], (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_error_body_fields(payload: object, expected: tuple[object, ...]) -> None:
    assert error_body_fields(payload) == expected

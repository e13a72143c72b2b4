"""What MoltPe answers, as frozen pydantic models.

Amounts are parsed with :func:`core.money.parse_usdc` into ``Decimal`` with six
places; a JSON number (a binary float) where an amount belongs fails validation.
Fields MoltPe may add later are ignored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from core.money import parse_usdc

__all__ = ["AgentWallet", "RefundReceipt", "SpendingPolicy"]

WALLET_ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
TX_HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"


def _amount(value: Any) -> Decimal:
    return parse_usdc(value)


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("amount must be greater than zero")
    return value


Amount = Annotated[Decimal, BeforeValidator(_amount)]
"""A non-negative USDC amount with six places, parsed from a decimal string."""

PositiveAmount = Annotated[Decimal, BeforeValidator(_amount), AfterValidator(_positive)]
"""A USDC amount greater than zero."""

Text = Annotated[str, Field(min_length=1, max_length=500)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)


class AgentWallet(_Model):
    """A MoltPe agent and its wallet, as ``POST /v1/agents/create`` returns it."""

    agent_id: Text
    """MoltPe's id of the agent, e.g. ``ag_01JMX2D4E6F8G1H3J5K7M9N0PQ``."""
    wallet_address: Annotated[str, Field(pattern=WALLET_ADDRESS_PATTERN)]
    """The wallet's on-chain address, ``0x`` and 40 hex digits."""
    network: Text
    """The chain the wallet lives on, e.g. ``polygon``."""


class SpendingPolicy(_Model):
    """The server-side spending rules of one agent."""

    agent_id: Text
    """The agent the policy belongs to."""
    daily_cap: Amount
    """Most USDC the agent may send per UTC day."""
    per_tx_cap: Amount
    """Most USDC in one transaction."""
    refund_only: bool
    """When true, money leaves only as refunds to the original payer."""


class RefundReceipt(_Model):
    """A refund MoltPe executed, as ``POST /v1/payments/refund`` returns it."""

    refund_id: Text
    """MoltPe's id of the refund, e.g. ``ref_01JMX5F8H1K3M5N7P9Q1R3S5T7``."""
    payment_id: Text
    """The original payment that was refunded."""
    amount: PositiveAmount
    """The refunded amount."""
    token: Text
    """The token moved, ``"USDC"``."""
    tx_hash: Annotated[str, Field(pattern=TX_HASH_PATTERN)]
    """The on-chain transaction hash, ``0x`` and 64 hex digits."""
    status: Text
    """``"confirmed"`` when settled; other values are passed through as sent."""
    reason: str
    """The reason given with the request."""

    @property
    def confirmed(self) -> bool:
        """True when MoltPe reports the refund as confirmed on chain."""
        return self.status == "confirmed"

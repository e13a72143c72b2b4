"""The MoltPe agent-wallet API: an async client with typed errors and models.

Usage::

    async with MoltPeClient(base_url, api_key) as moltpe:
        receipt = await moltpe.refund(
            agent_id=agent_id,
            payment_id="pay_...",
            amount=Decimal("24.99"),
            reason="quality_issue",
            idempotency_key=intent_key,
        )

See :mod:`tools.moltpe._exceptions` for the error tree and what ``OutcomeUnknown``
versus ``Unavailable`` promise.
"""

from core.money import InvalidAmount
from tools.moltpe._client import MoltPeClient
from tools.moltpe._exceptions import (
    AgentNotFound,
    APIError,
    BadRequest,
    Conflict,
    InsufficientFunds,
    InvalidResponse,
    MoltPeError,
    NotFound,
    OutcomeUnknown,
    PaymentNotFound,
    PolicyViolation,
    Unauthorized,
    Unavailable,
)
from tools.moltpe._models import AgentWallet, RefundReceipt, SpendingPolicy

__all__ = [
    "APIError",
    "AgentNotFound",
    "AgentWallet",
    "BadRequest",
    "Conflict",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidResponse",
    "MoltPeClient",
    "MoltPeError",
    "NotFound",
    "OutcomeUnknown",
    "PaymentNotFound",
    "PolicyViolation",
    "RefundReceipt",
    "SpendingPolicy",
    "Unauthorized",
    "Unavailable",
]

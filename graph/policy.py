"""The policy gate: a pure function that decides whether and how much to refund.

No I/O, no clock, no model. Facts are gathered by code from the database
(:mod:`tools.orders`); the request comes from understanding the customer and is
treated as untrusted. Only :func:`decide` returning ``action == "refund"`` lets the
refund node move money, and only the amount it returns.

Rules, each a named reason code (thresholds from settings):

==========================  =========  ================================================
reason                      action     when
==========================  =========  ================================================
``order_not_found``         deny       no such order, or not owned by the verified email
``already_refunded``        deny       nothing left to refund on the order
``invalid_amount``          deny       a requested amount that is zero, negative or not
                                       money (NaN, infinite, more than 6 decimal places)
``refund_in_progress``      deny       another refund of the order is not settled yet
``outside_window``          escalate   order older than the refund window
``exceeds_order``           escalate   more than the order's unrefunded amount
``over_per_tx_cap``         escalate   more than the per-transaction cap
``over_daily_budget``       escalate   more than what is left of today's budget
``velocity``                escalate   too many refunds for this customer recently
``repeated_failed_lookups`` escalate   enumeration: many failed lookups in the chat
``injection_suspected``     escalate   the conversation carries injection signals
==========================  =========  ================================================

Deny wins over escalate; escalate wins over refund. All applicable reasons are kept so
a reviewer sees the whole picture.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from core.limits import Limits, Reason, order_age_days, within_window
from core.money import USDC_PLACES, ZERO, format_usdc

__all__ = [
    "POLICY_VERSION",
    "Action",
    "Decision",
    "Facts",
    "Limits",
    "Reason",
    "RefundRequest",
    "decide",
    "is_usdc",
    "order_age_days",
]

POLICY_VERSION: Final = "2026-11-24.1"

Action = Literal["refund", "escalate", "deny"]


DENY_REASONS: Final = frozenset(
    {
        Reason.ORDER_NOT_FOUND,
        Reason.ALREADY_REFUNDED,
        Reason.INVALID_AMOUNT,
        Reason.REFUND_IN_PROGRESS,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What code found in the database; never what the model said."""

    order_found: bool
    owned_by_customer: bool
    order_amount: Decimal = ZERO
    refunded_amount: Decimal = ZERO
    order_created_at: dt.datetime | None = None
    now: dt.datetime
    refund_in_progress: bool = False
    customer_recent_refunds: int = 0
    spent_today: Decimal = ZERO
    failed_lookups: int = 0
    injection_signals: tuple[str, ...] = ()

    @property
    def unrefunded(self) -> Decimal:
        """What is left to refund on the order (never negative)."""
        return max(self.order_amount - self.refunded_amount, ZERO)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundRequest:
    """What the customer asked for. ``amount=None`` means the full unrefunded amount."""

    amount: Decimal | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The gate's answer."""

    action: Action
    amount: Decimal
    reasons: tuple[str, ...]
    policy_version: str = POLICY_VERSION
    details: dict[str, str] = field(default_factory=dict)


def _text(amount: Decimal) -> str:
    """An amount for people (``"100.00"``); invalid ones as they came."""
    return format_usdc(amount) if is_usdc(amount) else str(amount)


def is_usdc(value: Decimal) -> bool:
    """True for a finite amount with at most USDC's six decimal places (exactly)."""
    if not value.is_finite():
        return False
    _, digits, exponent = value.as_tuple()
    extra = -int(exponent) - USDC_PLACES
    return extra <= 0 or not any(digits[-extra:])


def decide(facts: Facts, request: RefundRequest, limits: Limits) -> Decision:
    """Decide a refund request. Pure: the same inputs always give the same decision."""
    reasons: list[Reason] = []
    details: dict[str, str] = {}

    if not facts.order_found or not facts.owned_by_customer:
        return Decision(action="deny", amount=ZERO, reasons=(Reason.ORDER_NOT_FOUND.value,))

    unrefunded = facts.unrefunded
    amount = unrefunded if request.amount is None else request.amount
    details["requested"] = "full" if request.amount is None else _text(request.amount)
    details["unrefunded"] = _text(unrefunded)

    if unrefunded <= 0:
        reasons.append(Reason.ALREADY_REFUNDED)
    if request.amount is not None and not is_usdc(request.amount):
        # NaN cannot even be compared; a sub-micro amount cannot be paid.
        reasons.append(Reason.INVALID_AMOUNT)
        amount = ZERO
    elif request.amount is not None and request.amount < max(limits.min_refund, Decimal(0)):
        reasons.append(Reason.INVALID_AMOUNT)  # zero, negative, or dust (< one cent)
    elif request.amount is not None and request.amount <= 0:
        reasons.append(Reason.INVALID_AMOUNT)
    if facts.refund_in_progress:
        reasons.append(Reason.REFUND_IN_PROGRESS)

    if facts.order_created_at is not None:
        details["age_days"] = str(order_age_days(facts.order_created_at, facts.now))
    if not within_window(facts.order_created_at, facts.now, limits.window_days):
        reasons.append(Reason.OUTSIDE_WINDOW)
    if amount > unrefunded:
        reasons.append(Reason.EXCEEDS_ORDER)
    if amount > limits.per_tx_cap:
        reasons.append(Reason.OVER_PER_TX_CAP)
    remaining_budget = max(limits.daily_cap - facts.spent_today, ZERO)
    details["remaining_daily_budget"] = _text(remaining_budget)
    if amount > remaining_budget:
        reasons.append(Reason.OVER_DAILY_BUDGET)
    if limits.velocity_max is not None and facts.customer_recent_refunds >= limits.velocity_max:
        reasons.append(Reason.VELOCITY)
    if facts.failed_lookups >= limits.max_failed_lookups:
        reasons.append(Reason.REPEATED_FAILED_LOOKUPS)
    if facts.injection_signals:
        reasons.append(Reason.INJECTION_SUSPECTED)

    codes = tuple(r.value for r in reasons)
    if any(r in DENY_REASONS for r in reasons):
        return Decision(action="deny", amount=ZERO, reasons=codes, details=details)
    if reasons:
        return Decision(action="escalate", amount=ZERO, reasons=codes, details=details)
    return Decision(
        action="refund", amount=amount, reasons=(Reason.WITHIN_POLICY.value,), details=details
    )

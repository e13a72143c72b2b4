"""The refund policy's limits and reason codes: one definition for every layer.

The policy gate (:mod:`graph.policy`) decides with these limits; the exactly-once refund
path (:mod:`tools.refunds`) re-checks the same limits, with the same reason codes and the
same age rule, inside the locked transaction that records a refund intent. Nothing else
defines a cap, a window or a reason code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings


class Reason(StrEnum):
    """Why a refund was approved, refused or sent to a person."""

    ORDER_NOT_FOUND = "order_not_found"
    ALREADY_REFUNDED = "already_refunded"
    INVALID_AMOUNT = "invalid_amount"
    REFUND_IN_PROGRESS = "refund_in_progress"
    OUTSIDE_WINDOW = "outside_window"
    EXCEEDS_ORDER = "exceeds_order"
    OVER_PER_TX_CAP = "over_per_tx_cap"
    OVER_DAILY_BUDGET = "over_daily_budget"
    VELOCITY = "velocity"
    REPEATED_FAILED_LOOKUPS = "repeated_failed_lookups"
    INJECTION_SUSPECTED = "injection_suspected"
    WITHIN_POLICY = "within_policy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Thresholds of the refund policy (from settings).

    ``velocity_max=None`` switches the per-customer velocity rule off (tests of the
    money path that are about something else use it).
    """

    per_tx_cap: Decimal
    """Most USDC one automatic refund may move."""
    daily_cap: Decimal
    """Most USDC all automatic refunds of one business day may move together."""
    window_days: int
    """Whole days after the order during which it is refundable."""
    velocity_max: int | None = None
    """Refunds per customer within ``velocity_days`` before a person must look."""
    velocity_days: int = 30
    """The velocity rule's window in days."""
    max_failed_lookups: int = 3
    """Failed order lookups in a conversation before it goes to a person."""
    business_timezone: str = "UTC"
    """IANA zone whose midnight (by the database's clock) starts the daily budget's day."""
    min_refund: Decimal = Decimal("0.01")
    """Smallest automatic refund: dust refunds would only use up the velocity allowance."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits configured in ``settings``."""
        return cls(
            per_tx_cap=settings.refund_per_tx_cap,
            daily_cap=settings.refund_daily_cap,
            window_days=settings.refund_window_days,
            velocity_max=settings.refund_velocity_max,
            velocity_days=settings.refund_velocity_days,
            max_failed_lookups=settings.max_failed_lookups,
            business_timezone=settings.refund_business_timezone,
        )


def order_age_days(created_at: dt.datetime, now: dt.datetime) -> int:
    """Whole days since the order (the guide's ``floor((now - created) / 1 day)``)."""
    return (now - created_at) // dt.timedelta(days=1)


def within_window(created_at: dt.datetime | None, now: dt.datetime, window_days: int) -> bool:
    """The one age rule: an order is refundable from its creation to ``window_days`` later.

    An order without a creation time, or dated in the future (a clock or data error),
    is not refundable automatically.
    """
    if created_at is None:
        return False
    age = order_age_days(created_at, now)
    return 0 <= age <= window_days

"""One clock for money: the budget's day and refund timestamps both come from the database.

With the application's clock ahead of the database's, refunds stamped by the database in
those seconds after midnight fell in neither day (500 USDC paid against a cap of 100).
Here the application's clock is skewed by a whole day either way, which makes the old
behaviour fail every time rather than only around midnight.
"""

from __future__ import annotations

import datetime as dt
import types
from decimal import Decimal

import pytest

from graph.services import Services
from persistence import repo
from persistence.db import Conn
from tools.orders import gather_facts
from tools.refunds import RefundRefused

ALICE = "alice@example.com"
ORDER = "ORD-1001"  # alice's, 45.00 USDC, 3 days old (demo seed)


def skew_app_clock(monkeypatch: pytest.MonkeyPatch, offset: dt.timedelta) -> None:
    """Every Python clock the money path could read runs ``offset`` away from real time."""

    class SkewedDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> SkewedDatetime:
            real = dt.datetime.now(tz) + offset
            return cls.fromtimestamp(real.timestamp(), tz)

    fake = types.SimpleNamespace(**{**vars(dt), "datetime": SkewedDatetime})
    import tools.orders
    import tools.refunds

    for module in (tools.refunds, tools.orders, repo):
        if hasattr(module, "dt"):  # a module that reads no Python clock has nothing to skew
            monkeypatch.setattr(module, "dt", fake)


async def _spent_elsewhere(conn: Conn, amount: str, when: str) -> None:
    """A confirmed refund of another customer's order, stamped ``when`` (SQL, DB clock)."""
    cur = await conn.execute(
        "SELECT * FROM orders WHERE customer_email <> %s ORDER BY id LIMIT 1", (ALICE,)
    )
    other = await cur.fetchone()
    assert other is not None
    await conn.execute(
        "INSERT INTO refunds (order_id, attempt, request_key, idempotency_key, customer_email,"
        " payment_id, amount_usdc, status, approved_by, created_at)"
        f" VALUES (%s, 99, 'spent', 'spent', %s, %s, %s, 'confirmed', 'test', {when})",
        (other["id"], other["customer_email"], other["payment_id"], Decimal(amount)),
    )


async def _ask(services: Services, amount: str) -> str:
    try:
        outcome = await services.refunds.refund(
            request_key="t1:1:" + ORDER,
            order_id=ORDER,
            customer_email=ALICE,
            amount=Decimal(amount),
            reason="damaged",
            approved_by="policy_gate",
            policy_version="test",
            thread_id="t1",
        )
    except RefundRefused as refused:
        return str(refused.code)
    return outcome.status


async def _facts_spent(services: Services) -> Decimal:
    async with services.storage.pool.connection() as conn:
        facts = await gather_facts(conn, order_id=ORDER, customer_email=ALICE, velocity_days=30)
    return facts.spent_today


async def test_an_app_clock_ahead_does_not_forget_todays_spend(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with services.storage.pool.connection() as conn:
        await conn.execute("DELETE FROM refunds")
        await _spent_elsewhere(conn, "90", "now()")
    skew_app_clock(monkeypatch, dt.timedelta(days=1))
    assert await _facts_spent(services) == Decimal("90")
    assert await _ask(services, "20") == "over_daily_budget"


async def test_an_app_clock_behind_does_not_count_yesterdays_spend(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with services.storage.pool.connection() as conn:
        await conn.execute("DELETE FROM refunds")
        await _spent_elsewhere(conn, "90", "now() - interval '1 day'")
    skew_app_clock(monkeypatch, -dt.timedelta(days=1))
    assert await _facts_spent(services) == Decimal("0")
    assert await _ask(services, "20") == "confirmed"
    async with services.storage.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT created_at >= date_trunc('day', now(), 'UTC') AS today FROM refunds"
            " WHERE request_key = %s",
            ("t1:1:" + ORDER,),
        )
        assert await cur.fetchone() == {"today": True}  # stamped by the database's clock


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [("UTC", "7"), ("America/New_York", "0"), ("Asia/Tokyo", "12")],
)
async def test_the_business_day_is_a_calendar_day_in_the_configured_zone(
    services: Services, timezone: str, expected: str
) -> None:
    """Refunds at 23:30 and 00:30 UTC; the day is asked at noon UTC (21:00 in Tokyo)."""
    async with services.storage.pool.connection() as conn:
        await conn.execute("DELETE FROM refunds")
        await _spent_elsewhere(conn, "5", "'2026-03-10T23:30:00Z'")
        await conn.execute(
            "UPDATE refunds SET request_key = 'a', idempotency_key = 'a', attempt = 98"
        )
        await _spent_elsewhere(conn, "7", "'2026-03-11T00:30:00Z'")
        at = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.UTC)
        assert await repo.spent_in_business_day(conn, timezone, at) == Decimal(expected)


def test_the_business_timezone_setting_is_validated() -> None:
    from pydantic import ValidationError

    from core.settings import Settings

    assert Settings(_env_file=None).refund_business_timezone == "UTC"  # type: ignore[call-arg]
    zone = Settings(_env_file=None, refund_business_timezone="Europe/Paris")  # type: ignore[call-arg]
    assert zone.refund_business_timezone == "Europe/Paris"
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        Settings(_env_file=None, refund_business_timezone="Mars/Olympus")  # type: ignore[call-arg]

"""A refund row is only ever in a state the code writes; migration 10 dropped ``submitted``."""

from __future__ import annotations

from typing import get_args

import psycopg
import pytest

from persistence import migrations
from persistence.db import Conn, connect
from persistence.migrations import MIGRATIONS, migrate
from persistence.models import OPEN_REFUND_STATUSES, RefundStatus

ORDER = "ORD-9001"


async def _order(conn: Conn) -> None:
    await conn.execute("INSERT INTO customers (email) VALUES ('erin@example.com')")
    await conn.execute(
        "INSERT INTO orders (id, customer_email, payment_id, payer_address, amount_usdc,"
        " created_at) VALUES (%s, 'erin@example.com', 'pay-1', '0xabc', 40, now())",
        (ORDER,),
    )


async def _refund(conn: Conn, attempt: int, status: str) -> None:
    await conn.execute(
        "INSERT INTO refunds (order_id, attempt, request_key, idempotency_key,"
        " customer_email, payment_id, amount_usdc, status, approved_by)"
        " VALUES (%s, %s, %s, %s, 'erin@example.com', 'pay-1', 10, %s, 'policy_gate')",
        (ORDER, attempt, f"rk-{attempt}", f"ik-{attempt}", status),
    )


async def test_the_migration_turns_a_submitted_refund_into_an_unknown_one(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:9])
    async with await connect(empty_db_url) as conn:
        await migrate(conn)
        await _order(conn)
        await _refund(conn, 1, "confirmed")
        await _refund(conn, 2, "submitted")  # what older code could have left
        monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
        assert await migrate(conn) == list(range(10, len(MIGRATIONS) + 1))
        cur = await conn.execute("SELECT attempt, status FROM refunds ORDER BY attempt")
        rows = await cur.fetchall()
    # Nobody knows whether it paid: the reconciler settles 'unknown' refunds.
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "confirmed"), (2, "unknown")]


async def test_the_database_accepts_exactly_the_states_the_code_names(db_url: str) -> None:
    async with await connect(db_url) as conn:
        await _order(conn)
        for attempt, status in enumerate(get_args(RefundStatus), start=1):
            async with conn.transaction(force_rollback=True):
                await _refund(conn, attempt, status)
        with pytest.raises(psycopg.errors.CheckViolation):
            await _refund(conn, 99, "submitted")


async def test_one_open_refund_per_order_covers_every_open_state(db_url: str) -> None:
    assert set(OPEN_REFUND_STATUSES) == {"intent", "unknown"}
    async with await connect(db_url) as conn:
        await _order(conn)
        await _refund(conn, 1, "failed")
        await _refund(conn, 2, "confirmed")
        await _refund(conn, 3, "intent")
        with pytest.raises(psycopg.errors.UniqueViolation):
            await _refund(conn, 4, "unknown")

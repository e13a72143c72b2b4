"""One open review ticket per order: concurrent or repeated escalations attach to it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.settings import Settings
from persistence import migrations, repo
from persistence.audit import AuditLog, verify_chain
from persistence.db import Pool, connect, open_pool
from persistence.migrations import MIGRATIONS, migrate
from tools.escalation import open_ticket

# Races many connections on one database: one worker runs these one at a time.
pytestmark = pytest.mark.xdist_group("many_connections")


ORDER = "ORD-4001"


async def _escalate(audit: AuditLog, n: int, order_id: str | None = ORDER) -> Any:
    return await open_ticket(
        audit,
        request_key=f"thread-{n}:1:escalate",
        customer_email="dave@example.com",
        order_id=order_id,
        reason="already_refunded",
        thread_id=f"thread-{n}",
        context={"decision": {"action": "escalate"}, "n": n},
    )


async def _events(pool: Pool, event_type: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT * FROM audit_log WHERE event_type = %s ORDER BY seq NULLS LAST, pending_id",
            (event_type,),
        )
        return await cur.fetchall()


async def test_concurrent_escalations_of_one_order_share_one_ticket(db_url: str) -> None:
    """16 requests at once, through 4 pools as if from 4 processes: one open ticket."""
    settings = Settings(_env_file=None, db_pool_min_size=1, db_pool_max_size=4)  # type: ignore[call-arg]
    pools = [await open_pool(db_url, settings) for _ in range(4)]
    try:
        tickets = await asyncio.gather(*(_escalate(AuditLog(pools[n % 4]), n) for n in range(16)))
        assert len({t.id for t in tickets}) == 1
        async with pools[0].connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM review_tickets WHERE order_id = %s", (ORDER,)
            )
            assert await cur.fetchone() == {"n": 1}
            ticket = await repo.get_ticket(conn, tickets[0].id)
            assert (await verify_chain(conn)).ok
        assert ticket is not None and len(ticket.context["attached"]) == 15
        assert len(await _events(pools[0], "escalation")) == 1
        attached = await _events(pools[0], "escalation_attached")
        assert len(attached) == 15
        assert {e["payload"]["ticket"] for e in attached} == {ticket.reference}
    finally:
        for pool in pools:
            await pool.close()


async def test_a_repeated_attachment_is_noted_once(pool: Pool) -> None:
    audit = AuditLog(pool)
    first = await _escalate(audit, 1)
    for _ in range(3):
        again = await _escalate(audit, 2)
        assert again.id == first.id
    assert (await _escalate(audit, 1)).id == first.id  # the ticket's own request: a replay
    assert len(await _events(pool, "escalation_attached")) == 1


async def test_after_resolution_a_new_ticket_opens(pool: Pool) -> None:
    audit = AuditLog(pool)
    first = await _escalate(audit, 1)
    async with pool.connection() as conn:
        await repo.resolve_ticket(conn, first.id, status="denied", resolved_by="dana", note="no")
    second = await _escalate(audit, 2)
    assert second.id != first.id and second.status == "open"


async def test_escalations_without_an_order_each_get_a_ticket(pool: Pool) -> None:
    audit = AuditLog(pool)
    tickets = await asyncio.gather(*(_escalate(audit, n, order_id=None) for n in range(3)))
    assert len({t.id for t in tickets}) == 3


async def test_the_migration_closes_duplicates_opened_before_it(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:5])
    async with await connect(empty_db_url) as conn:
        await migrate(conn)
        for n in range(3):
            await conn.execute(
                "INSERT INTO review_tickets (request_key, order_id, reason)"
                " VALUES (%s, 'ORD-1', 'x')",
                (f"k{n}",),
            )
        monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
        assert await migrate(conn) == list(range(6, len(MIGRATIONS) + 1))
        cur = await conn.execute(
            "SELECT id, status, resolution_note FROM review_tickets ORDER BY id"
        )
        rows = await cur.fetchall()
    assert [r["status"] for r in rows] == ["open", "closed", "closed"]
    assert (
        rows[1]["resolution_note"]
        == f"duplicate of RT-{rows[0]['id']:06d}, the order's open ticket"
    )

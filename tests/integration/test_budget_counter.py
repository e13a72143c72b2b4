"""The daily budget is one counter row a day, reserved by a guarded UPDATE (no global lock).

Reservations race from many connections and never pass the cap; a refund that fails
gives its reservation back; the reconciler's settlement keeps the counter equal to the
day's counted refunds; the review desk reads the same counter.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence import repo
from persistence.db import open_pool
from tests.helpers.refunds import CAPS, ask, closed_port_url, refund_service
from tools.review import spent_today

TZ = "UTC"


async def counter(services: Services) -> Decimal:
    async with services.storage.pool.connection() as conn:
        return await spent_today(conn, CAPS)


async def counted_refunds_today(services: Services) -> Decimal:
    async with services.storage.pool.connection() as conn:
        return await repo.spent_in_business_day(conn, CAPS.business_timezone)


async def test_racing_reservations_from_many_connections_never_pass_the_cap(
    db_url: str,
) -> None:
    """Thirty reservations of 10 on ten connections, cap 100: exactly ten get through."""
    pool = await open_pool(db_url)  # ten connections
    cap = Decimal("100")

    async def reserve() -> bool:
        async with pool.connection() as conn, conn.transaction():
            try:
                await repo.reserve_budget(conn, TZ, uuid.uuid4(), Decimal("10"), cap)
            except repo.OverBudget:
                return False
            await asyncio.sleep(0)  # hold the row a moment, as a refund's commit would
            return True

    try:
        async with asyncio.timeout(60):
            results = await asyncio.gather(*(reserve() for _ in range(30)))
        assert results.count(True) == 10
        async with pool.connection() as conn:
            assert await repo.budget_spent_today(conn, TZ) == cap
            # A person's approval passes the cap knowingly (the review desk asks first).
            async with conn.transaction():
                total = await repo.reserve_budget(conn, TZ, uuid.uuid4(), Decimal("5"), None)
            assert total == Decimal("105")
    finally:
        await pool.close()


async def test_a_rolled_back_reservation_leaves_the_counter(db_url: str) -> None:
    pool = await open_pool(db_url)
    try:
        async with pool.connection() as conn:
            try:
                async with conn.transaction():
                    await repo.reserve_budget(conn, TZ, uuid.uuid4(), Decimal("30"), None)
                    raise RuntimeError("the intent transaction fails after reserving")
            except RuntimeError:
                pass
            assert await repo.budget_spent_today(conn, TZ) == 0
    finally:
        await pool.close()


async def test_a_failed_refund_gives_its_reservation_back(
    services: Services, sandbox: SandboxServer
) -> None:
    async with refund_service(
        services.storage, sandbox, services.agent_id, base_url=closed_port_url()
    ) as unreachable:
        outcome = await ask(unreachable, "budget-refused", "20")
    assert outcome.status == "failed"
    assert await counter(services) == 0
    paid = await ask(services.refunds, "budget-paid", "20")
    assert paid.status == "confirmed"
    assert await counter(services) == Decimal("20") == await counted_refunds_today(services)


async def test_the_reconcilers_settlement_keeps_the_counter_right(
    services: Services, sandbox: SandboxServer
) -> None:
    """An unknown outcome stays counted; the reconciler's settlement keeps it right."""
    sandbox.set_faults(drop_next=1)
    async with refund_service(
        services.storage, sandbox, services.agent_id, max_retries=0
    ) as refunds:
        unknown = await ask(refunds, "budget-unknown", "20")
        assert unknown.status == "unknown"
        assert await counter(services) == Decimal("20")
        [settled] = await refunds.reconcile_all()
    assert settled.status == "confirmed"
    assert await counter(services) == Decimal("20") == await counted_refunds_today(services)

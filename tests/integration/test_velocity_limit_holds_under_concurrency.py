"""The velocity limit holds when one customer's requests race (two chats at once)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from core.limits import Limits
from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence.audit import AuditLog
from persistence.db import open_pool
from persistence.runtime import Storage
from tests.helpers.refunds import ORDER, ask, refund_service
from tools.refunds import RefundRefused


async def test_two_chats_of_one_customer_cannot_both_slip_under_it(
    services: Services, sandbox: SandboxServer, db_url: str
) -> None:
    """Two chats of one customer at once cannot both slip under the velocity limit."""
    caps = Limits(
        per_tx_cap=Decimal("50"),
        daily_cap=Decimal("1000"),
        window_days=30,
        velocity_max=1,
        velocity_days=30,
    )

    async def one(order_id: str, amount: str) -> object:
        pool = await open_pool(db_url)
        try:
            storage = Storage(url=db_url, pool=pool, audit=AuditLog(pool))
            async with refund_service(storage, sandbox, services.agent_id, caps=caps) as svc:
                return await ask(svc, f"velocity-{order_id}", amount, order_id=order_id)
        except RefundRefused as refused:
            return refused
        finally:
            await pool.close()

    async with asyncio.timeout(60):
        results = await asyncio.gather(one(ORDER, "10"), one("ORD-1002", "12.50"))
    paid = [r for r in results if not isinstance(r, RefundRefused)]
    refused = [r for r in results if isinstance(r, RefundRefused)]
    assert len(paid) == 1 and len(refused) == 1
    assert refused[0].code == "velocity"
    assert len(sandbox.ledger()) == 1

"""Defects found in review of the refund path, each pinned by a test that failed before its fix."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from core.limits import Limits
from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence import repo
from persistence.audit import AuditLog
from persistence.db import open_pool
from persistence.runtime import Storage
from tests.integration.test_exactly_once import (
    CAPS,
    ORDER,
    ask,
    assert_books_balance,
    closed_port_url,
    ledger_for_key,
    order_row,
    refund_service,
)
from tools.moltpe import MoltPeClient
from tools.refunds import RefundRefused, RefundService, idempotency_key_for


async def test_a_receipt_upgrades_a_refund_recorded_as_failed(
    services: Services, sandbox: SandboxServer
) -> None:
    """A's only attempt never reached MoltPe while B (a reconciler) paid with the same key."""
    pool = services.storage.pool
    async with refund_service(
        services.storage, sandbox, services.agent_id, base_url=closed_port_url(), max_retries=0
    ) as unreachable:
        failed = await ask(unreachable, "race-key", "20")
    assert failed.status == "failed" and failed.refund.error_code == "Unavailable"
    # Meanwhile the same key had reached MoltPe through another sender.
    receipt = await services.moltpe.refund(
        agent_id=services.agent_id,
        payment_id=failed.refund.payment_id,
        amount=failed.refund.amount_usdc,
        reason=failed.refund.reason,
        idempotency_key=idempotency_key_for("race-key"),
    )
    outcome = await services.refunds._record_result(  # the reconciler's answer arrives
        failed.refund, receipt, None, first_attempt=False
    )
    assert outcome.status == "confirmed" and outcome.refund.tx_hash == receipt.tx_hash
    assert (await order_row(pool)).refunded_usdc == Decimal("20")
    await assert_books_balance(pool, sandbox)


async def test_a_wrong_key_on_reconcile_leaves_the_refund_unknown(
    services: Services, sandbox: SandboxServer
) -> None:
    """A 401 says nothing about whether the first attempt paid: never 'failed'."""
    pool = services.storage.pool
    sandbox.set_faults(drop_next=1, drop_mode="abort")
    async with refund_service(
        services.storage, sandbox, services.agent_id, max_retries=0
    ) as refunds:
        unknown = await ask(refunds, "rotated", "20")
    assert unknown.status == "unknown"
    async with MoltPeClient(sandbox.url, "sk_wrong_key", max_retries=0) as wrong:
        rotated = RefundService(
            audit=services.storage.audit, moltpe=wrong, agent_id=services.agent_id, limits=CAPS
        )
        again = await rotated.reconcile(unknown.refund)
    assert again.status == "unknown" and again.refund.error_code == "UNAUTHORIZED"
    # A new request on the order must not pay around it while its fate is open...
    async with refund_service(services.storage, sandbox, services.agent_id) as refunds:
        [settled] = await refunds.reconcile_all()
    assert settled.status == "confirmed"
    assert len(ledger_for_key(sandbox, "rotated")) == 1
    await assert_books_balance(pool, sandbox)


async def test_velocity_holds_under_concurrent_requests(
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


async def test_unavailable_on_the_first_attempt_is_failed_and_safe_to_retry(
    services: Services, sandbox: SandboxServer
) -> None:
    """The counterpart: nothing reached MoltPe, so a later request on the order may pay."""
    async with refund_service(
        services.storage, sandbox, services.agent_id, base_url=closed_port_url(), max_retries=0
    ) as unreachable:
        failed = await ask(unreachable, "down-then-up", "20")
    assert failed.status == "failed"
    async with refund_service(services.storage, sandbox, services.agent_id) as refunds:
        paid = await ask(refunds, "down-then-up-2", "20")
    assert paid.status == "confirmed"
    async with services.storage.pool.connection() as conn:
        assert len([r for r in await repo.list_refunds(conn) if r.order_id == ORDER]) == 2

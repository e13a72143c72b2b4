"""A refund's recorded outcome follows what MoltPe's answers prove, never a guess.

A receipt for the request's idempotency key makes it ``confirmed`` even after it was
recorded as ``failed``; an answer that proves nothing (a 401 on reconcile) leaves it
``unknown``; only "never reached MoltPe" makes it ``failed``, and then a new request on
the order may pay.
"""

from __future__ import annotations

from decimal import Decimal

from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence import repo
from tests.helpers.refunds import (
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
from tools.refunds import RefundService, idempotency_key_for


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

"""Refund requests straight to the RefundService, and checks that both books agree.

"Both books" are the database (refund rows, the order's refunded amount, the audit
chain) and the MoltPe sandbox's ledger: :func:`assert_paid_once` and
:func:`assert_books_balance` hold them against each other.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from core.limits import Limits
from moltpe_sandbox import SandboxServer
from persistence import repo
from persistence.audit import verify_chain
from persistence.db import Pool
from persistence.models import Order, Refund
from persistence.runtime import Storage
from tools.moltpe import MoltPeClient
from tools.refunds import RefundOutcome, RefundService, idempotency_key_for

ALICE = "alice@example.com"
ORDER = "ORD-1001"  # alice's, 45.00 USDC, 3 days old (demo seed)
CAPS = Limits(per_tx_cap=Decimal("50"), daily_cap=Decimal("100"), window_days=30)
FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05, "retry_after_cap": 0.05}
REFUND_PATH = "/v1/payments/refund"


async def ask(
    refunds: RefundService,
    request_key: str,
    amount: str,
    *,
    order_id: str = ORDER,
    email: str = ALICE,
) -> RefundOutcome:
    """One refund request, as the graph's refund node makes it."""
    return await refunds.refund(
        request_key=request_key,
        order_id=order_id,
        customer_email=email,
        amount=Decimal(amount),
        reason="quality_issue",
        approved_by="policy_gate",
        policy_version="test",
        thread_id=f"thread-{request_key}",
    )


@asynccontextmanager
async def refund_service(
    storage: Storage,
    sandbox: SandboxServer,
    agent_id: str,
    *,
    base_url: str | None = None,
    caps: Limits = CAPS,
    **client_options: Any,
) -> AsyncIterator[RefundService]:
    """A RefundService on ``storage`` whose MoltPe client is configured as asked."""
    options = {**FAST, **client_options}
    async with MoltPeClient(base_url or sandbox.url, sandbox.api_key, **options) as moltpe:
        yield RefundService(audit=storage.audit, moltpe=moltpe, agent_id=agent_id, limits=caps)


async def refund_row(pool: Pool, request_key: str) -> Refund:
    async with pool.connection() as conn:
        row = await repo.refund_by_request(conn, request_key)
    assert row is not None, f"no refund recorded for {request_key}"
    return row


async def order_row(pool: Pool, order_id: str = ORDER) -> Order:
    async with pool.connection() as conn:
        order = await repo.get_order(conn, order_id)
    assert order is not None
    return order


async def order_refunds(pool: Pool, order_id: str = ORDER) -> list[Refund]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT * FROM refunds WHERE order_id = %s ORDER BY attempt", (order_id,)
        )
        return [Refund.model_validate(r) for r in await cur.fetchall()]


async def audit_events(pool: Pool, event_type: str, refund_id: object) -> list[dict[str, Any]]:
    """The audit events of one type about one refund."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT * FROM audit_log WHERE event_type = %s AND payload->>'refund_id' = %s "
            "ORDER BY seq NULLS LAST, pending_id",
            (event_type, str(refund_id)),
        )
        return await cur.fetchall()


def ledger_for_key(sandbox: SandboxServer, request_key: str) -> list[dict[str, Any]]:
    key = idempotency_key_for(request_key)
    return [e for e in sandbox.ledger() if e["idempotency_key"] == key]


def refund_calls(sandbox: SandboxServer, request_key: str | None = None) -> int:
    """How many refund requests reached the sandbox (for one request, if given)."""
    key = idempotency_key_for(request_key) if request_key else None
    return sum(
        1
        for r in sandbox.requests()
        if r["path"] == REFUND_PATH and (key is None or r["idempotency_key"] == key)
    )


async def assert_books_balance(pool: Pool, sandbox: SandboxServer, order_id: str = ORDER) -> Order:
    """The order's refunded amount == its confirmed rows == the ledger, within the order."""
    order = await order_row(pool, order_id)
    confirmed = [r for r in await order_refunds(pool, order_id) if r.status == "confirmed"]
    paid = [e for e in sandbox.ledger() if e["payment_id"] == order.payment_id]
    assert sum((r.amount_usdc for r in confirmed), Decimal(0)) == order.refunded_usdc
    assert sum((Decimal(e["amount"]) for e in paid), Decimal(0)) == order.refunded_usdc
    assert sorted(e["tx_hash"] for e in paid) == sorted(str(r.tx_hash) for r in confirmed)
    assert order.refunded_usdc <= order.amount_usdc
    async with pool.connection() as conn:
        verified = await verify_chain(conn)
    assert verified.ok, verified.problem
    return order


async def assert_paid_once(pool: Pool, sandbox: SandboxServer, request_key: str) -> Refund:
    """The request moved money exactly once and both books (and the audit log) say so."""
    row = await refund_row(pool, request_key)
    assert row.status == "confirmed"
    [entry] = ledger_for_key(sandbox, request_key)
    assert (entry["refund_id"], entry["tx_hash"]) == (row.moltpe_refund_id, row.tx_hash)
    assert Decimal(entry["amount"]) == row.amount_usdc
    assert len(await audit_events(pool, "refund_confirmed", row.id)) == 1
    await assert_books_balance(pool, sandbox, row.order_id)
    return row


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

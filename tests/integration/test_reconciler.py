"""The deployment's reconciler: one leader elected in the database settles unknown refunds."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence import repo
from tests.e2e.server_fixtures import LiveServer
from tests.helpers.waiting import wait_until
from tools.moltpe import MoltPeClient
from tools.refunds import RefundService
from wiring.reconciler import reconcile_forever, reconcile_stale

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "retry_after_cap": 0.05, "max_retries": 0}


async def unknown_refund(services: Services, sandbox: SandboxServer) -> str:
    """A refund whose answer was lost: MoltPe paid, the agent does not know."""
    sandbox.set_faults(drop_next=1)
    async with MoltPeClient(sandbox.url, sandbox.api_key, **FAST) as moltpe:  # type: ignore[arg-type]
        refunds = RefundService(
            audit=services.storage.audit,
            moltpe=moltpe,
            agent_id=services.agent_id,
            limits=services.limits,
        )
        outcome = await refunds.refund(
            request_key="reconciler-test",
            order_id="ORD-1001",
            customer_email="alice@example.com",
            amount=Decimal("20"),
            reason="quality_issue",
            approved_by="policy_gate",
            policy_version="test",
            thread_id="thread-reconciler",
        )
    assert outcome.refund.status == "unknown"
    return str(outcome.refund.id)


async def test_only_stale_refunds_are_reconciled(
    services: Services, sandbox: SandboxServer
) -> None:
    refund_id = await unknown_refund(services, sandbox)
    assert await reconcile_stale(services, older_than=3600) == []  # a sender may still be busy
    [settled] = await reconcile_stale(services, older_than=0)
    assert str(settled.refund.id) == refund_id and settled.refund.status == "confirmed"
    assert len(sandbox.ledger(agent_id=services.agent_id)) == 1  # paid once


async def test_one_leader_settles_refunds_and_the_other_stands_by(
    services: Services, sandbox: SandboxServer
) -> None:
    leader_lines: list[str] = []
    standby_lines: list[str] = []
    # The unknown refund exists before any reconciler runs: with older_than=0 a running
    # leader could otherwise pick up the refund while its first send is still in flight.
    refund_id = await unknown_refund(services, sandbox)
    leader = asyncio.create_task(
        reconcile_forever(services, interval=0.05, older_than=0, report=leader_lines.append)
    )
    standby: asyncio.Task[None] | None = None
    try:

        async def leads() -> bool:
            return any(line.startswith("leading") for line in leader_lines)

        await wait_until(leads, what="leads")

        # The leader reports a refund after recording it: wait for the report, then read.
        await wait_until(
            lambda: f"{refund_id} (ORD-1001): confirmed" in leader_lines,
            what="the leader to report the refund confirmed",
        )
        async with services.storage.pool.connection() as conn:
            refund = await repo.get_refund(conn, uuid.UUID(refund_id))
        assert refund is not None and refund.status == "confirmed"

        standby = asyncio.create_task(
            reconcile_forever(services, interval=0.05, older_than=0, report=standby_lines.append)
        )

        async def stands_by() -> bool:
            return standby_lines == ["standing by: another reconciler leads"]

        await wait_until(stands_by, what="stands_by")

        # The leader goes; the one standing by takes over.
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader

        async def takes_over() -> bool:
            return any(line.startswith("leading") for line in standby_lines)

        await wait_until(takes_over, what="takes_over")
    finally:
        for task in (leader, standby):
            if task is not None and not task.done():
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
    assert len(sandbox.ledger(agent_id=services.agent_id)) == 1


async def test_every_serving_process_runs_the_elected_reconciler(
    services: Services, sandbox: SandboxServer
) -> None:
    """serve's own loop (no separate command) settles an unknown refund within seconds."""
    from server.app import keep_reconciling

    fast = services.settings.model_copy(
        update={"reconcile_interval_seconds": 0.05, "reconcile_after_seconds": 0.01}
    )
    refund_id = await unknown_refund(services, sandbox)
    loop = asyncio.create_task(keep_reconciling(services, fast))
    try:

        async def settled() -> bool:
            async with services.storage.pool.connection() as conn:
                refund = await repo.get_refund(conn, uuid.UUID(refund_id))
            return refund is not None and refund.status == "confirmed"

        await wait_until(settled, what="settled")
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert len(sandbox.ledger(agent_id=services.agent_id)) == 1  # paid once


async def test_metrics_show_unsettled_refunds(live_server: LiveServer) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        body = (await http.get("/metrics")).text
    assert "refund_agent_refunds_unsettled 0.0" in body
    assert "refund_agent_oldest_unsettled_refund_seconds 0.0" in body
    assert "refund_agent_audit_events_pending " in body
    assert "refund_agent_oldest_audit_event_pending_seconds " in body


async def test_a_refund_stuck_past_the_alert_age_raises_an_alert_line(
    services: Services, sandbox: SandboxServer
) -> None:
    from wiring.reconciler import stuck_alert

    assert await stuck_alert(services, 0) is None  # nothing unsettled, nothing to say
    await unknown_refund(services, sandbox)
    assert await stuck_alert(services, 3600) is None  # not old enough yet
    alert = await stuck_alert(services, 0)
    assert alert is not None and alert.startswith("ALERT: 1 refund(s) unsettled")


async def test_start_up_leaves_a_refund_another_process_may_still_be_sending(
    services: Services, sandbox: SandboxServer
) -> None:
    """A process starting beside a running turn does not re-send that turn's fresh refund.

    Re-sending it could let the turn, failing to reach MoltPe, record a failure while the
    re-send pays, and the order would look free for a second refund.
    """
    from wiring.services import create_services

    refund_id = await unknown_refund(services, sandbox)
    calls = len(sandbox.requests())
    started = await create_services(
        services.settings,
        storage=services.storage,
        sandbox=sandbox,
        agent_id=services.agent_id,
        reconcile=True,
    )
    await started.aclose()
    assert len(sandbox.requests()) == calls  # nothing re-sent: it is not stale yet
    async with services.storage.pool.connection() as conn:
        refund = await repo.get_refund(conn, uuid.UUID(refund_id))
    assert refund is not None and refund.status == "unknown"
    stale = services.settings.model_copy(update={"reconcile_after_seconds": 0.001})
    started = await create_services(
        stale, storage=services.storage, sandbox=sandbox, agent_id=services.agent_id
    )
    await started.aclose()
    async with services.storage.pool.connection() as conn:
        refund = await repo.get_refund(conn, uuid.UUID(refund_id))
    assert refund is not None and refund.status == "confirmed"
    assert len(sandbox.ledger(agent_id=services.agent_id)) == 1  # paid once
